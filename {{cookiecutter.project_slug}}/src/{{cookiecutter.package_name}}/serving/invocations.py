"""MLflow's scoring protocol: the four payload shapes `mlflow models serve` accepts, as records."""

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class PayloadError(ValueError):
    """The payload is well-formed JSON but not a table of records."""


class DataFrameSplit(BaseModel):
    """pandas' `split` orient: column names, then rows."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str]
    data: list[list[Any]]
    index: list[Any] | None = None


class InvocationRequest(BaseModel):
    """Exactly one of the four input keys, and optional inference `params` (ignored here)."""

    model_config = ConfigDict(extra="forbid")

    dataframe_split: DataFrameSplit | None = None
    dataframe_records: list[dict[str, Any]] | None = None
    instances: list[dict[str, Any]] | None = None
    inputs: dict[str, list[Any]] | list[dict[str, Any]] | None = None
    params: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> "InvocationRequest":
        given = [
            k
            for k in ("dataframe_split", "dataframe_records", "instances", "inputs")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of dataframe_split, dataframe_records, instances or inputs"
                f" (got {', '.join(given) or 'none'})"
            )
        return self


def to_records(request: InvocationRequest) -> list[dict[str, Any]]:
    """Whatever the shape, a list of {column: value} records."""
    if split := request.dataframe_split:
        if any(len(row) != len(split.columns) for row in split.data):
            raise PayloadError(
                f"every row of dataframe_split must have {len(split.columns)} values"
            )
        return [dict(zip(split.columns, row, strict=True)) for row in split.data]
    if request.dataframe_records is not None:
        return request.dataframe_records
    if request.instances is not None:
        return request.instances
    inputs = request.inputs
    if isinstance(inputs, dict):
        lengths = {len(values) for values in inputs.values()}
        if len(lengths) > 1:
            raise PayloadError("every column of inputs must have the same number of values")
        return [dict(zip(inputs, row, strict=True)) for row in zip(*inputs.values(), strict=True)]
    return inputs or []
