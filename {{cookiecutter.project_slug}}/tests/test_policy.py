"""The retraining policy at its edges: cooldown first, then metric drop, drift, age."""

from datetime import datetime, timedelta

import pytest

from {{ cookiecutter.package_name }}.monitoring.policy import (
    Evidence,
    RetrainPolicy,
    should_retrain,
)

NOW = datetime(2026, 11, 26, 12, 0)
POLICY = RetrainPolicy(
    watched_features=("bill_length_mm", "island"),
    min_drifted_features=1,
    min_days_between_trainings=7,
    max_days_without_training=90,
    max_metric_drop=0.05,
)


def evidence(days_ago: float, drifted: tuple[str, ...] = (), **metrics: float) -> Evidence:
    return Evidence(NOW, NOW - timedelta(days=days_ago), drifted, **metrics)


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


def test_two_required_drifted_features() -> None:
    policy = RetrainPolicy(min_drifted_features=2)
    assert not should_retrain(evidence(30, ("island",)), policy).retrain
    assert should_retrain(evidence(30, ("island", "sex")), policy).retrain


def test_every_reason_is_given() -> None:
    decision = should_retrain(
        evidence(120, ("island",), metric_at_training=0.95, metric_on_labelled_data=0.7), POLICY
    )
    assert len(decision.reasons) == 3
