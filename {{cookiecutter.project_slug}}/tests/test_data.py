"""The data pipeline: layers written from the raw data, and bad data stopped at the door.

The cases are built from the data contract (core/schemas.py), not from the sample: they hold
for a team's own data and schema."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.core.contract import (
    Feature,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    CATEGORICAL_FEATURES,
    FEATURES,
    NUMERIC_FEATURES,
    TARGET,
    Curated,
)
from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.data.ingest import (
    DataReadError,
    DataValidationError,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    TEST_FILE,
    TRAIN_FILE,
    CuratedLayerError,
    Prepared,
    prepare,
    read_curated,
)

from .conftest import CONTRACT


def run_prepare(settings: Settings, seed: int | None = None) -> Prepared:
    return prepare(
        settings.raw_dir,
        settings.refined_dir,
        settings.curated_dir,
        settings.test_size,
        settings.seed if seed is None else seed,
    )


def raw_files(settings: Settings) -> list[Path]:
    return sorted(Path(settings.raw_dir).glob("*.csv"))


def rewrite_raw(settings: Settings, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Apply `change` to the raw data, as one file."""
    files = raw_files(settings)
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    for f in files[1:]:
        f.unlink()
    change(raw).to_csv(files[0], index=False)


def first(predicate: Callable[[Feature], bool]) -> Feature:
    found = [f for f in CONTRACT.features if predicate(f)]
    if not found:
        pytest.skip("the data contract has no such feature")
    return found[0]


def test_feature_lists_come_from_the_schema() -> None:
    assert set(NUMERIC_FEATURES) | set(CATEGORICAL_FEATURES) == set(FEATURES)
    assert not set(NUMERIC_FEATURES) & set(CATEGORICAL_FEATURES)
    assert TARGET not in FEATURES
    assert CONTRACT.names == FEATURES
    assert {f.name for f in CONTRACT.features if f.kind == "number"} == set(NUMERIC_FEATURES)


def test_prepare_writes_every_layer_from_the_raw_data(settings: Settings) -> None:
    done = run_prepare(settings)

    refined = pd.read_parquet(done.refined)
    train, test = read_curated(settings.curated_dir)
    assert done.rows == len(refined) == len(train) + len(test)
    assert list(refined.columns) == list(Curated.to_schema().columns)
    assert list(train.columns) == [*FEATURES, TARGET]
    assert len(test) == pytest.approx(settings.test_size * len(refined), abs=1)
    shares = pd.concat([d[TARGET].value_counts(normalize=True) for d in (train, test)], axis=1)
    rounding = 1 / len(test) + 1 / len(train)
    assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max() <= rounding, "stratified split"
    assert not list(Path(settings.curated_dir).glob(".*partial")), "no partial file left"
    mltable = yaml.safe_load((Path(settings.curated_dir) / "MLTable").read_text())
    assert mltable["paths"] == [{"file": "./train.parquet"}], "an Azure ML mltable of train"


def test_split_is_seeded(settings: Settings) -> None:
    run_prepare(settings)
    first_split = read_curated(settings.curated_dir)[1]
    run_prepare(settings)
    assert first_split.equals(read_curated(settings.curated_dir)[1])
    run_prepare(settings, seed=settings.seed + 1)
    assert not first_split.equals(read_curated(settings.curated_dir)[1])


BAD_VALUES: dict[str, tuple[Callable[[], Feature], Callable[[Feature], Any], str]] = {
    "above its range": (
        lambda: first(lambda f: f.kind == "number" and f.maximum is not None),
        lambda f: (f.maximum or 0) + abs(f.maximum or 0) + 1,
        "in_range",
    ),
    "an unknown category": (
        lambda: first(lambda f: f.kind == "category" and bool(f.categories)),
        lambda _: "not-a-known-category",
        "isin",
    ),
    "text in a number": (
        lambda: first(lambda f: f.kind == "number"),
        lambda _: "not a number",
        "float64",
    ),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_raw_data_stops_the_pipeline_and_names_the_column_and_rule(
    settings: Settings, case: str
) -> None:
    pick, bad_value, rule = BAD_VALUES[case]
    feature = pick()
    run_prepare(settings)
    before = {p: p.read_bytes() for p in Path(settings.curated_dir).iterdir()}

    def corrupt(raw: pd.DataFrame) -> pd.DataFrame:
        raw[feature.name] = raw[feature.name].astype(object)
        raw.loc[raw.index[0], feature.name] = bad_value(feature)
        return raw

    rewrite_raw(settings, corrupt)
    with pytest.raises(DataValidationError) as caught:
        run_prepare(settings, seed=settings.seed + 1)

    message = str(caught.value)
    assert f"column '{feature.name}'" in message
    assert rule in message
    after = {p: p.read_bytes() for p in Path(settings.curated_dir).iterdir()}
    assert after == before, "nothing downstream is written"


def test_a_missing_label_is_refused(settings: Settings) -> None:
    def drop_label(raw: pd.DataFrame) -> pd.DataFrame:
        raw.loc[raw.index[0], TARGET] = None
        return raw

    rewrite_raw(settings, drop_label)
    with pytest.raises(DataValidationError, match=f"column '{TARGET}'"):
        run_prepare(settings)
    assert not Path(settings.refined_dir).exists()


def test_missing_and_unexpected_columns_are_named(settings: Settings) -> None:
    dropped = FEATURES[0]
    rewrite_raw(settings, lambda raw: raw.drop(columns=dropped).assign(unexpected_column=1))
    with pytest.raises(DataValidationError) as caught:
        run_prepare(settings)
    assert f"missing column(s): {dropped}" in str(caught.value)
    assert "unexpected column(s): unexpected_column" in str(caught.value)


def test_a_raw_file_with_a_header_and_no_rows_is_refused(settings: Settings) -> None:
    rewrite_raw(settings, lambda raw: raw.head(0))
    with pytest.raises(DataValidationError, match="no rows"):
        run_prepare(settings)


def test_data_of_one_class_is_refused_before_anything_is_written(settings: Settings) -> None:
    rewrite_raw(settings, lambda raw: raw[raw[TARGET] == raw[TARGET].iloc[0]])
    with pytest.raises(DataValidationError, match="a classifier needs 2"):
        run_prepare(settings)
    assert not Path(settings.refined_dir).exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "is empty"), (b"a,b\n1,2,3,4\n\xff\n", "cannot be read")],
    ids=["empty file", "not a CSV"],
)
def test_an_unreadable_raw_file_is_named(settings: Settings, content: bytes, problem: str) -> None:
    bad = Path(settings.raw_dir) / "zz-bad.csv"
    bad.write_bytes(content)
    with pytest.raises(DataReadError, match=problem) as caught:
        run_prepare(settings)
    assert bad.name in str(caught.value)


def test_an_empty_raw_folder_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataReadError, match="no CSV file"):
        prepare(empty, settings.refined_dir, settings.curated_dir, 0.2, 0)


def test_a_feature_without_any_value_is_refused(settings: Settings) -> None:
    """It would train, then be served by the slow path: its imputer cannot be exported."""
    feature = first(lambda f: f.nullable)
    rewrite_raw(settings, lambda raw: raw.assign(**{feature.name: None}))
    with pytest.raises(DataValidationError, match=f"{feature.name} have no value in any row"):
        run_prepare(settings)
    assert not Path(settings.refined_dir).exists()


def layers(settings: Settings) -> dict[Path, bytes]:
    folders = (Path(settings.refined_dir), Path(settings.curated_dir))
    return {path: path.read_bytes() for folder in folders for path in folder.iterdir()}


def test_a_failure_while_writing_leaves_every_layer_as_it_was(settings: Settings) -> None:
    run_prepare(settings)
    before = layers(settings)
    # The test set's temporary file cannot be written (a folder is in its way): the refined
    # layer and the train set were written before it, and must not replace the old ones.
    blocker = Path(settings.curated_dir) / f".{TEST_FILE}.partial"
    blocker.mkdir()
    with pytest.raises(IsADirectoryError):
        run_prepare(settings, seed=settings.seed + 1)
    blocker.rmdir()
    assert layers(settings) == before


def test_a_split_mixed_from_two_runs_is_refused(settings: Settings) -> None:
    """What a kill between two renames would leave: a train set of one run, a test set of
    another (they may share rows, and the test score would lie)."""
    run_prepare(settings)
    old_train = (Path(settings.curated_dir) / TRAIN_FILE).read_bytes()
    run_prepare(settings, seed=settings.seed + 1)
    (Path(settings.curated_dir) / TRAIN_FILE).write_bytes(old_train)
    with pytest.raises(CuratedLayerError, match="mixes two runs of `prepare`"):
        read_curated(settings.curated_dir)
