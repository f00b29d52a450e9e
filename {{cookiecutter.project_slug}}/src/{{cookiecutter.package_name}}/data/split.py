"""The curated layer that training reads: the feature set, split into seeded train and test sets."""

import pandas as pd
from sklearn.model_selection import train_test_split

from ..core.schemas import FEATURES, TARGET
from .ingest import DataValidationError


def split(refined: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split, stratified on the label so that every class reaches both sets."""
    curated = refined[[*FEATURES, TARGET]]
    _require_learnable(curated, test_size)
    train, test = train_test_split(
        curated, test_size=test_size, random_state=seed, stratify=curated[TARGET]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _require_learnable(curated: pd.DataFrame, test_size: float) -> None:
    """Refuse, before anything is written, data that no model could be trained and tested on."""
    if curated.empty:
        raise DataValidationError("the data has no rows: there is nothing to train on")
    labels = curated[TARGET]
    counts = labels.value_counts()
    problems = []
    if empty := [name for name in FEATURES if curated[name].isna().all()]:
        problems.append(
            f"feature(s) {', '.join(empty)} have no value in any row: fix the data, or drop them"
            " from core/schemas.py"
        )
    if len(counts) < 2:
        problems.append(f"the label '{TARGET}' has {len(counts)} class(es): a classifier needs 2")
    if rare := sorted(str(label) for label, n in counts.items() if n < 2):
        problems.append(
            f"class(es) {', '.join(rare)} have a single row: a stratified split needs 2"
        )
    test_rows = round(test_size * len(labels))
    if test_rows < len(counts) or len(labels) - test_rows < len(counts):
        problems.append(
            f"{len(labels)} rows cannot give each of the {len(counts)} classes a row in both"
            f" the train and the test set (test_size {test_size})"
        )
    if problems:
        raise DataValidationError("the data cannot train a model: " + "; ".join(problems))
