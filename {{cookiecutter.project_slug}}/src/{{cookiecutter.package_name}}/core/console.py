"""What every command shares: settings read from the environment, and steps that say what runs,
how long it took, and why it failed, without a traceback for a failure the user can fix."""

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
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
    an unreachable tracking server) ends the command with its message and exit code 1. SIGTERM
    (a cancelled Azure ML job, `kill`) stops the step as Ctrl-C does: the MLflow run ends as
    FAILED rather than RUNNING forever, and no half-written file is left; exit code 130.
    """
    from mlflow.exceptions import MlflowException  # the `train` extra, which every step needs

    typer.secho(f"» {name}...", fg=typer.colors.CYAN, err=True)
    start = time.perf_counter()
    try:
        with _sigterm_as_interrupt():
            yield
    except MlflowException as err:
        from .tracking import describe

        raise fail(f"{name} failed: {describe(err)}") from None
    except (UserError, OSError) as err:
        raise fail(f"{name} failed: {err}") from None
    except KeyboardInterrupt:
        raise fail(f"{name} stopped: what it had written so far is discarded", 130) from None
    typer.secho(f"✓ {name} ({time.perf_counter() - start:.1f} s)", fg=typer.colors.GREEN, err=True)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
