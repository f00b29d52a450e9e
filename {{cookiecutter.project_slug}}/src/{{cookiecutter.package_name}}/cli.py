"""The command line: one command per pipeline step, `pipeline` for the whole local loop, and
the commands that serve and score. The optional parts a higher level adds bring their own
commands (`plugins.py`). Each command imports its stage when it runs: `--help` stays fast.

Locally the folders default to the settings (data/raw, data/refined, data/curated); in an Azure
ML job they are the job's input and output folders (see azureml/pipeline.yml).
"""

import os
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from . import plugins
from .core.console import fail, load_settings, step
from .core.errors import UserError
from .core.settings import ServingSettings, Settings

# MLflow's INFO lines and progress bars would bury what each step says: warnings and errors
# only (MLFLOW_LOGGING_LEVEL=INFO brings them back).
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = typer.Typer(
    help="{{ cookiecutter.project_name }}: prepare data, train, register, serve and score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Folder = Annotated[Path | None, typer.Option(help="Defaults to the setting of the same name.")]
ModelDir = Annotated[Path, typer.Option(help="Where `train` leaves the candidate for `register`.")]
DEFAULT_MODEL_DIR = Path("models/candidate")


@app.command()
def prepare(raw_dir: Folder = None, refined_dir: Folder = None, curated_dir: Folder = None) -> None:
    """Validate the raw layer, write the refined layer and the curated train/test split."""
    from .data.prepare import prepare as run_prepare

    settings = load_settings(Settings)
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
    from .core.tracking import in_azureml_job
    from .training.train import train as run_train

    settings = load_settings(Settings)
    with step("train"):
        candidate = run_train(settings, curated_dir or settings.curated_dir, model_dir)
    shown = ("accuracy", "f1_macro", "roc_auc_ovr")
    typer.echo(
        f"run {candidate.run_id}: " + ", ".join(f"{k} {candidate.metrics[k]:.3f}" for k in shown)
    )
    if candidate.commit is None and not in_azureml_job():  # Azure ML records its own snapshot
        typer.echo(
            "note: the run records no code version, as this is not a git repository yet"
            " (`git init`, then commit: every run after that names its commit)"
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

    settings = load_settings(Settings)
    with step("register"):
        done = run_register(settings, curated_dir or settings.curated_dir, model_dir)
    if outcome_dir:
        done.write(outcome_dir / "registration.json", settings.model_name)
    name = settings.model_name
    if done.version is None:
        typer.echo(
            f"nothing registered: the champion, {name} version {done.champion_version}, gives"
            " the same answers on the test set (unchanged code, data and parameters?)"
        )
        return
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
    import pyarrow as pa

    from .core.predictor import load_predictor
    from .data.ingest import read_table
    from .data.prepare import TEST_FILE
    from .serving.batch import contract_columns
    from .serving.source import locate_model

    settings = load_settings(Settings)
    path = input_path or settings.curated_dir / TEST_FILE
    if input_path is None and not path.is_file():
        raise fail(f"predict: no test set at {path} yet: `make train` prepares it (or give a file)")
    model_uri = f"models:/{settings.model_name}@{alias}"
    with step(f"predict with {settings.model_name}@{alias}"):
        records = read_table(path).head(rows)
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

    from .serving.source import locate_model

    settings = load_settings(ServingSettings)
    try:
        # Found once, here: a bad MODEL_URI ends the command with its reason, and the workers
        # load the folder (a registry URI is downloaded once, not once per worker).
        source = locate_model(settings)
    except UserError as err:
        raise fail(f"serve: {err}") from None
    try:
        # uvicorn would report a busy port after "startup complete", with a C++ abort at exit.
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.create_server((settings.host, settings.port), family=family):
            pass
    except OSError as err:
        raise fail(
            f"serve: cannot listen on {settings.host}:{settings.port} ({err.strerror}):"
            " is another server running there? Stop it, or set SERVING_PORT"
        ) from None
    os.environ["MODEL_URI"] = str(source.folder)
    uvicorn.run(
        "{{ cookiecutter.package_name }}.asgi:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="{{ cookiecutter.package_name }}.serving.protocol:DeadlineProtocol",
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
    from .core.predictor import load_predictor
    from .serving.batch import score_files
    from .serving.source import locate_model

    settings = load_settings(ServingSettings)
    if not (settings.model_uri or settings.azureml_model_dir):
        champion = f"models:/{load_settings(Settings).model_name}@champion"
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
    url: Annotated[
        str, typer.Argument(help="The scoring URL, e.g. http://127.0.0.1:8000/invocations")
    ],
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
        records = SmokeRequest.read(request)
        version = smoke_test(
            url,
            records,
            headers=headers,
            expected_version=expect_version,
            attempts=attempts,
        )
    except SmokeTestError as err:
        raise fail(f"smoke test failed: {err}") from None
    typer.echo(
        f"✓ {url}: {len(records.records)} records predicted right, {attempts} time(s) out of"
        f" {attempts}, by model version {version}"
    )


plugins.add_commands(app)
