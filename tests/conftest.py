"""Shared fixtures of the template's tests."""

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def bake(cookies) -> Callable[..., Path]:
    """Bake with the given answers and return the project folder, failing on any error."""

    def bake_with(**context: str) -> Path:
        result = cookies.bake(extra_context=context)
        assert result.exception is None, result.exception
        assert result.exit_code == 0
        return Path(result.project_path)

    return bake_with
