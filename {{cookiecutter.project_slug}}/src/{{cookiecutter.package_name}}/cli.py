"""The command line: one command per pipeline step, and `pipeline` for the whole local loop.

Locally the folders default to the settings (data/raw, data/refined, data/curated); in an Azure
ML job they are the job's input and output folders (see azureml/pipeline.yml).
"""

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from .settings import ServingSettings, Settings

app = typer.Typer(
    help="{{ cookiecutter.project_name }}: prepare data, train, register and predict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Folder = Annotated[Path | None, typer.Option(help="Defaults to the setting of the same name.")]
ModelDir = Annotated[Path, typer.Option(help="Where `train` leaves the candidate for `register`.")]
DEFAULT_MODEL_DIR = Path("models/candidate")


AnySettings = TypeVar("AnySettings", Settings, ServingSettings)


def load_settings(kind: type[AnySettings] = Settings) -> AnySettings:
    """The settings from the environment; a bad value ends the command with its variable named."""
    try:
        return kind()
    except ValidationError as err:
        prefix = kind.model_config["env_prefix"]
        for error in err.errors():
            field = str(error["loc"][0])
            variable = field if field.isupper() else prefix + field.upper()  # aliases: MODEL_URI
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
    from .serving.batch import BatchInputError
    from .serving.source import ModelNotFoundError
    from .training.register import GateFailedError

    typer.secho(f"» {name}...", fg=typer.colors.CYAN, err=True)
    start = time.perf_counter()
    try:
        yield
    except (
        BatchInputError,
        DataValidationError,
        FileNotFoundError,
        GateFailedError,
        MlflowException,
        ModelNotFoundError,
    ) as err:
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
def register(
    curated_dir: Folder = None,
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
    outcome_dir: Annotated[
        Path | None,
        typer.Option(help="Also write registration.json here: what a release deploys."),
    ] = None,
) -> None:
    """Gate the candidate against the baseline and the champion; register and move aliases."""
    from .training.register import register as run_register

    settings = load_settings()
    with step("register"):
        done = run_register(settings, curated_dir or settings.curated_dir, model_dir)
    if outcome_dir:
        done.write(outcome_dir / "registration.json", settings.model_name)
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
    import pyarrow as pa

    from .data.layers import TEST_FILE
    from .serving.batch import contract_columns
    from .serving.runtime import load_predictor
    from .serving.source import locate_model

    settings = load_settings()
    path = input_path or settings.curated_dir / TEST_FILE
    model_uri = f"models:/{settings.model_name}@{alias}"
    with step(f"predict with {settings.model_name}@{alias}"):
        records = (pd.read_parquet if path.suffix == ".parquet" else pd.read_csv)(path).head(rows)
        # The path the API and batch scoring take: the same checks, the same model file.
        predictor = load_predictor(locate_model(ServingSettings(model_uri=model_uri)).folder)
        batch = pa.RecordBatch.from_pandas(records, preserve_index=False)
        labels, proba = predictor.predict(contract_columns(batch, predictor.contract))
    probabilities = {f"proba_{c}": proba[:, i].round(4) for i, c in enumerate(predictor.classes)}
    typer.echo(records.assign(prediction=labels, **probabilities).to_string(index=False))


@app.command()
def serve() -> None:
    """Serve the model over HTTP: MODEL_URI (or AZUREML_MODEL_DIR), SERVING_PORT, SERVING_WORKERS."""
    import uvicorn

    settings = load_settings(ServingSettings)
    uvicorn.run(
        "{{ cookiecutter.package_name }}.serving.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,  # the app logs JSON itself
        access_log=False,  # one structured line per request comes from the app
    )


@app.command()
def score(
    input_path: Annotated[Path, typer.Argument(help="A CSV or Parquet file, or a folder of them.")],
    output: Annotated[Path, typer.Option(help="The Parquet file to write.")] = Path(
        "data/predictions/predictions.parquet"
    ),
) -> None:
    """Batch scoring with the model of MODEL_URI (default: the champion); prints rows/s."""
    from .serving.batch import score_files
    from .serving.runtime import load_predictor
    from .serving.source import locate_model

    settings = load_settings(ServingSettings)
    if not (settings.model_uri or settings.azureml_model_dir):
        champion = f"models:/{load_settings().model_name}@champion"
        settings = settings.model_copy(update={"model_uri": champion})
    with step(f"score {input_path}"):
        source = locate_model(settings)
        predictor = load_predictor(source.folder, threads=0)  # batches: one thread per core
        done = score_files(input_path, output, predictor, source.version, settings.batch_rows)
    typer.echo(
        f"{done.rows} rows scored by version {source.version} ({predictor.flavor})"
        f" in {done.seconds:.2f} s: {done.rows_per_second:,.0f} rows/s -> {done.output}"
    )


@app.command()
def smoke(
    url: Annotated[str, typer.Argument(help="The scoring URL, e.g. http://127.0.0.1:8000/predict")],
    request: Annotated[Path, typer.Option(help="Records and expected predictions (JSON).")] = Path(
        "azureml/smoke-request.json"
    ),
    deployment: Annotated[
        str | None, typer.Option(help="Azure ML deployment to call directly, bypassing traffic.")
    ] = None,
    expect_version: Annotated[str | None, typer.Option(help="Model version to insist on.")] = None,
    attempts: Annotated[int, typer.Option(min=1, help="Calls that must all be right.")] = 1,
) -> None:
    """Smoke-test a running server: known records must get their expected predictions.

    The key of an Azure ML endpoint is read from SCORING_KEY, never from the command line.
    """
    from .serving.smoke import SmokeRequest, SmokeTestError, smoke_test

    headers = {}
    if key := os.environ.get("SCORING_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    try:
        version = smoke_test(
            url,
            SmokeRequest.read(request),
            headers=headers,
            expected_version=expect_version,
            attempts=attempts,
        )
    except SmokeTestError as err:
        typer.secho(f"✗ smoke test failed: {err}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"✓ {url}: {attempts} right answer(s) from model version {version}")
{%- if cookiecutter.maturity_level == "2" %}


@app.command()
def drift(
    current: Annotated[
        Path,
        typer.Argument(help="New data: a CSV or Parquet file, or a data collector's folder."),
    ],
    reference: Annotated[
        Path | None, typer.Option(help="Compare with this file, not the champion's training set.")
    ] = None,
    output_dir: Annotated[Path, typer.Option(help="Where drift.json and drift.html go.")] = Path(
        "reports/drift"
    ),
    window_days: Annotated[
        float, typer.Option(min=0, help="For a collector's folder: the days to read back.")
    ] = 7,
) -> None:
    """Compare CURRENT with the champion's training data: exit 0 no drift, 1 drift, 2 bad input."""
    from .monitoring.command import main as run_drift

    settings = load_settings()
    raise typer.Exit(run_drift(current, settings, reference, output_dir, window_days))


@app.command()
def should_retrain(
    drift_json: Annotated[Path, typer.Argument(help="The drift.json that `drift` wrote.")],
    labelled: Annotated[
        Path | None, typer.Option(help="Recent production data with labels (CSV or Parquet).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Where the decision goes (JSON).")] = Path(
        "reports/drift/decision.json"
    ),
) -> None:
    """Apply the retraining policy (monitoring/policy.py) to a drift report; write the decision."""
    import json

    import pandas as pd

    from .monitoring import policy

    try:
        summary = json.loads(drift_json.read_text(encoding="utf-8"))
        data = None
        if labelled:
            data = (pd.read_parquet if labelled.suffix == ".parquet" else pd.read_csv)(labelled)
    except (OSError, ValueError) as err:
        typer.secho(f"✗ should-retrain: {err}", fg="red", err=True)
        raise typer.Exit(2) from None
    with step("should we retrain?"):
        decision = policy.should_retrain(policy.gather_evidence(summary, load_settings(), data))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"retrain": decision.retrain, "reasons": decision.reasons}))
    verdict = "retrain" if decision.retrain else "no retraining"
    typer.echo(f"{verdict}: {'; '.join(decision.reasons)}")
{%- endif %}
