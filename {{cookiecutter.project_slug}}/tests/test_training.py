"""Training: a model that clears the gate, and a run that says how it was made."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
    TARGET,
)
from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    configure_tracking,
    load_model,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    read_curated,
)
from {{ cookiecutter.package_name }}.training.evaluate import (
    PRIMARY_METRIC,
    score,
)
from {{ cookiecutter.package_name }}.training.train import (
    Candidate,
)

from .conftest import Champion, cli_env

PACKAGE = "{{ cookiecutter.package_name }}"


@pytest.fixture
def client(champion: Champion) -> MlflowClient:
    configure_tracking(champion.settings)
    return MlflowClient()


def test_the_model_beats_the_naive_baseline_by_the_margin(
    champion: Champion, client: MlflowClient
) -> None:
    metrics = client.get_run(champion.run_id).data.metrics
    margin = champion.settings.min_gain_over_baseline
    assert metrics[PRIMARY_METRIC] >= metrics[f"baseline_{PRIMARY_METRIC}"] + margin


def test_the_run_logs_params_metrics_plots_and_lineage(
    champion: Champion, client: MlflowClient
) -> None:
    run = client.get_run(champion.run_id)
    assert run.data.params["n_estimators"] == str(champion.settings.n_estimators)
    assert {"accuracy", "f1_macro", "log_loss", "roc_auc_ovr"} <= set(run.data.metrics)
    assert run.data.tags["mlflow.source.git.commit"] == champion.commit
    assert run.data.tags["git.dirty"] == "false"

    plots = {a.path for a in client.list_artifacts(champion.run_id, "plots")}
    assert plots == {
        "plots/confusion_matrix.png",
        "plots/precision_recall.png",
        "plots/feature_importance.png",
    }

    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"train.parquet", "test.parquet"}
    assert all(d.dataset.digest for d in inputs.values())
    contexts = {d.dataset.name: {t.value for t in d.tags} for d in inputs.values()}
    assert "training" in contexts["train.parquet"]


def test_the_model_has_a_signature_and_an_input_example(champion: Champion) -> None:
    info = mlflow.models.get_model_info(str(champion.folder))
    assert info.signature.inputs.input_names() == list(FEATURES)
    assert info.saved_input_example_info is not None


def test_the_registered_model_is_the_evaluated_one(
    champion: Champion, client: MlflowClient
) -> None:
    """Scored again from the registry, it gets the metrics its run logged."""
    _, test = read_curated(champion.curated_dir)
    model = load_model(str(champion.folder))
    logged = client.get_run(champion.run_id).data.metrics
    assert score(model, test) == pytest.approx({name: logged[name] for name in score(model, test)})
    assert set(model.predict(test[list(FEATURES)])) <= set(test[TARGET])


def test_the_candidate_file_hands_over_to_register(tmp_path: Path) -> None:
    candidate = Candidate("run", "runs:/run/model", {"f1_macro": 0.5})
    candidate.save(tmp_path / "model")
    assert Candidate.load(tmp_path / "model") == candidate
    with pytest.raises(FileNotFoundError, match="run `train` first"):
        Candidate.load(tmp_path / "nowhere")


def test_a_stopped_training_ends_its_run_and_leaves_no_candidate(
    prepared: Settings, tmp_path: Path
) -> None:
    """SIGTERM, as when an Azure ML job is cancelled: the run is not left RUNNING forever (the
    retraining policy would count it), and `register` finds no candidate to take."""
    model_dir = tmp_path / "candidate"
    process = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, "train", "--model-dir", str(model_dir)],
        env=cli_env(prepared),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client = MlflowClient(prepared.tracking_uri)

    def started() -> list[Run]:
        return list(client.search_runs([e.experiment_id for e in client.search_experiments()]))

    deadline = time.monotonic() + 120
    while not (runs := started()):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "no run started within 120 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]

    assert process.returncode == 130, output
    assert "train stopped" in output
    assert "Traceback" not in output
    assert client.get_run(runs[0].info.run_id).info.status == "FAILED"
    assert not (model_dir / "candidate.json").exists()
