"""The model's exported form: ONNX Runtime with parity to the pipeline, the pipeline as fallback."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from {{ cookiecutter.package_name }}.core.contract import (
    CONTRACT_FILE,
    model_file,
)
from {{ cookiecutter.package_name }}.core.predictor import (
    ONNX_FILE,
    OnnxPredictor,
    Predictor,
    load_predictor,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
    TARGET,
)
from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    configure_tracking,
    download_model,
    load_model,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    read_curated,
)
from {{ cookiecutter.package_name }}.training import (
    export,
)
from {{ cookiecutter.package_name }}.training import (
    train as train_module,
)
from {{ cookiecutter.package_name }}.training.export import (
    PARITY_TOLERANCE,
    export_onnx,
)
from {{ cookiecutter.package_name }}.training.model import (
    build_model,
)
from {{ cookiecutter.package_name }}.training.train import (
    train,
)

from .conftest import CONTRACT, Champion


@pytest.fixture(scope="module")
def curated(champion: Champion) -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_curated(champion.curated_dir)


@pytest.fixture(scope="module")
def model(champion: Champion, curated: tuple[pd.DataFrame, pd.DataFrame]) -> Pipeline:
    """The champion's pipeline, fitted again: for the export tests, which need no MLflow."""
    train_df, _ = curated
    return build_model(champion.settings).fit(train_df[list(FEATURES)], train_df[TARGET])


def with_missing_values(test: pd.DataFrame) -> pd.DataFrame:
    """The test rows, then the same rows with every nullable feature missing, as training data
    carries them (NaN): the imputers' work, whether the test set has missing values or not."""
    blank = test.assign(**{f.name: np.nan for f in CONTRACT.features if f.nullable})
    return pd.concat([test, blank], ignore_index=True).astype(test.dtypes.to_dict())


def assert_predicts_like(predictor: Predictor, native: Pipeline, rows: pd.DataFrame) -> None:
    x = rows[list(FEATURES)]
    labels, proba = predictor.predict(CONTRACT.to_columns(x))
    assert predictor.classes == tuple(native.classes_)
    assert list(labels) == list(native.predict(x))
    assert proba.shape == (len(x), len(native.classes_))
    assert np.abs(proba - native.predict_proba(x)).max() <= PARITY_TOLERANCE


def test_the_export_predicts_like_the_pipeline(
    model: Pipeline, curated: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, test_df = curated
    exported = export_onnx(model, test_df)

    assert exported.onnx is not None, exported.reason
    assert exported.reason is None
    assert exported.max_proba_diff is not None
    assert 0 <= exported.max_proba_diff <= PARITY_TOLERANCE
    exported_predictor = OnnxPredictor(CONTRACT, exported.onnx)
    assert_predicts_like(exported_predictor, model, with_missing_values(test_df))


def test_a_step_that_cannot_convert_gives_no_onnx_and_says_why(
    model: Pipeline, curated: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, test_df = curated
    steps = dict(model.steps)
    unconvertible = Pipeline(
        [
            ("preprocess", steps["preprocess"]),
            ("identity", FunctionTransformer(lambda x: x)),
            ("classifier", steps["classifier"]),
        ]
    )

    exported = export_onnx(unconvertible, test_df)

    assert exported.onnx is None
    assert exported.max_proba_diff is None
    assert exported.reason is not None
    assert "cannot convert" in exported.reason
    assert "FunctionTransformer" in exported.reason


def test_failed_parity_gives_no_onnx_and_the_measured_numbers(
    model: Pipeline, curated: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)  # no export can pass

    exported = export_onnx(model, curated[1])

    assert exported.onnx is None
    assert exported.max_proba_diff is not None
    assert exported.reason is not None
    assert "0 labels differ" in exported.reason
    assert f"max |probability diff| is {exported.max_proba_diff:.3g}" in exported.reason


def test_the_logged_model_serves_with_onnx_like_the_native_pipeline(
    champion: Champion, curated: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    configure_tracking(champion.settings)
    run = MlflowClient().get_run(champion.run_id)
    assert run.data.tags["serving.flavor"] == "onnx"
    assert run.data.metrics["onnx_max_proba_diff"] <= PARITY_TOLERANCE
    assert model_file(champion.folder, ONNX_FILE) is not None
    assert model_file(champion.folder, CONTRACT_FILE) is not None

    predictor = load_predictor(champion.folder)

    assert predictor.flavor == "onnx"
    assert predictor.contract == CONTRACT
    native = load_model(str(champion.folder))
    assert_predicts_like(predictor, native, with_missing_values(curated[1]))
    one_per_core = load_predictor(champion.folder, threads=0)  # the batch scoring setting
    assert_predicts_like(one_per_core, native, with_missing_values(curated[1]))


def test_without_the_onnx_file_the_native_pipeline_serves_with_a_warning(
    champion: Champion,
    curated: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = Path(shutil.copytree(champion.folder, tmp_path / "without-onnx"))
    onnx_file = model_file(folder, ONNX_FILE)
    assert onnx_file is not None
    onnx_file.unlink()

    with caplog.at_level(logging.WARNING):
        predictor = load_predictor(folder)

    assert predictor.flavor == "sklearn"
    assert any(ONNX_FILE in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    native = load_model(str(champion.folder))
    assert_predicts_like(predictor, native, with_missing_values(curated[1]))


def test_a_pipeline_that_cannot_convert_is_logged_for_the_native_path(
    prepared: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unconvertible(settings: Settings) -> Pipeline:
        steps = dict(build_model(settings).steps)
        return Pipeline(
            [
                ("preprocess", steps["preprocess"]),
                ("identity", FunctionTransformer(np.positive)),  # serializable, not convertible
                ("classifier", steps["classifier"]),
            ]
        )

    monkeypatch.setattr(train_module, "build_model", unconvertible)
    with caplog.at_level(logging.WARNING):
        candidate = train(prepared, prepared.curated_dir, tmp_path / "candidate")
    folder = download_model(candidate.model_uri, tmp_path / "served")

    run = MlflowClient().get_run(candidate.run_id)
    assert run.data.tags["serving.flavor"] == "sklearn"
    assert "FunctionTransformer" in run.data.tags["serving.fallback_reason"]
    assert "onnx_max_proba_diff" not in run.data.metrics
    assert any("not exported to ONNX" in r.getMessage() for r in caplog.records)
    assert model_file(folder, ONNX_FILE) is None
    assert model_file(folder, CONTRACT_FILE) is not None

    predictor = load_predictor(folder)

    assert predictor.flavor == "sklearn"
    native = load_model(str(folder))
    _, test_df = read_curated(prepared.curated_dir)
    assert_predicts_like(predictor, native, with_missing_values(test_df))
