"""A time window of what the data collector stored, read back for drift detection.

Azure ML writes each collection under
`modelDataCollector/<endpoint>/<deployment>/<collection>/YYYY/MM/DD/HH/<instance>.jsonl`
in the workspace's blob store: one JSON object per line, whose `data` holds the records of one
or more requests (the `model_inputs` of `collector.py`, as `DataFrame.to_json(orient="records")`
wrote them). Point `read_window` at a collection folder, or at an endpoint's folder to read
the inputs of every deployment it had in the window (releases replace deployments).
"""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from .inputs import DriftInputError, features_of, no_rows


class NoCollectedDataError(DriftInputError):
    """Nothing was ever collected in the folder: a wrong folder, or no collection at all."""


def read_window(
    folder: Path, days: float, now: datetime | None = None, collection: str = "model_inputs"
) -> pd.DataFrame:
    """The contract's features of every record collected in the `days` before `now` (UTC).

    A file belongs to the window when its hour (or day, for a daily layout without the HH
    level) overlaps it: the folder names are the collection times, so no file is opened to
    decide. Missing values stay missing; a record without a contract feature is an error.
    """
    folder = Path(folder)
    end = _utc(now or datetime.now(timezone.utc))
    start = end - timedelta(days=days)
    records: list[dict[str, object]] = []
    collected = False
    for path in sorted(folder.rglob("*.jsonl")):
        relative = path.relative_to(folder)
        if folder.name != collection and collection not in relative.parts:
            continue  # another collection (model_outputs) of the same endpoint
        span = _partition(relative)
        collected = collected or span is not None
        if span is not None and span[0] <= end and span[1] > start:
            records.extend(_records(path))
    if not collected:
        raise NoCollectedDataError(
            f"no data was ever collected in {folder} (expected files YYYY/MM/DD/HH/*.jsonl"
            " under it): is it the data collector's folder of the endpoint?"
        )
    if not records:  # a quiet window: not enough data to decide, not an error
        return no_rows()
    return features_of(pd.DataFrame.from_records(records), f"data collected in {folder}")


def _partition(relative: Path) -> tuple[datetime, datetime] | None:
    """The time span of a .../YYYY/MM/DD[/HH]/<file> path; None for any other file."""
    folders = list(relative.parts[:-1])
    parts: list[str] = []
    while folders and folders[-1].isdigit():
        parts.insert(0, folders.pop())
    if len(parts) not in (3, 4):
        return None
    try:
        year, month, day, hour = (*map(int, parts), 0)[:4]
        begin = datetime(year, month, day, hour, tzinfo=timezone.utc)
    except ValueError:
        return None
    return begin, begin + (timedelta(hours=1) if len(parts) == 4 else timedelta(days=1))


def _records(path: Path) -> list[dict[str, object]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            data = event.get("data")
        except (ValueError, AttributeError):
            raise DriftInputError(f"{path}, line {number}: not a data collector event") from None
        if not isinstance(data, list):  # a payload over 4 MB is stored apart, under `dataref`
            where = event.get("dataref") or repr(data)[:80]
            raise DriftInputError(f"{path}, line {number}: the records are not inline: {where}")
        records.extend(data)
    return records


def _utc(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC, as the collector's folder names are."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
