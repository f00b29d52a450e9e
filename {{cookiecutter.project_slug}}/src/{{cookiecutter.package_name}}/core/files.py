"""Files that readers never see half-written."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to. When the block ends, that file replaces
    `path` in one step; when it raises, the file is removed and `path` stays as it was."""
    with replaced_together(path) as (partial,):
        yield partial


@contextmanager
def replaced_together(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """Like `replaced_atomically`, for files that belong together (a train/test split, a report
    and its data): all are written first, then each replaces its target, one rename after the
    other. A failure, or a kill, while writing leaves every target as it was; only a kill in
    the microseconds between two renames can mix old and new files, which a manifest written
    last can detect (see data/prepare.py)."""
    targets = [Path(path) for path in paths]
    partials = tuple(path.with_name(f".{path.name}.partial") for path in targets)
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield partials
        for partial, path in zip(partials, targets, strict=True):
            os.replace(partial, path)
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)
