"""The reference data of a model: the training set its run logged, found through MLflow lineage.

The training run logs its train and test sets with `mlflow.log_input` (source path and digest).
Following model -> run -> training input -> file means no path is typed by hand, and checking
the digest means the file is still the data the model learned from.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Dataset
from mlflow.exceptions import MlflowException

from ..core.errors import UserError
from ..core.schemas import Curated
from ..core.tracking import describe
from ..data.ingest import validate
from .inputs import features_of

TRAINING_CONTEXT = "training"  # the `context` train.py gives mlflow.log_input


class LineageError(UserError):
    """The model's training data cannot be found or trusted; the message says what to do."""


@dataclass(frozen=True)
class Reference:
    """The features to compare against, and where they come from (for the report)."""

    data: pd.DataFrame
    lineage: dict[str, str | None] = field(default_factory=dict)


def reference_for(model_uri: str) -> Reference:
    """The training set of `model_uri` (`models:/<name>@<alias>`, `models:/<name>/<version>`
    or `runs:/<run id>/...`), in the tracking store MLflow is configured for."""
    client = MlflowClient()
    try:
        version, run_id = resolve(client, model_uri)
        dataset = _training_dataset(client, run_id)
    except MlflowException as err:
        raise LineageError(f"{model_uri}: {describe(err)}") from None
    path = _local_file(dataset, run_id)
    data = validate(pd.read_parquet(path), Curated, layer=f"reference {path}")
    if (digest := mlflow.data.from_pandas(data).digest) != dataset.digest:
        raise LineageError(
            f"the training set {path} changed since run {run_id} trained on it (digest {digest},"
            f" logged {dataset.digest}): train again, or pass the data it learned from"
        )
    lineage = {
        "model_uri": model_uri,
        "model_version": version,
        "run_id": run_id,
        "dataset": dataset.name,
        "digest": dataset.digest,
        "source": str(path),
    }
    return Reference(features_of(data, f"reference data {path}"), lineage)


def resolve(client: MlflowClient, model_uri: str) -> tuple[str | None, str]:
    """The model version (None for a bare run) and the run that trained it."""
    if model_uri.startswith("runs:/"):
        return None, model_uri.removeprefix("runs:/").split("/")[0]
    name, at, alias = model_uri.removeprefix("models:/").partition("@")
    if not model_uri.startswith("models:/") or not name:
        raise LineageError(f"{model_uri}: expected models:/<name>@<alias> or runs:/<run id>")
    if at:
        found = client.get_model_version_by_alias(name, alias)
    else:
        name, _, number = name.partition("/")
        found = client.get_model_version(name, number)
    if not found.run_id:
        raise LineageError(f"{model_uri}: version {found.version} was not registered from a run")
    return str(found.version), found.run_id


def _training_dataset(client: MlflowClient, run_id: str) -> Dataset:
    for dataset_input in client.get_run(run_id).inputs.dataset_inputs:
        tags = {tag.key: tag.value for tag in dataset_input.tags}
        if tags.get("mlflow.data.context") == TRAINING_CONTEXT:
            return dataset_input.dataset
    raise LineageError(
        f"run {run_id} logged no training dataset (mlflow.log_input with context"
        f" '{TRAINING_CONTEXT}'): pass the reference data explicitly"
    )


def _local_file(dataset: Dataset, run_id: str) -> Path:
    uri = str(json.loads(dataset.source or "{}").get("uri", ""))
    path = Path(uri.removeprefix("file://"))
    if not uri or not path.is_file():
        raise LineageError(
            f"the training set of run {run_id} ({uri or dataset.source_type}) is not a file on this"
            " machine (a run in Azure ML, or a cleaned data folder?): pass a copy of it explicitly"
        )
    return path
