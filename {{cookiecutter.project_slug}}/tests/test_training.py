"""Training: a model that beats the baseline, and a run that says how it was made."""

import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.data.schemas import FEATURES
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.training.tracking import (
    configure_tracking,
    load_model,
)
from {{ cookiecutter.package_name }}.training.train import (
    Candidate,
    train,
)


@pytest.fixture
def candidate(prepared: Settings, tmp_path: Path) -> Candidate:
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "data"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            check=True,
            cwd=tmp_path,
        )
    return train(prepared, prepared.curated_dir, tmp_path / "model")


def test_the_model_beats_the_naive_baseline(candidate: Candidate, prepared: Settings) -> None:
    run = MlflowClient().get_run(candidate.run_id)
    baseline = run.data.metrics["baseline_f1_macro"]
    assert candidate.metrics["f1_macro"] >= baseline + prepared.min_gain_over_baseline
    assert candidate.metrics["accuracy"] > 0.9


def test_the_run_logs_params_metrics_plots_and_lineage(
    candidate: Candidate, tmp_path: Path
) -> None:
    run = MlflowClient().get_run(candidate.run_id)
    assert run.data.params["n_estimators"] == "50"
    assert {"accuracy", "f1_macro", "log_loss", "roc_auc_ovr"} <= set(run.data.metrics)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert run.data.tags["mlflow.source.git.commit"] == head

    plots = {a.path for a in MlflowClient().list_artifacts(candidate.run_id, "plots")}
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


def test_the_model_has_a_signature_and_an_input_example(candidate: Candidate) -> None:
    info = mlflow.models.get_model_info(candidate.model_uri)
    assert info.signature.inputs.input_names() == list(FEATURES)
    assert info.saved_input_example_info is not None


def test_the_candidate_file_hands_over_to_register(candidate: Candidate, tmp_path: Path) -> None:
    assert Candidate.load(tmp_path / "model") == candidate
    with pytest.raises(FileNotFoundError, match="run `train` first"):
        Candidate.load(tmp_path / "nowhere")


def test_the_logged_model_predicts_like_the_trained_one(
    candidate: Candidate, prepared: Settings
) -> None:
    configure_tracking(prepared)
    model = load_model(candidate.model_uri)
    rows = {
        "island": ["Biscoe"],
        "bill_length_mm": [47.5],
        "bill_depth_mm": [14.9],
        "flipper_length_mm": [216.0],
        "body_mass_g": [5000.0],
        "sex": [None],
    }
    assert model.predict(pd.DataFrame(rows))[0] == "Gentoo"
