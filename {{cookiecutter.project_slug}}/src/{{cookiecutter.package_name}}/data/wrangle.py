"""Wrangling from raw to refined: clean, typed, one row per observation."""

import pandas as pd

from ..core.schemas import Curated


def refine(raw: pd.DataFrame) -> pd.DataFrame:
    """Drop exact duplicates and the columns nobody downstream uses.

    `year` is bookkeeping: a model that learns the observation year would not generalise.
    """
    columns = list(Curated.to_schema().columns)
    return raw[columns].drop_duplicates().reset_index(drop=True)
