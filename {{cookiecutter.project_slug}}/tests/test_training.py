"""Training: a model that clears the gate, and a run that says how it was made."""

from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
    TARGET,
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

from .conftest import Champion


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
