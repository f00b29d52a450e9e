"""The data pipeline: layers written from the shipped data, and bad data stopped at the door."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.data.ingest import DataValidationError
from {{ cookiecutter.package_name }}.data.layers import (
    prepare,
    read_curated,
)
from {{ cookiecutter.package_name }}.data.schemas import (
    CATEGORICAL_FEATURES,
    FEATURES,
    NUMERIC_FEATURES,
    TARGET,
)
from {{ cookiecutter.package_name }}.settings import Settings


def run_prepare(settings: Settings, seed: int | None = None):
    return prepare(
        settings.raw_dir,
        settings.refined_dir,
        settings.curated_dir,
        settings.test_size,
        settings.seed if seed is None else seed,
    )


def test_feature_lists_come_from_the_schema() -> None:
    assert set(NUMERIC_FEATURES) | set(CATEGORICAL_FEATURES) == set(FEATURES)
    assert set(CATEGORICAL_FEATURES) == {"island", "sex"}
    assert TARGET not in FEATURES


def test_prepare_writes_every_layer_from_the_shipped_data(settings: Settings) -> None:
    done = run_prepare(settings)

    refined = pd.read_parquet(done.refined)
    train, test = read_curated(settings.curated_dir)
    assert done.rows == len(refined) == len(train) + len(test) == 344
    assert list(train.columns) == [*FEATURES, TARGET]
    assert "year" not in refined.columns
    assert len(test) == pytest.approx(0.2 * len(refined), abs=1)
    assert refined["sex"].isna().sum() > 0, "missing values reach the model's imputers"
    shares = pd.concat([d[TARGET].value_counts(normalize=True) for d in (train, test)], axis=1)
    assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max() < 0.05, "split is stratified"
    assert not list(Path(settings.curated_dir).glob(".*partial")), "no partial file left"
    mltable = yaml.safe_load((Path(settings.curated_dir) / "MLTable").read_text())
    assert mltable["paths"] == [{"file": "./train.parquet"}], "an Azure ML mltable of train"


def test_split_is_seeded(settings: Settings) -> None:
    run_prepare(settings)
    first = read_curated(settings.curated_dir)[1]
    run_prepare(settings)
    assert first.equals(read_curated(settings.curated_dir)[1])
    run_prepare(settings, seed=settings.seed + 1)
    assert not first.equals(read_curated(settings.curated_dir)[1])


def corrupt(settings: Settings, column: str, row: int, value: object) -> None:
    path = Path(settings.raw_dir) / "penguins.csv"
    df = pd.read_csv(path)
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    df.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("bill_length_mm", 1000.0, "in_range"),
        ("island", "Atlantis", "isin"),
        ("body_mass_g", "heavy", "float64"),
        ("species", None, "not_nullable"),
    ],
)
def test_bad_raw_data_stops_the_pipeline_and_names_the_column_and_rule(
    settings: Settings, column: str, value: object, rule: str
) -> None:
    run_prepare(settings)
    before = {p: p.read_bytes() for p in Path(settings.curated_dir).iterdir()}
    corrupt(settings, column, 5, value)

    with pytest.raises(DataValidationError) as caught:
        run_prepare(settings, seed=settings.seed + 1)

    message = str(caught.value)
    assert f"column '{column}'" in message
    assert rule in message
    after = {p: p.read_bytes() for p in Path(settings.curated_dir).iterdir()}
    assert after == before, "nothing downstream is written"


def test_every_violation_is_reported_at_once(settings: Settings) -> None:
    corrupt(settings, "island", 0, "Atlantis")
    corrupt(settings, "flipper_length_mm", 1, -1.0)
    with pytest.raises(DataValidationError) as caught:
        run_prepare(settings)
    assert "column 'island'" in str(caught.value)
    assert "column 'flipper_length_mm'" in str(caught.value)
    assert not Path(settings.refined_dir).exists()


def test_missing_and_unexpected_columns_are_named(settings: Settings) -> None:
    path = Path(settings.raw_dir) / "penguins.csv"
    pd.read_csv(path).drop(columns="sex").assign(colour="black").to_csv(path, index=False)
    with pytest.raises(DataValidationError) as caught:
        run_prepare(settings)
    assert "sex" in str(caught.value)
    assert "colour" in str(caught.value)


def test_an_empty_raw_folder_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no CSV file"):
        prepare(empty, settings.refined_dir, settings.curated_dir, 0.2, 0)
