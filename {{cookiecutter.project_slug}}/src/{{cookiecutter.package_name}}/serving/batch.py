"""Batch scoring: a CSV or Parquet file (or a folder of them) in, Parquet predictions out.

Chunked with Arrow, so memory stays flat on files larger than RAM. An Azure ML batch deployment
calls `score_files` on each mini-batch of files, as `make score` does locally.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..core.contract import Contract, Feature
from ..core.errors import UserError
from ..core.files import replaced_atomically
from ..core.predictor import Predictor

FORMATS = {".csv": "csv", ".parquet": "parquet"}


class BatchInputError(UserError):
    """The input does not fit the model's contract; the message names the column and rule."""


@dataclass(frozen=True)
class BatchResult:
    output: Path
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def score_files(
    source: Path, output: Path, predictor: Predictor, version: str, batch_rows: int = 65_536
) -> BatchResult:
    """Score every row of `source` into `output`, keeping the input columns and adding the
    prediction, one probability per class, the model version and the time of scoring.

    The output appears only when every row is scored: a bad row leaves no partial file.
    """
    dataset = _dataset(Path(source))
    _require_columns(dataset.schema.names, predictor.contract, str(source))
    scored_at = pa.scalar(datetime.now(timezone.utc), pa.timestamp("us", tz="UTC"))
    start, rows = time.perf_counter(), 0
    with replaced_atomically(Path(output)) as partial:
        writer = None
        try:
            for batch in dataset.to_batches(batch_size=batch_rows):
                if batch.num_rows:
                    table = _scored(batch, predictor, version, scored_at)
                    writer = writer or pq.ParquetWriter(partial, table.schema)
                    writer.write_table(table)
                    rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise BatchInputError(f"{source} has no rows to score")
    return BatchResult(output, rows, time.perf_counter() - start)


def _scored(
    batch: pa.RecordBatch, predictor: Predictor, version: str, scored_at: pa.Scalar
) -> pa.Table:
    """The batch with its predictions: label, a probability per class, model version, time."""
    labels, proba = predictor.predict(contract_columns(batch, predictor.contract))
    table = pa.Table.from_batches([batch]).append_column("prediction", pa.array(labels.astype(str)))
    for i, label in enumerate(predictor.classes):
        table = table.append_column(f"proba_{label}", pa.array(proba[:, i], pa.float64()))
    table = table.append_column("model_version", pa.array([version] * batch.num_rows))
    return table.append_column("scored_at", pa.repeat(scored_at, batch.num_rows))


def _dataset(source: Path) -> ds.Dataset:
    files = (
        sorted(p for p in source.rglob("*") if p.suffix in FORMATS) if source.is_dir() else [source]
    )
    if not files or not source.exists():
        raise BatchInputError(f"no CSV or Parquet file at {source}")
    formats = {FORMATS.get(p.suffix) for p in files}
    if len(formats) != 1 or None in formats:
        raise BatchInputError(f"{source}: give CSV files or Parquet files, one format at a time")
    kind = formats.pop()
    if kind == "csv":
        # Empty cells and NA-like strings are missing values in text columns too, as in pandas.
        convert = pacsv.ConvertOptions(strings_can_be_null=True)
        return ds.dataset([str(p) for p in files], format=ds.CsvFileFormat(convert_options=convert))
    return ds.dataset([str(p) for p in files], format=kind)


def contract_columns(batch: pa.RecordBatch, contract: Contract) -> dict[str, np.ndarray]:
    """The batch as the predictor's column arrays, held to the contract like an API request."""
    _require_columns(batch.schema.names, contract, "the input")
    return contract.to_columns(
        {f.name: _column(batch.column(f.name), f) for f in contract.features}
    )


def _require_columns(names: list[str], contract: Contract, what: str) -> None:
    missing = [name for name in contract.names if name not in names]
    if missing:
        raise BatchInputError(f"{what} lacks the column(s) {', '.join(missing)}")


def _column(values: pa.Array, feature: Feature) -> np.ndarray:
    """One column's values, checked against its feature: nulls, categories, numbers, range."""
    if not feature.nullable and values.null_count:
        raise BatchInputError(f"column '{feature.name}' has {values.null_count} missing value(s)")
    if feature.kind == "category":
        values = values.cast(pa.string())
        unknown = pc.unique(
            pc.filter(values, pc.invert(pc.is_in(values, pa.array(feature.categories))))
        )
        unknown = unknown.drop_null()
        if len(unknown):
            raise BatchInputError(
                f"column '{feature.name}' has values outside {list(feature.categories)}:"
                f" {unknown.to_pylist()[:5]}"
            )
        return np.asarray(values.to_numpy(zero_copy_only=False))
    try:
        numbers = values.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BatchInputError(
            f"column '{feature.name}' must be numeric, not {values.type}"
        ) from None
    low, high = feature.minimum, feature.maximum
    if low is not None or high is not None:
        outside = pc.or_(
            pc.less(numbers, low if low is not None else -np.inf),
            pc.greater(numbers, high if high is not None else np.inf),
        )
        count = pc.sum(outside).as_py() or 0
        if count:
            raise BatchInputError(
                f"column '{feature.name}' has {count} value(s) outside [{low}, {high}]"
            )
    return np.asarray(numbers.to_numpy(zero_copy_only=False))
