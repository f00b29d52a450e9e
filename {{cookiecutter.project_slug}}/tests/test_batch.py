"""Batch scoring: every row scored like the model scores it, in chunks, or nothing written."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import (
    app,
)
from {{ cookiecutter.package_name }}.core.contract import (
    Feature,
)
from {{ cookiecutter.package_name }}.core.predictor import (
    Predictor,
    load_predictor,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    load_model,
)
from {{ cookiecutter.package_name }}.serving.batch import (
    BatchInputError,
    score_files,
)

from .conftest import CATEGORY, CONTRACT, NUMBER, Champion


@pytest.fixture(scope="module")
def predictor(champion: Champion) -> Predictor:
    return load_predictor(champion.folder)


def test_scores_every_row_like_the_model_in_any_chunk_size(
    champion: Champion, predictor: Predictor, tmp_path: Path
) -> None:
    source = champion.curated_dir / "test.parquet"
    whole = score_files(source, tmp_path / "whole.parquet", predictor, "7")
    chunked = score_files(source, tmp_path / "chunked.parquet", predictor, "7", batch_rows=5)

    scored = pd.read_parquet(whole.output)
    inputs = pd.read_parquet(source)
    assert whole.rows == chunked.rows == len(inputs)
    native = load_model(str(champion.folder))
    assert list(scored["prediction"]) == list(native.predict(inputs[list(FEATURES)]))
    proba = scored[[f"proba_{c}" for c in native.classes_]].to_numpy()
    assert np.abs(proba - native.predict_proba(inputs[list(FEATURES)])).max() < 1e-5
    assert (scored["model_version"] == "7").all()
    assert scored["scored_at"].nunique() == 1
    assert list(scored.columns[: len(inputs.columns)]) == list(inputs.columns), "inputs are kept"
    pd.testing.assert_frame_equal(
        scored.drop(columns="scored_at"), pd.read_parquet(chunked.output).drop(columns="scored_at")
    )


def test_a_folder_of_csv_files_with_missing_values(
    predictor: Predictor, raw_data: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    raw = raw_data.copy()
    # Missing values wherever the contract allows them, whatever the data has.
    nullable = [f.name for f in CONTRACT.features if f.nullable]
    raw.loc[raw.index[::3], nullable] = None
    half = len(raw) // 2
    raw.iloc[:half].to_csv(folder / "a.csv", index=False)
    raw.iloc[half:].to_csv(folder / "b.csv", index=False)

    done = score_files(folder, tmp_path / "out.parquet", predictor, "1", batch_rows=64)

    assert done.rows == len(raw)
    assert pd.read_parquet(done.output)["prediction"].notna().all()


def out_of_range(feature: Feature) -> float:
    if feature.minimum is not None:
        return feature.minimum - abs(feature.minimum) - 1
    if feature.maximum is not None:
        return feature.maximum + abs(feature.maximum) + 1
    pytest.skip(f"{feature.name} has no range")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns=CATEGORY.name), f"lacks the column(s) {CATEGORY.name}"),
        (
            lambda df: df.assign(**{CATEGORY.name: "not-a-known-category"}),
            f"column '{CATEGORY.name}' has values outside",
        ),
        (
            lambda df: df.assign(**{NUMBER.name: "heavy"}),
            f"column '{NUMBER.name}' must be numeric",
        ),
        (
            lambda df: df.assign(**{NUMBER.name: out_of_range(NUMBER)}),
            f"column '{NUMBER.name}' has",
        ),
        (lambda df: df.iloc[:0], "has no rows"),
    ],
    ids=["missing column", "unknown category", "not numeric", "out of range", "empty"],
)
def test_bad_input_names_the_problem_and_writes_nothing(
    champion: Champion,
    predictor: Predictor,
    tmp_path: Path,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
) -> None:
    source = tmp_path / "bad.parquet"
    change(pd.read_parquet(champion.curated_dir / "test.parquet")).to_parquet(source)

    with pytest.raises(BatchInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score_files(source, tmp_path / "out" / "scored.parquet", predictor, "1", batch_rows=8)
    assert not list((tmp_path / "out").glob("*")), "no output, not even a partial one"


def test_make_score_prints_rows_per_second(
    champion: Champion, raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_URI", str(champion.folder))
    result = CliRunner().invoke(app, ["score", str(raw_dir), "--output", "scored.parquet"])

    assert result.exit_code == 0, result.output
    assert "rows/s" in result.stdout
    raw_rows = sum(len(pd.read_csv(f)) for f in raw_dir.glob("*.csv"))
    assert len(pd.read_parquet(tmp_path / "scored.parquet")) == raw_rows
