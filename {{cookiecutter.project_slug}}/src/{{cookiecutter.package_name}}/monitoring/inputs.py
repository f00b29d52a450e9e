"""The data to compare, read and held to the data contract, tolerantly: drift is the question.

Unlike the pipeline's schemas, values outside the training ranges or categories are not errors
here: they are what drift detection must count. Only what makes a comparison meaningless is
refused: a missing feature, text in a numeric column, no rows.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import UserError
from ..core.schemas import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from ..data.ingest import read_table


class DriftInputError(UserError):
    """Data that cannot be compared; the message names the file and every problem found."""


def read_features(path: Path, role: str) -> pd.DataFrame:
    """The features of a CSV or Parquet file; other columns (labels, predictions) are ignored."""
    return features_of(read_table(path, role), f"{role} data {path}")


def features_of(df: pd.DataFrame, what: str) -> pd.DataFrame:
    """The contract's features: numbers as floats, categories as text (missing values kept)."""
    problems = []
    if missing := [name for name in FEATURES if name not in df.columns]:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if df.empty:
        problems.append("no rows")
    if problems:
        raise DriftInputError(f"the {what} has {' and '.join(problems)}")

    columns = {}
    for name in NUMERIC_FEATURES:
        values = pd.to_numeric(df[name], errors="coerce").astype(float)
        if len(bad := df[name][df[name].notna() & ~np.isfinite(values)]):
            examples = ", ".join(map(repr, bad.drop_duplicates().head(3)))
            problems.append(f"column '{name}' expects numbers, got {len(bad)} other(s): {examples}")
        columns[name] = values  # all missing is allowed: "not enough data" for that feature
    for name in CATEGORICAL_FEATURES:
        columns[name] = df[name].map(lambda value: value if pd.isna(value) else str(value))
    if problems:
        raise DriftInputError(
            f"the {what} breaks the data contract:\n  - " + "\n  - ".join(problems)
        )
    return pd.DataFrame(columns)[list(FEATURES)].reset_index(drop=True)


def no_rows() -> pd.DataFrame:
    """The contract's features, without a row: a window in which nothing was collected."""
    return pd.DataFrame(
        {name: pd.Series(dtype=float if name in NUMERIC_FEATURES else object) for name in FEATURES}
    )
