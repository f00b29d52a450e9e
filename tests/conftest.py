"""Shared fixtures of the template's tests."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _baker(cookies: Any) -> Callable[..., Path]:
    def bake_with(**context: str) -> Path:
        result = cookies.bake(extra_context=context)
        assert result.exception is None, result.exception
        assert result.exit_code == 0
        return Path(result.project_path)

    return bake_with


@pytest.fixture
def bake(cookies: Any) -> Callable[..., Path]:
    """Bake with the given answers and return the project folder, failing on any error."""
    return _baker(cookies)


@pytest.fixture(scope="session")
def bake_once(cookies_session: Any) -> Callable[..., Path]:
    """Like `bake`, but each set of answers is baked once per session (and worker): for tests
    that only read the project, lint it or dry-run its scripts."""
    bake_with, baked = _baker(cookies_session), {}

    def bake_cached(**context: str) -> Path:
        key = tuple(sorted(context.items()))
        if key not in baked:
            baked[key] = bake_with(**context)
        return baked[key]

    return bake_cached
