"""Training: fit the pipeline on the curated train set and log everything to one MLflow run."""

import json
import logging
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
import skops.io
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.models import infer_signature

from ..core.files import replaced_atomically
from ..core.predictor import ONNX_FILE
from ..core.schemas import FEATURES, TARGET, input_contract
from ..core.settings import Settings
from ..core.tracking import configure_tracking, git_tags
from ..data.prepare import TEST_FILE, TRAIN_FILE, read_curated
from .evaluate import baseline_score, evaluate
from .export import OnnxExport, export_onnx
from .model import build_model, model_params

log = logging.getLogger(__name__)

CANDIDATE_FILE = "candidate.json"


@dataclass(frozen=True)
class Candidate:
    """A trained model waiting for the gate: where it is logged and how it scored."""

    run_id: str
    model_uri: str
    metrics: dict[str, float]
    commit: str | None = None  # of the code; None outside a git repository

    def save(self, model_dir: Path) -> Path:
        """Hand the candidate to the register step (the next Azure ML job, or the next call)."""
        path = Path(model_dir) / CANDIDATE_FILE
        with replaced_atomically(path) as partial:
            partial.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, model_dir: Path) -> "Candidate":
        path = Path(model_dir) / CANDIDATE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no trained candidate in {model_dir}: run `train` first")
        return cls(**json.loads(path.read_text()))


def train(settings: Settings, curated_dir: Path, model_dir: Path) -> Candidate:
    """Fit, evaluate and log one model, with the lineage that makes it reproducible."""
    train_df, test_df = read_curated(curated_dir)
    configure_tracking(settings)
    with mlflow.start_run() as run:
        lineage = git_tags()
        mlflow.set_tags(lineage)
        for df, name, context in (
            (train_df, TRAIN_FILE, "training"),
            (test_df, TEST_FILE, "testing"),
        ):
            mlflow.log_input(_dataset(df, Path(curated_dir) / name), context=context)
        mlflow.log_params(model_params(settings))

        x_train = train_df[list(FEATURES)]
        model = build_model(settings).fit(x_train, train_df[TARGET])

        evaluation = evaluate(model, test_df, settings.seed, settings.importance_repeats)
        mlflow.log_metrics(evaluation.metrics)
        mlflow.log_metrics(
            {f"baseline_{k}": v for k, v in baseline_score(train_df, test_df).items()}
        )
        for name, figure in evaluation.figures.items():
            mlflow.log_figure(figure, f"plots/{name}")
            plt.close(figure)

        exported = export_onnx(model, test_df)
        _log_serving_flavor(exported)
        example = x_train.dropna().head(3)
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                # What the server reads without MLflow: the input contract, and the ONNX model
                # when the pipeline exported with parity (MLflow puts them in `extra_files/`).
                extra_files=_serving_files(exported, Path(tmp)),
                signature=infer_signature(x_train, model.predict(x_train)),
                input_example=example,
                # skops, MLflow's default, refuses to load any type not listed here: list the
                # types this pipeline is made of, so that the list is reviewable in the MLmodel
                # file (the server's fallback reads it from there too).
                serialization_format="skops",
                skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
                # Pinned from this environment; MLflow would otherwise import the model in a
                # subprocess to guess them, which costs seconds on every run.
                conda_env=_environment(),
            )
    commit = lineage.get("mlflow.source.git.commit")
    candidate = Candidate(run.info.run_id, info.model_uri, evaluation.metrics, commit)
    candidate.save(Path(model_dir))
    return candidate


def _environment() -> dict[str, Any]:
    """The model's environment: this Python and the versions of its libraries installed here.
    (Given as a conda environment, whose `pip` MLflow would otherwise try to version: uv's
    virtual environments have no pip, and MLflow warns on every run.)"""
    requirements = mlflow.sklearn.get_default_pip_requirements(include_skops=True)
    python = ".".join(map(str, sys.version_info[:3]))
    return {"dependencies": [f"python={python}", "pip", {"pip": requirements}]}


def _log_serving_flavor(exported: OnnxExport) -> None:
    """Say on the run which path will serve the model, and why when it is the slow one."""
    if exported.onnx is None:
        log.warning(
            "the model is not exported to ONNX, so the native pipeline will serve it (slowly): %s",
            exported.reason,
        )
        mlflow.set_tags({"serving.flavor": "sklearn", "serving.fallback_reason": exported.reason})
        return
    mlflow.set_tag("serving.flavor", "onnx")
    mlflow.log_metric("onnx_max_proba_diff", exported.max_proba_diff)


def _serving_files(exported: OnnxExport, folder: Path) -> list[str]:
    """The files the server reads without MLflow, written to `folder` for MLflow to copy."""
    files = [input_contract().save(folder)]
    if exported.onnx is not None:
        onnx_path = folder / ONNX_FILE
        onnx_path.write_bytes(exported.onnx)
        files.append(onnx_path)
    return [str(path) for path in files]


def _dataset(df: pd.DataFrame, path: Path) -> PandasDataset:
    """The dataset with its digest and source, so the run says exactly what it learned from."""
    with warnings.catch_warnings():
        # MLflow registers its local-file source twice and warns that it cannot choose.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        return mlflow.data.from_pandas(
            df, source=str(path.resolve()), targets=TARGET, name=path.name
        )
