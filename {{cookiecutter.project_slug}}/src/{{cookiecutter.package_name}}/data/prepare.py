"""The prepare step: raw -> refined -> curated, on local folders or Azure ML job folders."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.files import replaced_atomically
from ..core.schemas import Curated, Raw
from .ingest import read_raw, validate
from .split import split
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
        with replaced_atomically(path) as partial:
            df.to_parquet(partial, index=False)
    with replaced_atomically(Path(curated_dir) / MLTABLE_FILE) as partial:
        partial.write_text(MLTABLE, encoding="utf-8")
    return paths


def read_curated(curated_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and test sets, validated again: the curated layer may come from elsewhere."""
    train, test = (
        validate(pd.read_parquet(Path(curated_dir) / name), Curated, layer=f"curated {name}")
        for name in (TRAIN_FILE, TEST_FILE)
    )
    return train, test
