"""The lakehouse layers on disk: local folders here, Azure ML input/output folders in a job."""

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .features import split
from .ingest import read_raw, validate
from .schemas import Curated, Raw
from .wrangle import refine

REFINED_FILE = "penguins.parquet"
TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
MLTABLE_FILE = "MLTable"
# Makes the curated folder an Azure ML `mltable` data asset as it is: the training set that the
# model monitor and the drift check compare production data with.
MLTABLE = f"""\
paths:
  - file: ./{TRAIN_FILE}
transformations:
  - read_parquet
"""


@dataclass(frozen=True)
class Prepared:
    """What `prepare` wrote, for the caller to report."""

    refined: Path
    train: Path
    test: Path
    rows: int


def prepare(
    raw_dir: Path, refined_dir: Path, curated_dir: Path, test_size: float, seed: int
) -> Prepared:
    """Raw -> refined -> curated. Every check runs before the first write, so a bad raw layer
    leaves the refined and curated layers exactly as they were."""
    raw = validate(read_raw(raw_dir), Raw, layer="raw")
    refined = refine(raw)
    train, test = split(validate(refined, Curated, layer="refined"), test_size, seed)
    paths = Prepared(
        refined=Path(refined_dir) / REFINED_FILE,
        train=Path(curated_dir) / TRAIN_FILE,
        test=Path(curated_dir) / TEST_FILE,
        rows=len(refined),
    )
    for df, path in ((refined, paths.refined), (train, paths.train), (test, paths.test)):
        write_parquet(df, path)
    (Path(curated_dir) / MLTABLE_FILE).write_text(MLTABLE, encoding="utf-8")
    return paths


def read_curated(curated_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and test sets, validated again: the curated layer may come from elsewhere."""
    return tuple(  # type: ignore[return-value]
        validate(pd.read_parquet(Path(curated_dir) / name), Curated, layer=f"curated {name}")
        for name in (TRAIN_FILE, TEST_FILE)
    )


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    df.to_parquet(partial, index=False)
    os.replace(partial, path)
