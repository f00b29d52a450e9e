"""Ingestion of the raw layer: read what was delivered and hold it to the schema."""

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

RAW_SUFFIXES = (".csv",)


class DataValidationError(ValueError):
    """A dataset broke its schema; the message names each column and rule that failed."""


def read_raw(raw_dir: Path) -> pd.DataFrame:
    """Read every CSV file of the raw layer (one folder, locally or mounted by Azure ML)."""
    files = sorted(p for p in Path(raw_dir).glob("*") if p.suffix in RAW_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no CSV file in the raw layer folder {raw_dir}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def validate(df: pd.DataFrame, schema: type[pa.DataFrameModel], layer: str) -> pd.DataFrame:
    """Return `df` coerced to `schema`, or raise with every violation, not just the first."""
    try:
        return schema.validate(df, lazy=True)
    except SchemaErrors as err:
        raise DataValidationError(_describe(err.failure_cases, layer)) from None


def _describe(failures: pd.DataFrame, layer: str) -> str:
    lines = [f"the {layer} data breaks its schema:"]
    for (column, check), cases in failures.groupby(["column", "check"], dropna=False, sort=False):
        examples = ", ".join(map(repr, cases["failure_case"].drop_duplicates().head(3)))
        where = f"column '{column}'" if pd.notna(column) else "the table"
        lines.append(f"  - {where}: rule {check} failed on {len(cases)} row(s), e.g. {examples}")
    return "\n".join(lines)
