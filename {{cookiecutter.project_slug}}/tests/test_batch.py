"""Batch scoring: every row scored like the model scores it, in chunks, or nothing written."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.data.schemas import FEATURES
from {{ cookiecutter.package_name }}.serving.batch import (
    BatchInputError,
    score_files,
)
from {{ cookiecutter.package_name }}.serving.runtime import (
    Predictor,
    load_predictor,
)
from {{ cookiecutter.package_name }}.training.tracking import load_model


@pytest.fixture(scope="module")
def predictor(champion) -> Predictor:
    return load_predictor(champion.folder)


def test_scores_every_row_like_the_model_in_any_chunk_size(
    champion, predictor: Predictor, tmp_path: Path
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
    predictor: Predictor, raw_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    raw = pd.read_csv(raw_dir / "penguins.csv")
    raw.iloc[:100].to_csv(folder / "a.csv", index=False)
    raw.iloc[100:].to_csv(folder / "b.csv", index=False)

    done = score_files(folder, tmp_path / "out.parquet", predictor, "1", batch_rows=64)

    assert done.rows == len(raw)
    assert raw[list(FEATURES)].isna().any(axis=None), "the sample has missing values"
    assert pd.read_parquet(done.output)["prediction"].notna().all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns="island"), "lacks the column(s) island"),
        (lambda df: df.assign(island="Atlantis"), "column 'island' has values outside"),
        (lambda df: df.assign(body_mass_g="heavy"), "column 'body_mass_g' must be numeric"),
        (lambda df: df.assign(body_mass_g=-1.0), "column 'body_mass_g' has"),
        (lambda df: df.iloc[:0], "has no rows"),
    ],
    ids=["missing column", "unknown category", "not numeric", "out of range", "empty"],
)
def test_bad_input_names_the_problem_and_writes_nothing(
    champion, predictor: Predictor, tmp_path: Path, change, message: str
) -> None:
    source = tmp_path / "bad.parquet"
    change(pd.read_parquet(champion.curated_dir / "test.parquet")).to_parquet(source)

    with pytest.raises(BatchInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score_files(source, tmp_path / "out" / "scored.parquet", predictor, "1", batch_rows=8)
    assert not list((tmp_path / "out").glob("*")), "no output, not even a partial one"


def test_make_score_prints_rows_per_second(
    champion, raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_URI", str(champion.folder))
    result = CliRunner().invoke(app, ["score", str(raw_dir), "--output", "scored.parquet"])

    assert result.exit_code == 0, result.output
    assert "rows/s" in result.stdout
    assert len(pd.read_parquet(tmp_path / "scored.parquet")) == 344
