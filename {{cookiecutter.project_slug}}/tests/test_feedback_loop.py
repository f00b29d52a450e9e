"""The feedback loop: the Azure ML monitor agrees with `make drift`, and the retraining
policy holds at its edges (cooldown first, then metric drop, drift, age)."""

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import typer.main
import yaml
from azure.ai.ml.entities._load_functions import load_schedule
from mlflow import MlflowClient
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import (
    app,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    NUMERIC_FEATURES,
    TARGET,
)
from {{ cookiecutter.package_name }}.monitoring.commands import (
    BAD_INPUT,
    EXIT_CODES,
)
from {{ cookiecutter.package_name }}.monitoring.policy import (
    Evidence,
    RetrainPolicy,
    gather_evidence,
    should_retrain,
)
from {{ cookiecutter.package_name }}.monitoring.thresholds import (
    DATA_DRIFT,
)

from .conftest import Champion

MONITOR = Path(__file__).parents[1] / "azureml" / "monitoring" / "monitor.yml"
DATA_COLLECTION = MONITOR.parent / "data-collection.yml"
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"

NOW = datetime(2026, 11, 26, 12, 0)
POLICY = RetrainPolicy(
    watched_features=("bill_length_mm", "island"),
    min_drifted_features=1,
    min_days_between_trainings=7,
    max_days_without_training=90,
    max_metric_drop=0.05,
)


def evidence(
    days_ago: float,
    drifted: tuple[str, ...] = (),
    metric_at_training: float | None = None,
    metric_on_labelled_data: float | None = None,
) -> Evidence:
    return Evidence(
        NOW,
        NOW - timedelta(days=days_ago),
        drifted,
        metric_at_training=metric_at_training,
        metric_on_labelled_data=metric_on_labelled_data,
    )


def test_a_window_too_small_to_decide_does_not_retrain_and_says_why() -> None:
    quiet = replace(evidence(30), undecided="not enough data to decide: 12 rows in the window")
    decision = should_retrain(quiet, POLICY)
    assert not decision.retrain
    assert decision.reasons == [
        "the drift check could not decide: not enough data to decide: 12 rows in the window"
    ]
    # Other evidence still counts: a metric drop on labelled data retrains anyway.
    dropped = replace(quiet, metric_at_training=0.95, metric_on_labelled_data=0.8)
    assert should_retrain(dropped, POLICY).retrain


def test_no_drift_no_drop_no_retraining() -> None:
    decision = should_retrain(evidence(30), POLICY)
    assert not decision.retrain
    assert "no rule applies" in decision.reasons[0]


def test_drift_of_a_watched_feature_retrains_and_names_it() -> None:
    decision = should_retrain(evidence(30, ("island", "sex")), POLICY)
    assert decision.retrain
    assert decision.reasons == ["1 watched feature(s) drifted: island"]


def test_drift_of_unwatched_features_alone_does_not() -> None:
    assert not should_retrain(evidence(30, ("sex", "body_mass_g")), POLICY).retrain


def test_every_feature_is_watched_by_default() -> None:
    assert should_retrain(evidence(30, ("sex",)), RetrainPolicy()).retrain


def test_the_cooldown_beats_any_evidence() -> None:
    strong = evidence(6.9, ("island",), metric_at_training=0.95, metric_on_labelled_data=0.5)
    decision = should_retrain(strong, POLICY)
    assert not decision.retrain
    assert "cooldown" in decision.reasons[0]


def test_the_cooldown_ends_exactly_on_its_last_day() -> None:
    assert should_retrain(evidence(7, ("island",)), POLICY).retrain


@pytest.mark.parametrize(("on_labels", "retrain"), [(0.90, False), (0.899, True)])
def test_a_metric_drop_beyond_the_margin_retrains(on_labels: float, retrain: bool) -> None:
    decision = should_retrain(
        evidence(30, metric_at_training=0.95, metric_on_labelled_data=on_labels), POLICY
    )
    assert decision.retrain is retrain


def test_labels_are_optional() -> None:
    assert not should_retrain(evidence(30, metric_at_training=0.95), POLICY).retrain


def test_a_stale_champion_is_retrained_without_drift() -> None:
    decision = should_retrain(evidence(91), POLICY)
    assert decision.retrain
    assert "91 days ago" in decision.reasons[0]


def test_a_recent_training_run_the_gate_refused_still_counts_for_the_cooldown() -> None:
    """The champion is old, but a retraining ran 2 days ago and lost: no new attempt yet."""
    stale = Evidence(NOW, NOW - timedelta(days=2), ("island",), NOW - timedelta(days=200))
    decision = should_retrain(stale, POLICY)
    assert not decision.retrain
    assert "cooldown" in decision.reasons[0]


def test_two_required_drifted_features() -> None:
    policy = RetrainPolicy(min_drifted_features=2)
    assert not should_retrain(evidence(30, ("island",)), policy).retrain
    assert should_retrain(evidence(30, ("island", "sex")), policy).retrain


def test_every_reason_is_given() -> None:
    decision = should_retrain(
        evidence(120, ("island",), metric_at_training=0.95, metric_on_labelled_data=0.7), POLICY
    )
    assert len(decision.reasons) == 3


def test_the_azure_monitor_uses_the_thresholds_of_make_drift() -> None:
    """The same data gets the same verdict locally and in the cloud: same metrics, same values."""
    signals = yaml.safe_load(MONITOR.read_text())["create_monitor"]["monitoring_signals"]
    assert signals["data_drift"]["metric_thresholds"] == DATA_DRIFT.as_spec()
    assert signals["prediction_drift"]["metric_thresholds"] == {
        "categorical": DATA_DRIFT.categorical
    }
    assert signals["prediction_drift"]["reference_data"]["data_column_names"] == {
        "target_column": TARGET,
        "prediction": TARGET,
    }
    # What `az ml schedule create` sends: azure-ai-ml's own reading of the spec.
    sent = load_schedule(MONITOR)._to_rest_object().as_dict()
    thresholds = sent["properties"]["action"]["monitorDefinition"]["signals"]["data_drift"]
    by_kind = {
        t["dataType"].lower(): (t["metric"], t["threshold"]["value"])
        for t in thresholds["metricThresholds"]
    }
    for kind in ("numerical", "categorical"):
        metric, value = DATA_DRIFT.decider(kind)
        camel = "".join(w.capitalize() if i else w for i, w in enumerate(metric.split("_")))
        assert by_kind[kind] == (camel, value)


def test_collected_predictions_are_named_as_the_monitor_reads_them() -> None:
    """Prediction drift compares the deployment's collected predictions with the training
    set's target: the column names must agree (change all three with the dataset)."""
    collection = yaml.safe_load(DATA_COLLECTION.read_text())
    assert collection["environment_variables"]["SERVING_PREDICTION_COLUMN"] == TARGET
    assert collection["data_collector"]["collections"]["model_outputs"]["enabled"] == "true"


def test_the_monitor_alerts_and_watches_the_three_signals() -> None:
    spec = yaml.safe_load(MONITOR.read_text())["create_monitor"]
    kinds = {signal["type"] for signal in spec["monitoring_signals"].values()}
    assert kinds == {"data_drift", "prediction_drift", "data_quality"}
    assert spec["alert_notification"]["emails"]
    # What `az ml schedule create` sends: a signal is silent unless its mode is Enabled
    # (azure-ai-ml's default for `alert_enabled` is false), and the reference names its label.
    sent = load_schedule(MONITOR)._to_rest_object().as_dict()
    signals = sent["properties"]["action"]["monitorDefinition"]["signals"]
    assert {name: signal["mode"] for name, signal in signals.items()} == dict.fromkeys(
        spec["monitoring_signals"], "Enabled"
    )
    for name in ("data_drift", "prediction_drift"):
        columns = signals[name]["referenceData"]["columns"]
        assert columns["target_column"] == TARGET, name


@pytest.fixture
def champion_store(champion: Champion, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the champion fixture's tracking store, as a scheduled job would."""
    monkeypatch.setenv(f"{ENV_PREFIX}TRACKING_URI", champion.settings.tracking_uri)


def test_drift_then_the_policy_decide_from_real_reports(
    champion: Champion, champion_store: None, tmp_path: Path
) -> None:
    """`drift` on shifted data, then `should-retrain` on its report: the loop's two commands.
    The champion was trained seconds ago, so the cooldown says no despite the drift."""
    shifted = pd.read_parquet(champion.curated_dir / "test.parquet")
    number = NUMERIC_FEATURES[0]
    shifted[number] += 2 * shifted[number].std()
    current = tmp_path / "current.csv"
    shifted.to_csv(current, index=False)
    reports = tmp_path / "reports"
    cli = CliRunner()

    result = cli.invoke(app, ["drift", str(current), "--output-dir", str(reports)])
    assert result.exit_code == 1, result.output
    result = cli.invoke(
        app,
        [
            "should-retrain",
            str(reports / "drift.json"),
            "--labelled",
            str(current),
            "--output",
            str(reports / "decision.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    decision = json.loads((reports / "decision.json").read_text())
    assert decision["retrain"] is False
    assert "cooldown" in decision["reasons"][0]


def test_a_training_run_that_did_not_finish_does_not_start_the_cooldown(
    champion: Champion, tmp_path: Path
) -> None:
    """A run killed with -9 stays RUNNING; one stopped by SIGTERM ends FAILED: neither trained a
    model, so neither may hold back a retraining for `min_days_between_trainings`."""
    store = tmp_path / "mlruns.db"
    shutil.copy(champion.settings.tracking_uri.removeprefix("sqlite:///"), store)
    settings = champion.settings.model_copy(update={"tracking_uri": f"sqlite:///{store}"})
    client = MlflowClient(settings.tracking_uri)
    trained = client.get_run(champion.run_id).info
    for status in ("RUNNING", "FAILED"):
        later = client.create_run(trained.experiment_id, start_time=trained.start_time + 60_000)
        if status != "RUNNING":
            client.set_terminated(later.info.run_id, status)

    evidence = gather_evidence(
        {"reference": {"run_id": champion.run_id}, "drifted_features": []}, settings
    )
    assert evidence.last_trained == evidence.champion_trained


def test_should_retrain_refuses_a_missing_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["should-retrain", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "nope.json" in result.output


def test_the_drift_job_runs_commands_the_cli_has() -> None:
    """azureml/monitoring/drift-job.yml runs `drift` then `should-retrain`: with options that
    exist, and only `drift`'s exit code 2 (bad input) failing the job: drift found (1) and not
    enough data (3) are findings for the policy."""
    spec = yaml.safe_load((MONITOR.parent / "drift-job.yml").read_text())
    cli = typer.main.get_group(app)
    steps = [part.split() for part in spec["command"].split(";")]
    assert [words[3] for words in steps] == ["drift", "should-retrain"]
    for words in steps:
        assert words[:3] == ["python", "-m", "{{ cookiecutter.package_name }}"]
        command = cli.commands[words[3]]
        known = {option for parameter in command.params for option in parameter.opts}
        used = {word for word in words if word.startswith("--")}
        assert used <= known, f"{words[3]}: {sorted(used - known)} are not options"
    guard = spec["command"].split(";")[0].rsplit("||", 1)[1]
    for verdict, code in [*EXIT_CODES.items(), ("bad input", BAD_INPUT)]:
        ran = subprocess.run(["sh", "-c", f"(exit {code}) || {guard}"], check=False)
        assert (ran.returncode != 0) == (code == BAD_INPUT), verdict
