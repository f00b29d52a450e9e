"""What every command shares: settings read from the environment, and steps that say what runs,
how long it took, and why it failed, without a traceback for a failure the user can fix."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from .errors import UserError

AnySettings = TypeVar("AnySettings", bound=BaseSettings)


def load_settings(kind: type[AnySettings]) -> AnySettings:
    """The settings from the environment; a bad value ends the command with its variable named."""
    try:
        return kind()
    except ValidationError as err:
        prefix = str(kind.model_config.get("env_prefix", ""))
        for error in err.errors():
            field = str(error["loc"][0])
            variable = field if field.isupper() else prefix + field.upper()  # aliases: MODEL_URI
            typer.secho(f"✗ {variable}={error['input']!r}: {error['msg']}", fg="red", err=True)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as a failure; raise the result to end the command with `code`."""
    typer.secho(f"✗ {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Say what runs and how long it took, so that a long step never looks hung.

    A `UserError` (bad data, a failed gate), a missing file or an MLflow error (an unknown model,
    an unreachable tracking server) ends the command with its message and exit code 1.
    """
    from mlflow.exceptions import MlflowException  # the `train` extra, which every step needs

    typer.secho(f"» {name}...", fg=typer.colors.CYAN, err=True)
    start = time.perf_counter()
    try:
        yield
    except (UserError, OSError, MlflowException) as err:
        raise fail(f"{name} failed: {err}") from None
    typer.secho(f"✓ {name} ({time.perf_counter() - start:.1f} s)", fg=typer.colors.GREEN, err=True)
