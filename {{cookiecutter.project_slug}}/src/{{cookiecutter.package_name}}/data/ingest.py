"""Ingestion of the raw layer: read what was delivered and hold it to the schema."""

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ..core.errors import UserError

RAW_SUFFIXES = (".csv",)
TABLE_SUFFIXES = (".csv", ".parquet")


class DataValidationError(UserError):
    """A dataset broke its schema; the message names each column and rule that failed."""


class DataReadError(UserError):
    """A file that is not a table: missing, empty, of another format, or unparsable."""


def read_raw(raw_dir: Path) -> pd.DataFrame:
    """Read every CSV file of the raw layer (one folder, locally or mounted by Azure ML)."""
    files = sorted(p for p in Path(raw_dir).glob("*") if p.suffix in RAW_SUFFIXES)
    if not files:
        raise DataReadError(f"no CSV file in the raw layer folder {raw_dir}")
    return pd.concat([read_table(f, "raw") for f in files], ignore_index=True)


def read_table(path: Path, role: str = "input") -> pd.DataFrame:
    """A CSV or Parquet file as it is, no schema applied: the caller decides what to hold it to."""
    path = Path(path)
    if path.suffix not in TABLE_SUFFIXES:
        raise DataReadError(f"the {role} data {path} must be a {' or '.join(TABLE_SUFFIXES)} file")
    if not path.is_file():
        raise DataReadError(f"the {role} data {path} does not exist")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataReadError(f"the {role} data {path} is empty") from None
    except (OSError, ValueError) as err:  # pyarrow's and pandas' parse errors are ValueErrors
        raise DataReadError(f"the {role} data {path} cannot be read: {err}") from None


def validate(df: pd.DataFrame, schema: type[pa.DataFrameModel], layer: str) -> pd.DataFrame:
    """Return `df` coerced to `schema`, or raise with every violation, not just the first."""
    try:
        return schema.validate(df, lazy=True)
    except SchemaErrors as err:
        raise DataValidationError(_describe(err.failure_cases, layer)) from None


def _describe(failures: pd.DataFrame, layer: str) -> str:
    lines = [f"the {layer} data breaks its schema:"]
    columns = {
        "column_in_dataframe": "missing column(s)",
        "column_in_schema": "unexpected column(s)",
    }
    for (column, check), cases in failures.groupby(["column", "check"], dropna=False, sort=False):
        if check in columns:  # about the table's columns, not about the rows of one
            names = ", ".join(map(str, cases["failure_case"].drop_duplicates()))
            lines.append(f"  - {columns[check]}: {names}")
            continue
        examples = ", ".join(map(repr, cases["failure_case"].drop_duplicates().head(3)))
        where = f"column '{column}'" if isinstance(column, str) else "the table"
        lines.append(f"  - {where}: rule {check} failed on {len(cases)} row(s), e.g. {examples}")
    return "\n".join(lines)
