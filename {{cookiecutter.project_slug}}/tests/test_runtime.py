"""Serving through ONNX Runtime: parity with the pipeline, and the native pipeline as fallback."""

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from {{ cookiecutter.package_name }}.data.layers import read_curated
from {{ cookiecutter.package_name }}.data.schemas import (
    FEATURES,
    TARGET,
    input_contract,
)
from {{ cookiecutter.package_name }}.serving.contract import (
    CONTRACT_FILE,
    model_file,
)
from {{ cookiecutter.package_name }}.serving.runtime import (
    ONNX_FILE,
    OnnxPredictor,
    Predictor,
    load_predictor,
)
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.training import export
from {{ cookiecutter.package_name }}.training import train as train_module
from {{ cookiecutter.package_name }}.training.export import (
    PARITY_TOLERANCE,
    columns_of,
    export_onnx,
)
from {{ cookiecutter.package_name }}.training.model import build_model
from {{ cookiecutter.package_name }}.training.tracking import load_model
from {{ cookiecutter.package_name }}.training.train import train


@pytest.fixture
def curated(prepared: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_curated(prepared.curated_dir)


@pytest.fixture
def model(prepared: Settings, curated: tuple[pd.DataFrame, pd.DataFrame]) -> Pipeline:
    train_df, _ = curated
    return build_model(prepared).fit(train_df[list(FEATURES)], train_df[TARGET])


@dataclass(frozen=True)
class Logged:
    """A trained model as MLflow logged it, downloaded as the folder a server is given."""

    run_id: str
    folder: Path


def train_and_download(settings: Settings, tmp_path: Path) -> Logged:
    candidate = train(settings, settings.curated_dir, tmp_path / "candidate")
    folder = mlflow.artifacts.download_artifacts(
        candidate.model_uri, dst_path=str(tmp_path / "served")
    )
    return Logged(candidate.run_id, Path(folder))


@pytest.fixture
def logged(prepared: Settings, tmp_path: Path) -> Logged:
    return train_and_download(prepared, tmp_path)


def with_missing_values(test: pd.DataFrame) -> pd.DataFrame:
    """The test rows, then the same rows missing two numbers and a category (the test set
    itself has none), as training data carries them: NaN."""
    blank = test.assign(bill_length_mm=np.nan, body_mass_g=np.nan, sex=np.nan)
    return pd.concat([test, blank], ignore_index=True).astype(test.dtypes.to_dict())


def assert_predicts_like(predictor: Predictor, native: Pipeline, rows: pd.DataFrame) -> None:
    x = rows[list(FEATURES)]
    labels, proba = predictor.predict(columns_of(x))
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
    assert 0 <= exported.max_proba_diff <= PARITY_TOLERANCE
    assert_predicts_like(
        OnnxPredictor(input_contract(), exported.onnx), model, with_missing_values(test_df)
    )


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
    assert "cannot convert" in exported.reason
    assert "FunctionTransformer" in exported.reason


def test_failed_parity_gives_no_onnx_and_the_measured_numbers(
    model: Pipeline, curated: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)  # no export can pass

    exported = export_onnx(model, curated[1])

    assert exported.onnx is None
    assert exported.max_proba_diff is not None
    assert "0 labels differ" in exported.reason
    assert f"max |probability diff| is {exported.max_proba_diff:.3g}" in exported.reason


def test_the_logged_model_serves_with_onnx_like_the_native_pipeline(
    logged: Logged, curated: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    run = MlflowClient().get_run(logged.run_id)
    assert run.data.tags["serving.flavor"] == "onnx"
    assert run.data.metrics["onnx_max_proba_diff"] <= PARITY_TOLERANCE
    assert model_file(logged.folder, ONNX_FILE) is not None
    assert model_file(logged.folder, CONTRACT_FILE) is not None

    predictor = load_predictor(logged.folder)

    assert predictor.flavor == "onnx"
    assert predictor.contract == input_contract()
    native = load_model(str(logged.folder))
    assert_predicts_like(predictor, native, with_missing_values(curated[1]))
    one_per_core = load_predictor(logged.folder, threads=0)  # the batch scoring setting
    assert_predicts_like(one_per_core, native, with_missing_values(curated[1]))


def test_without_the_onnx_file_the_native_pipeline_serves_with_a_warning(
    logged: Logged,
    curated: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = Path(shutil.copytree(logged.folder, tmp_path / "without-onnx"))
    model_file(folder, ONNX_FILE).unlink()

    with caplog.at_level(logging.WARNING):
        predictor = load_predictor(folder)

    assert predictor.flavor == "sklearn"
    assert any(ONNX_FILE in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    native = load_model(str(logged.folder))
    assert_predicts_like(predictor, native, with_missing_values(curated[1]))


def test_a_pipeline_that_cannot_convert_is_logged_for_the_native_path(
    prepared: Settings,
    tmp_path: Path,
    curated: tuple[pd.DataFrame, pd.DataFrame],
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
        logged = train_and_download(prepared, tmp_path)

    run = MlflowClient().get_run(logged.run_id)
    assert run.data.tags["serving.flavor"] == "sklearn"
    assert "FunctionTransformer" in run.data.tags["serving.fallback_reason"]
    assert "onnx_max_proba_diff" not in run.data.metrics
    assert any("not exported to ONNX" in r.getMessage() for r in caplog.records)
    assert model_file(logged.folder, ONNX_FILE) is None
    assert model_file(logged.folder, CONTRACT_FILE) is not None

    predictor = load_predictor(logged.folder)

    assert predictor.flavor == "sklearn"
    native = load_model(str(logged.folder))
    assert_predicts_like(predictor, native, with_missing_values(curated[1]))
