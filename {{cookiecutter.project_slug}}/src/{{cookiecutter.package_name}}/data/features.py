"""Feature set and train/test split: the curated layer that training reads."""

import pandas as pd
from sklearn.model_selection import train_test_split

from .schemas import FEATURES, TARGET


def split(refined: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split, stratified on the label so that rare classes reach the test set."""
    curated = refined[[*FEATURES, TARGET]]
    train, test = train_test_split(
        curated, test_size=test_size, random_state=seed, stratify=curated[TARGET]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
