"""Where MLflow writes, and the lineage every run carries."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from filelock import FileLock, Timeout
from mlflow.exceptions import MlflowException as MlflowException  # re-exported for callers
from sklearn.pipeline import Pipeline

from .errors import UserError
from .settings import Settings

LOCK_TIMEOUT = 600  # seconds to wait for another process's hold on the local store


def in_azureml_job() -> bool:
    """Azure ML jobs come with their own MLflow run, experiment and tracking server."""
    return "AZUREML_RUN_ID" in os.environ


def use_tracking_store(settings: Settings) -> str:
    """Use the platform's tracking server when there is one, else the embedded default.

    An explicit MLFLOW_TRACKING_URI (set by Azure ML inside a job, or by you) is never overridden.
    """
    if "MLFLOW_TRACKING_URI" not in os.environ:
        database = _local_database(settings.tracking_uri)
        # Absolute: MLflow caches a store per URI, so a relative one would keep pointing at the
        # folder it was first opened from.
        absolute = settings.tracking_uri if database is None else f"sqlite:///{database.resolve()}"
        mlflow.set_tracking_uri(absolute)
    uri = str(mlflow.get_tracking_uri())
    if _local_database(uri) is not None:
        with exclusive(uri):
            # A new store creates its tables on first use: two processes doing it at once
            # would both run the migrations, and one would crash.
            mlflow.search_experiments(max_results=1)
    return uri


@contextmanager
def exclusive(uri: str | None = None) -> Iterator[None]:
    """Hold the local MLflow store (a SQLite file) for this process alone: while its tables are
    created, and while `register` compares a candidate with the champion and moves the alias,
    so that two registrations at once cannot both beat the same old champion. A store on a
    server (Azure ML's) has no file to lock: there, the release workflow registers one model at
    a time (one concurrency group)."""
    database = _local_database(uri or str(mlflow.get_tracking_uri()))
    if database is None:
        yield
        return
    lock = FileLock(f"{database}.lock")
    try:
        lock.acquire(timeout=LOCK_TIMEOUT)
    except Timeout:
        raise StoreBusyError(
            f"another process has held {lock.lock_file} for {LOCK_TIMEOUT} s: is a `train` or"
            " `register` stuck? End it and run this again"
        ) from None
    try:
        yield
    finally:
        lock.release()


class StoreBusyError(UserError):
    """Another process holds the local store for too long."""


def _local_database(uri: str) -> Path | None:
    """The file of a `sqlite:///<path>` store; None for any other store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri == prefix:
        return None
    return Path(uri.removeprefix(prefix))


def configure_tracking(settings: Settings) -> str:
    """The tracking store, and this project's experiment unless Azure ML chose the run."""
    uri = use_tracking_store(settings)
    if not in_azureml_job():
        with exclusive(uri):  # two first runs at once would both create the experiment
            mlflow.set_experiment(settings.experiment_name)
    return uri


def git_tags() -> dict[str, str]:
    """The commit the code came from, and whether the working tree had uncommitted changes."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {}  # not a git checkout: Azure ML records the snapshot's commit itself
    return {"mlflow.source.git.commit": commit, "git.dirty": str(dirty).lower()}


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def load_model(model_uri: str) -> Pipeline:
    """Load a model this project logged (`runs:/...`, `models:/name@alias` or a folder).

    MLflow refuses to deserialize a model unless told that its source is trusted, whatever the
    format; the registry here only holds models this pipeline trained.
    """
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    return mlflow.sklearn.load_model(model_uri)


def describe(err: MlflowException) -> str:
    """MLflow's message, with what to do when the registry has no such model or alias yet."""
    if err.error_code == "RESOURCE_DOES_NOT_EXIST":
        return f"{err.message} (`make train` trains a model and registers it as the champion)"
    return str(err.message)


def download_model(model_uri: str, destination: Path | None = None) -> Path:
    """A local copy of a model (`models:/<name>@<alias>`, `runs:/...`): the folder to serve.
    Raises MlflowException for a model the store does not have."""
    return Path(
        mlflow.artifacts.download_artifacts(
            model_uri, dst_path=None if destination is None else str(destination)
        )
    )
