"""The command line: one command per pipeline step, and `pipeline` for the whole local loop.

Locally the folders default to the settings (data/raw, data/refined, data/curated); in an Azure
ML job they are the job's input and output folders (see azureml/pipeline.yml).
"""

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from .settings import Settings

app = typer.Typer(
    help="{{ cookiecutter.project_name }}: prepare data, train, register and predict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Folder = Annotated[Path | None, typer.Option(help="Defaults to the setting of the same name.")]
ModelDir = Annotated[Path, typer.Option(help="Where `train` leaves the candidate for `register`.")]
DEFAULT_MODEL_DIR = Path("models/candidate")


def load_settings() -> Settings:
    """The settings from the environment; a bad value ends the command with its variable named."""
    try:
        return Settings()
    except ValidationError as err:
        prefix = Settings.model_config["env_prefix"]
        for error in err.errors():
            variable = prefix + "_".join(map(str, error["loc"])).upper()
            typer.secho(f"✗ {variable}={error['input']!r}: {error['msg']}", fg="red", err=True)
        raise typer.Exit(2) from None


@contextmanager
def step(name: str) -> Iterator[None]:
    """Say what runs and how long it took, so that a long step never looks hung.

    Expected failures (bad data, a failed gate, a missing input) end the command with their
    message and exit code 1, without a traceback.
    """
    from mlflow.exceptions import MlflowException

    from .data.ingest import DataValidationError
    from .training.register import GateFailedError

    typer.secho(f"» {name}...", fg=typer.colors.CYAN, err=True)
    start = time.perf_counter()
    try:
        yield
    except (DataValidationError, GateFailedError, FileNotFoundError, MlflowException) as err:
        typer.secho(f"✗ {name} failed: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.secho(f"✓ {name} ({time.perf_counter() - start:.1f} s)", fg=typer.colors.GREEN, err=True)


@app.command()
def prepare(raw_dir: Folder = None, refined_dir: Folder = None, curated_dir: Folder = None) -> None:
    """Validate the raw layer, write the refined layer and the curated train/test split."""
    from .data.layers import prepare as run_prepare

    settings = load_settings()
    with step("prepare"):
        done = run_prepare(
            raw_dir or settings.raw_dir,
            refined_dir or settings.refined_dir,
            curated_dir or settings.curated_dir,
            settings.test_size,
            settings.seed,
        )
    typer.echo(f"{done.rows} rows -> {done.refined}, {done.train}, {done.test}")


@app.command()
def train(curated_dir: Folder = None, model_dir: ModelDir = DEFAULT_MODEL_DIR) -> None:
    """Train the model, evaluate it and log the run (params, metrics, plots, model) to MLflow."""
    from .training.train import train as run_train

    settings = load_settings()
    with step("train"):
        candidate = run_train(settings, curated_dir or settings.curated_dir, model_dir)
    shown = ("accuracy", "f1_macro", "roc_auc_ovr")
    typer.echo(
        f"run {candidate.run_id}: " + ", ".join(f"{k} {candidate.metrics[k]:.3f}" for k in shown)
    )


@app.command()
def register(curated_dir: Folder = None, model_dir: ModelDir = DEFAULT_MODEL_DIR) -> None:
    """Gate the candidate against the baseline and the champion; register and move aliases."""
    from .training.register import register as run_register

    settings = load_settings()
    with step("register"):
        done = run_register(settings, curated_dir or settings.curated_dir, model_dir)
    name = settings.model_name
    typer.echo(f"{name} version {done.version} is challenger ({done.verdict.explain()})")
    if done.champion_version == done.version:
        typer.echo(f"{name} version {done.version} is the new champion")
    else:
        typer.echo(f"the champion stays version {done.champion_version}: the candidate is worse")


@app.command()
def pipeline() -> None:
    """The whole loop on the local default: prepare -> train -> register."""
    with tempfile.TemporaryDirectory() as model_dir:
        prepare()
        train(model_dir=Path(model_dir))
        register(model_dir=Path(model_dir))


@app.command()
def predict(
    input_path: Annotated[
        Path | None, typer.Argument(help="CSV or Parquet file; defaults to the test set.")
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="How many rows to show.")] = 5,
    alias: str = "champion",
) -> None:
    """Print predictions of a registered model (the champion by default)."""
    import pandas as pd

    from .data.layers import TEST_FILE
    from .serving.predict import predict as run_predict
    from .training.tracking import configure_tracking, load_model

    settings = load_settings()
    path = input_path or settings.curated_dir / TEST_FILE
    with step(f"predict with {settings.model_name}@{alias}"):
        records = (pd.read_parquet if path.suffix == ".parquet" else pd.read_csv)(path).head(rows)
        configure_tracking(settings)
        predictions = run_predict(load_model(f"models:/{settings.model_name}@{alias}"), records)
    typer.echo(pd.concat([records, predictions], axis=1).to_string(index=False))
