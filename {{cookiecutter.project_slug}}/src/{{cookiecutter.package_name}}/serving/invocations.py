"""POST /invocations: MLflow's scoring protocol, as `mlflow models serve` answers it, and the
`input_data` shape of Azure ML's MLflow deployments, on the route an endpoint's scoring URI maps to.

MLflow's protocol (mlflow.pyfunc.scoring_server): a JSON object with exactly one of
`dataframe_split`, `dataframe_records`, `instances` or `inputs` (plus optional `params`), a CSV
body (`text/csv`) or a Parquet one (`application/vnd.apache.parquet`, when pyarrow is installed:
not in the serving image). UTF-8 only. The answer is `{"predictions": [...]}`. Azure ML's shape
is `{"input_data": {"columns": [...], "index": [...], "data": [[...]]}}` (or a dict of columns),
answered with the bare list of predictions, as Azure ML's own MLflow scoring script does.

Values are held to the model's signature the way MLflow enforces it, not to the strict contract
of /predict: columns the model does not use are ignored; a number may come as an int, a bool or
a numeric string; a category may be any value (one the model never saw is scored as unknown);
null and NaN are missing values. Errors carry MLflow's body, `{"error_code", "message"}`.
No pandas: this runs in the serving image.
"""

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.contract import Contract

JSON, CSV, PARQUET = "application/json", "text/csv", "application/vnd.apache.parquet"
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
AZURE_ML = "input_data"
# What pandas' read_csv reads as a missing value, as MLflow's server parses CSV with it.
CSV_MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)


class ProtocolError(Exception):
    """A request MLflow's server refuses with its JSON error body."""

    def __init__(self, message: str, error_code: str = "BAD_REQUEST", status: int = 400) -> None:
        super().__init__(message)
        self.error_code, self.status = error_code, status

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": str(self)}


class UnsupportedMediaTypeError(Exception):
    """A content type MLflow's server refuses with 415 and a plain-text reason."""


@dataclass(frozen=True)
class Invocation:
    """A parsed request: its values by column, and the shape to answer in."""

    columns: Mapping[str, Sequence[Any]]
    rows: int
    azure_ml: bool = False  # answer with a bare list, as Azure ML's MLflow deployments do


def read_invocation(body: bytes, content_type: str | None) -> Invocation:
    """The request's table, or the refusal MLflow's server would give."""
    mime = _media_type(content_type)
    if mime == JSON:
        return _from_json(_decode(body))
    if mime == CSV:
        return _from_csv(_decode(body))
    if mime == PARQUET:
        return _from_parquet(body)
    raise UnsupportedMediaTypeError(
        f"This predictor only supports the following content types: {JSON}, {CSV} and {PARQUET}."
        f" Got {content_type!r}."
    )


def columns_for(invocation: Invocation, contract: Contract) -> dict[str, np.ndarray]:
    """The predictor's input, held to the model's signature as MLflow holds it."""
    missing = [name for name in contract.names if name not in invocation.columns]
    if missing:
        extra = sorted(set(invocation.columns) - set(contract.names))
        raise ProtocolError(
            f"Model is missing inputs {missing}."
            + (f" Note that there were extra inputs: {extra}." if extra else ""),
            "INVALID_PARAMETER_VALUE",
        )
    if invocation.rows == 0:
        raise ProtocolError("There are no records to score.", "INVALID_PARAMETER_VALUE")
    table: dict[str, Sequence[object]] = {}
    for feature in contract.features:
        values = invocation.columns[feature.name]
        if feature.kind == "number":
            table[feature.name] = _numbers(feature.name, values)
        else:
            table[feature.name] = _categories(feature.name, values)
    return contract.to_columns(table)


def _media_type(content_type: str | None) -> str:
    """The MIME type, once its parameters are known to be fine: UTF-8 and nothing else."""
    if not content_type:
        raise UnsupportedMediaTypeError(
            f"Send a Content-Type header: {JSON}, {CSV} or {PARQUET}, with charset=utf-8 if any."
        )
    mime, *rest = (part.strip() for part in content_type.split(";"))
    parameters = {
        key.strip().lower(): value.strip() for key, _, value in (p.partition("=") for p in rest)
    }
    if parameters.get("charset", "utf-8").strip('"').lower() != "utf-8":
        raise UnsupportedMediaTypeError("The scoring server only supports UTF-8")
    if unknown := sorted(set(parameters) - {"charset"}):
        raise UnsupportedMediaTypeError(
            f"Unrecognized content type parameters: {', '.join(unknown)}."
        )
    return mime.lower()


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(
            f"Invalid input. Ensure that input is valid UTF-8. Error: {err}"
        ) from None


def _from_json(text: str) -> Invocation:
    try:
        payload = json.loads(text)  # NaN and Infinity literals included, as pandas clients send
    except (ValueError, RecursionError) as err:  # RecursionError: nested thousands deep
        raise ProtocolError(
            f"Invalid input. Ensure that input is a valid JSON formatted string. Error: {err}"
        ) from None
    if not isinstance(payload, dict):
        raise ProtocolError(_one_of(f"Received a {type(payload).__name__}."))
    given = [key for key in (*FORMATS, AZURE_ML) if key in payload]
    if len(given) != 1:
        raise ProtocolError(_one_of(f"Received dictionary with input fields: {sorted(payload)}."))
    key, value = given[0], payload[given[0]]
    if key == "dataframe_split":
        return _split(value, key)
    if key == AZURE_ML:
        if isinstance(value, dict) and "data" in value:
            return _split(value, key, azure_ml=True)
        if isinstance(value, dict):
            return _columnar(value, key, azure_ml=True)
        raise ProtocolError(
            f"`{AZURE_ML}` must be an object: with `columns`, `index` and `data` (pandas' split"
            " orient), or with one list of values per column. A list of rows has no column names."
        )
    if key == "inputs" and isinstance(value, dict):
        return _columnar(value, key)
    return _records(value, key)


def _one_of(received: str) -> str:
    return (
        "The input must be a JSON dictionary with exactly one of the input fields"
        f" {list(FORMATS)} (or Azure ML's `{AZURE_ML}`). {received}"
    )


def _split(value: Any, key: str, azure_ml: bool = False) -> Invocation:
    """pandas' `split` orient: `columns`, `data` (a list of rows), an optional `index`."""
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise ProtocolError(
            f"`{key}` must be an object with `columns` and `data` (a list of rows)."
        )
    names = value.get("columns", [])
    rows = value["data"]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ProtocolError(f"`{key}.columns` must be a list of column names.")
    if any(not isinstance(row, list) or len(row) != len(names) for row in rows):
        raise ProtocolError(
            f"Provided {key} field is not a valid dataframe representation in 'split' format:"
            f" every row of `data` must be a list of {len(names)} values, one per column."
        )
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return Invocation(columns, len(rows), azure_ml)


def _records(value: Any, key: str) -> Invocation:
    """A list of {column: value} objects; a column is there when any record has it."""
    if not isinstance(value, list) or not all(isinstance(record, dict) for record in value):
        raise ProtocolError(
            f"`{key}` must be a list of records: objects of column names and values.",
            "INVALID_PARAMETER_VALUE",
        )
    names = list(dict.fromkeys(name for record in value for name in record))
    columns = {name: [record.get(name) for record in value] for name in names}
    return Invocation(columns, len(value))


def _columnar(value: dict[str, Any], key: str, azure_ml: bool = False) -> Invocation:
    """{column: [values]}, every column as long as the others; a scalar is a single row."""
    columns = {
        name: values if isinstance(values, list) else [values] for name, values in value.items()
    }
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ProtocolError(f"Every column of `{key}` must have the same number of values.")
    return Invocation(columns, lengths.pop() if lengths else 0, azure_ml)


def _from_csv(text: str) -> Invocation:
    try:
        header, *rows = list(csv.reader(io.StringIO(text)))
    except (csv.Error, ValueError) as err:  # ValueError: an empty body has no header
        raise ProtocolError(
            f"Failed to parse input as CSV with a header line. Error: {err}"
        ) from None
    if any(len(row) != len(header) for row in rows):
        raise ProtocolError(f"Every CSV line must have {len(header)} values, as the header has.")
    columns = {
        name: [None if row[i] in CSV_MISSING else row[i] for row in rows]
        for i, name in enumerate(header)
    }
    return Invocation(columns, len(rows))


def _from_parquet(body: bytes) -> Invocation:
    try:
        import pyarrow.parquet as pq  # the `train` extra: not in the serving image
    except ImportError:
        raise UnsupportedMediaTypeError(
            f"{PARQUET} needs pyarrow, which this server does not install: send {JSON} or {CSV}."
        ) from None
    try:
        table = pq.read_table(io.BytesIO(body))
    except Exception as err:  # pyarrow raises its own errors for a body that is not Parquet
        raise ProtocolError(f"Failed to parse input as Parquet. Error: {err}") from None
    columns: dict[str, list[Any]] = table.to_pydict()
    return Invocation(columns, table.num_rows)


def _numbers(name: str, values: Sequence[Any]) -> list[float]:
    """Numbers as MLflow converts a column to float64: ints, bools and numeric strings too."""
    numbers = []
    for value in values:
        if value is None:
            numbers.append(math.nan)
            continue
        if isinstance(value, (list, dict)):
            raise _not_a_number(name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _not_a_number(name) from None
        if math.isinf(number):  # the model's own check refuses them: MLflow answers 400
            raise ProtocolError(f"Column {name} has an infinite value.")
        numbers.append(number)
    return numbers


def _not_a_number(name: str) -> ProtocolError:
    return ProtocolError(
        "Invalid input. Data is not compatible with model signature."
        f" Failed to convert column {name} to type 'float64'."
    )


def _categories(name: str, values: Sequence[Any]) -> list[str | None]:
    """Categories as text; null and NaN are missing. A value the model never saw is scored as
    an unknown category, as MLflow passes it to the pipeline."""
    categories: list[str | None] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            categories.append(None)
        elif isinstance(value, (list, dict)):
            raise ProtocolError(
                f"Invalid input. Data is not compatible with model signature. Column {name}"
                " must hold text, not a list or an object."
            )
        else:
            # Text that is not valid Unicode (a lone surrogate) is an unknown category too.
            categories.append(str(value).encode("utf-8", "replace").decode("utf-8"))
    return categories
