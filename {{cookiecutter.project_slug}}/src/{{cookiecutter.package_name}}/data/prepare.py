"""The prepare step: raw -> refined -> curated, on local folders or Azure ML job folders."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.errors import UserError
from ..core.files import replaced_together
from ..core.schemas import Curated, Raw
from .ingest import read_raw, validate
from .split import split
from .wrangle import refine

REFINED_FILE = "penguins.parquet"
TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
MLTABLE_FILE = "MLTable"
MANIFEST_FILE = "manifest.json"  # the SHA-256 of each file of the split, written last
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
    """Raw -> refined -> curated. Every check runs before the first write, and the files are
    written beside their targets before any replaces one, so a bad raw layer, an error or a
    kill leaves the refined and curated layers exactly as they were."""
    raw = validate(read_raw(raw_dir), Raw, layer="raw")
    refined = refine(raw)
    train, test = split(validate(refined, Curated, layer="refined"), test_size, seed)
    paths = Prepared(
        refined=Path(refined_dir) / REFINED_FILE,
        train=Path(curated_dir) / TRAIN_FILE,
        test=Path(curated_dir) / TEST_FILE,
        rows=len(refined),
    )
    curated = Path(curated_dir)
    files = (
        paths.refined,
        paths.train,
        paths.test,
        curated / MLTABLE_FILE,
        curated / MANIFEST_FILE,
    )
    with replaced_together(*files) as (refined_file, train_file, test_file, mltable, manifest):
        for df, partial in ((refined, refined_file), (train, train_file), (test, test_file)):
            df.to_parquet(partial, index=False)
        mltable.write_text(MLTABLE, encoding="utf-8")
        digests = {TRAIN_FILE: _sha256(train_file), TEST_FILE: _sha256(test_file)}
        manifest.write_text(json.dumps(digests, indent=2) + "\n", encoding="utf-8")
    return paths


class CuratedLayerError(UserError):
    """The curated files do not belong to one split."""


def read_curated(curated_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and test sets, validated again: the curated layer may come from elsewhere.

    When the folder has the manifest `prepare` writes, the files must be the ones it lists: a
    train set and a test set from two different runs could share rows, and the test score
    would lie.
    """
    folder = Path(curated_dir)
    manifest = folder / MANIFEST_FILE
    if manifest.is_file():
        for name, digest in json.loads(manifest.read_text(encoding="utf-8")).items():
            if not (folder / name).is_file() or _sha256(folder / name) != digest:
                raise CuratedLayerError(
                    f"{folder / name} is not the file {MANIFEST_FILE} lists: the curated layer"
                    " mixes two runs of `prepare` (one was interrupted?). Run `prepare` again"
                )
    train, test = (
        validate(pd.read_parquet(folder / name), Curated, layer=f"curated {name}")
        for name in (TRAIN_FILE, TEST_FILE)
    )
    return train, test


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
