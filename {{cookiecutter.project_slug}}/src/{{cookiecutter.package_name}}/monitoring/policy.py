"""Should we retrain? The written policy of the feedback loop, as code a reviewer can read.

Rules, in order (the first that applies decides):
1. Cooldown: never retrain within `min_days_between_trainings` of the last training run that
   finished, won or lost, whatever the evidence; drift that persists is seen again by the next
   scheduled check.
2. Labelled performance: when labels of recent production data exist, retrain if the champion's
   primary metric on them fell more than `max_metric_drop` below its score at training time.
3. Drift: retrain if at least `min_drifted_features` of the watched features drifted (the drift
   report's verdict: above the thresholds shared with the Azure ML monitor, and significant at
   the window's size). A window with not enough data to decide is no evidence of drift: the
   decision says so, and does not retrain for it.
4. Age: retrain if the champion was trained more than `max_days_without_training` days ago.
Otherwise, no. A retrained model still passes the champion/challenger gate and the promotion
path: this policy can trigger training, never a deployment.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run

from ..core.settings import Settings
from ..core.tracking import load_model, use_tracking_store
from ..training.evaluate import PRIMARY_METRIC, score
from .reference import resolve


@dataclass(frozen=True)
class RetrainPolicy:
    watched_features: tuple[str, ...] | None = None  # None: every feature of the contract
    min_drifted_features: int = 1
    min_days_between_trainings: float = 7
    max_days_without_training: float = 90
    max_metric_drop: float = 0.05


@dataclass(frozen=True)
class Evidence:
    """What the scheduled check knows when it asks the question."""

    now: datetime
    last_trained: datetime  # the latest training run, whatever its gate said
    drifted_features: tuple[str, ...]
    champion_trained: datetime | None = None  # None: the same as last_trained
    metric_at_training: float | None = None
    metric_on_labelled_data: float | None = None
    undecided: str | None = None  # why the drift check could not decide (too little data)


@dataclass(frozen=True)
class Decision:
    retrain: bool
    reasons: list[str] = field(default_factory=list)


def should_retrain(evidence: Evidence, policy: RetrainPolicy = RetrainPolicy()) -> Decision:
    """Apply the rules above; pure, so that each edge case is a unit test."""
    since_training = _days(evidence.now - evidence.last_trained)
    if since_training < policy.min_days_between_trainings:
        return Decision(
            False,
            [
                f"last trained {since_training:.1f} days ago, within the cooldown of"
                f" {policy.min_days_between_trainings:g} days"
            ],
        )
    age_days = _days(evidence.now - (evidence.champion_trained or evidence.last_trained))
    reasons = []
    if evidence.metric_on_labelled_data is not None and evidence.metric_at_training is not None:
        drop = evidence.metric_at_training - evidence.metric_on_labelled_data
        if drop > policy.max_metric_drop:
            reasons.append(
                f"the metric on labelled production data fell by {drop:.3f}"
                f" (more than {policy.max_metric_drop:g})"
            )
    watched = [
        name
        for name in evidence.drifted_features
        if policy.watched_features is None or name in policy.watched_features
    ]
    if watched and len(watched) >= policy.min_drifted_features:
        reasons.append(f"{len(watched)} watched feature(s) drifted: {', '.join(watched)}")
    if age_days > policy.max_days_without_training:
        reasons.append(
            f"the champion was trained {age_days:.0f} days ago,"
            f" more than {policy.max_days_without_training:g}"
        )
    if reasons:
        return Decision(True, reasons)
    if evidence.undecided:
        return Decision(False, [f"the drift check could not decide: {evidence.undecided}"])
    return Decision(False, ["no rule applies: no drift of watched features, no metric drop"])


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86_400


def gather_evidence(
    drift_summary: dict[str, Any], settings: Settings, labelled: pd.DataFrame | None = None
) -> Evidence:
    """The evidence for one decision: the drift report, the champion's run in MLflow (when it was
    trained, its score then) and, when labelled production data exist, its score on them."""
    use_tracking_store(settings)
    client = MlflowClient()
    lineage = drift_summary["reference"]
    model_uri = lineage.get("model_uri") or f"models:/{settings.model_name}@champion"
    # A report made with a given reference file has no run: the registry names the champion's.
    run_id = lineage.get("run_id") or resolve(client, model_uri)[1]
    run = client.get_run(run_id)
    # The cooldown counts from the latest training run that finished, even one the gate turned
    # down; a run killed midway (RUNNING forever, or FAILED) trained nothing.
    latest = client.search_runs(
        [run.info.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    metric_on_labelled = None
    if labelled is not None:
        metric_on_labelled = score(load_model(model_uri), labelled)[PRIMARY_METRIC]
    return Evidence(
        now=datetime.now(timezone.utc),
        last_trained=_started(latest[0] if latest else run),
        champion_trained=_started(run),
        drifted_features=tuple(drift_summary["drifted_features"]),
        undecided=(
            drift_summary.get("explanation")
            if drift_summary.get("verdict") == "not enough data"
            else None
        ),
        metric_at_training=run.data.metrics.get(PRIMARY_METRIC),
        metric_on_labelled_data=metric_on_labelled,
    )


def _started(run: Run) -> datetime:
    return datetime.fromtimestamp(run.info.start_time / 1000, timezone.utc)
