"""Where MLflow writes, and the lineage every run carries."""

import os
import subprocess
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException as MlflowException  # re-exported for callers
from sklearn.pipeline import Pipeline

from .settings import Settings


def in_azureml_job() -> bool:
    """Azure ML jobs come with their own MLflow run, experiment and tracking server."""
    return "AZUREML_RUN_ID" in os.environ


def use_tracking_store(settings: Settings) -> str:
    """Use the platform's tracking server when there is one, else the embedded default.

    An explicit MLFLOW_TRACKING_URI (set by Azure ML inside a job, or by you) is never overridden.
    """
    if "MLFLOW_TRACKING_URI" not in os.environ:
        mlflow.set_tracking_uri(settings.tracking_uri)
    return str(mlflow.get_tracking_uri())


def configure_tracking(settings: Settings) -> str:
    """The tracking store, and this project's experiment unless Azure ML chose the run."""
    uri = use_tracking_store(settings)
    if not in_azureml_job():
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


def download_model(model_uri: str, destination: Path | None = None) -> Path:
    """A local copy of a model (`models:/<name>@<alias>`, `runs:/...`): the folder to serve.
    Raises MlflowException for a model the store does not have."""
    return Path(
        mlflow.artifacts.download_artifacts(
            model_uri, dst_path=None if destination is None else str(destination)
        )
    )
