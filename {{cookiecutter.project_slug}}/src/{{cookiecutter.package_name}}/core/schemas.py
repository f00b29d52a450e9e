"""The data contract: one schema per layer, and the only place feature names and types live.

Training, serving and monitoring all read the feature lists from here, so renaming a column or
adding a category is a one-line change. Schemas coerce types and are strict: an unknown column
is an error, not something to carry along silently.
"""

import pandera.pandas as pa
from pandas.api.types import is_numeric_dtype
from pandera.typing import Series

from .contract import Contract, Feature

TARGET = "species"
SPECIES = ("Adelie", "Chinstrap", "Gentoo")
ISLANDS = ("Biscoe", "Dream", "Torgersen")
SEXES = ("female", "male")


class Features(pa.DataFrameModel):
    """What the model sees: the inputs of training and of every prediction request."""

    island: Series[str] = pa.Field(isin=ISLANDS)
    bill_length_mm: Series[float] = pa.Field(
        in_range={"min_value": 10, "max_value": 100}, nullable=True
    )
    bill_depth_mm: Series[float] = pa.Field(
        in_range={"min_value": 5, "max_value": 40}, nullable=True
    )
    flipper_length_mm: Series[float] = pa.Field(
        in_range={"min_value": 100, "max_value": 300}, nullable=True
    )
    body_mass_g: Series[float] = pa.Field(
        in_range={"min_value": 1000, "max_value": 10000}, nullable=True
    )
    sex: Series[str] = pa.Field(isin=SEXES, nullable=True)

    class Config:
        coerce = True
        strict = True


class Curated(Features):
    """The curated layer: features and the label."""

    species: Series[str] = pa.Field(isin=SPECIES)


class Raw(Curated):
    """The raw layer as delivered: the curated columns plus bookkeeping ones."""

    year: Series[int] = pa.Field(in_range={"min_value": 2000, "max_value": 2100})


_FEATURE_COLUMNS = Features.to_schema().columns
FEATURES: tuple[str, ...] = tuple(_FEATURE_COLUMNS)
NUMERIC_FEATURES = tuple(n for n, c in _FEATURE_COLUMNS.items() if is_numeric_dtype(c.dtype.type))
CATEGORICAL_FEATURES = tuple(n for n in FEATURES if n not in NUMERIC_FEATURES)


def input_contract() -> Contract:
    """The features as the serving contract: types, nullability, ranges and categories."""
    features = []
    for name, column in _FEATURE_COLUMNS.items():
        stats = {check.name: check.statistics for check in column.checks}
        in_range = stats.get("in_range", {})
        features.append(
            Feature(
                name=name,
                kind="number" if name in NUMERIC_FEATURES else "category",
                nullable=column.nullable,
                minimum=in_range.get("min_value"),
                maximum=in_range.get("max_value"),
                categories=tuple(stats.get("isin", {}).get("allowed_values", ())),
            )
        )
    return Contract(tuple(features))
