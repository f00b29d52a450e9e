"""Compare current data with the reference, feature by feature, and decide which drifted.

A feature drifted when two things hold:
1. its deciding distance (Azure ML's metric for its kind) is above Azure ML's threshold, so that
   on large windows `make drift` and the cloud monitor agree; and
2. the distance is more than the noise of the window's size: a permutation test of that same
   distance is significant, with Holm's correction over all features (significance.py), so that
   a window of the training population itself is called drift in at most `SIGNIFICANCE` of runs,
   however small it is.
A feature with fewer than `MIN_VALUES` values in either sample is "not enough data", a verdict
of its own: neither drift nor its absence.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..core.schemas import FEATURES, NUMERIC_FEATURES
from ..core.settings import Settings
from ..core.tracking import use_tracking_store
from .inputs import read_features
from .metrics import Distribution, categorical_metrics, numerical_metrics
from .reference import Reference, reference_for
from .significance import holm, jensen_shannon_p_value, normalized_wasserstein_p_value
from .thresholds import (
    ADVISORY,
    DATA_DRIFT,
    MIN_VALUES,
    NORMALIZED_WASSERSTEIN,
    PERMUTATIONS,
    SIGNIFICANCE,
    TEST_ROWS,
    DriftThresholds,
    Kind,
    breached,
)
from .window import read_window

Verdict = Literal["drift", "no drift", "not enough data"]
DRIFT: Verdict = "drift"
NO_DRIFT: Verdict = "no drift"
NOT_ENOUGH_DATA: Verdict = "not enough data"


@dataclass(frozen=True)
class FeatureDrift:
    """Every metric of one feature, and the verdict of the two rules above."""

    name: str
    kind: Kind
    decider: str
    metrics: Mapping[str, float]
    thresholds: Mapping[str, float]
    distribution: Distribution
    values: tuple[int, int]  # how many values of the feature each sample has (reference, current)
    verdict: Verdict = NO_DRIFT
    reason: str = ""
    p_value: float | None = None  # of the permutation test; None when it was not needed
    adjusted_p_value: float | None = None  # Holm's

    @property
    def drifted(self) -> bool:
        return self.verdict == DRIFT

    @property
    def distance(self) -> float:
        return self.metrics[self.decider]

    @property
    def threshold(self) -> float:
        return self.thresholds[self.decider]

    def breaches(self) -> dict[str, bool]:
        return {m: breached(m, v, self.thresholds[m]) for m, v in self.metrics.items()}

    def summary(self) -> dict[str, Any]:
        breaches = self.breaches()
        return {
            "kind": self.kind,
            "verdict": self.verdict,
            "drifted": self.drifted,
            "reason": self.reason,
            "values": {"reference": self.values[0], "current": self.values[1]},
            "distance": {
                "metric": self.decider,
                "value": self.distance,
                "threshold": self.threshold,
            },
            "p_value": self.p_value,
            "adjusted_p_value": self.adjusted_p_value,
            "metrics": {
                metric: {
                    "value": value,
                    "threshold": self.thresholds[metric],
                    "breached": breaches[metric],
                }
                for metric, value in self.metrics.items()
            },
        }


@dataclass(frozen=True)
class DriftResult:
    """The verdict on one current dataset, and what it was compared with."""

    features: tuple[FeatureDrift, ...]
    reference_rows: int
    current_rows: int
    thresholds: DriftThresholds = DATA_DRIFT
    lineage: Mapping[str, str | None] = field(default_factory=dict)
    current: str = ""

    @property
    def drifted_features(self) -> list[str]:
        return [feature.name for feature in self.features if feature.drifted]

    @property
    def undecided_features(self) -> list[str]:
        return [f.name for f in self.features if f.verdict == NOT_ENOUGH_DATA]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features)

    @property
    def verdict(self) -> Verdict:
        """Drift if any feature drifted; not enough data if no feature could be judged."""
        if self.drifted:
            return DRIFT
        if len(self.undecided_features) == len(self.features):
            return NOT_ENOUGH_DATA
        return NO_DRIFT

    def explain(self) -> str:
        """One line for a person: the verdict and why."""
        if self.verdict == DRIFT:
            return f"drift in {', '.join(self.drifted_features)}"
        if self.verdict == NOT_ENOUGH_DATA:
            return (
                f"not enough data to decide: {self.current_rows} rows in the window,"
                f" {MIN_VALUES} values of a feature needed"
            )
        judged = len(self.features) - len(self.undecided_features)
        undecided = self.undecided_features
        return f"no drift in {judged} features" + (
            f" (not enough data for {', '.join(undecided)})" if undecided else ""
        )

    def summary(self) -> dict[str, Any]:
        """What drift.json holds: enough to act on without opening the HTML report."""
        return {
            "verdict": self.verdict,
            "explanation": self.explain(),
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "not_enough_data": self.undecided_features,
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "reference": dict(self.lineage),
            "current": self.current,
            "thresholds": self.thresholds.as_spec(),
            "rule": {
                "significance": SIGNIFICANCE,
                "correction": "holm",
                "test": f"permutation test of the deciding distance, {PERMUTATIONS} permutations",
                "min_values": MIN_VALUES,
            },
            "features": {feature.name: feature.summary() for feature in self.features},
        }


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: DriftThresholds = DATA_DRIFT,
    seed: int = 0,
) -> tuple[FeatureDrift, ...]:
    """The verdict on every feature of the data contract (both frames as `inputs.features_of`
    gives them). Seeded: the same data always gets the same verdict."""
    measured = [_measure(name, reference, current, thresholds) for name in FEATURES]
    rng = np.random.default_rng(seed)
    p_values = [
        _p_value(feature, reference, current, rng)
        if _enough(feature) and feature.distance > feature.threshold
        else 1.0  # below the threshold the test cannot change the verdict; 1 keeps Holm valid
        for feature in measured
    ]
    judged = [i for i, feature in enumerate(measured) if _enough(feature)]
    adjusted = dict(zip(judged, holm([p_values[i] for i in judged]), strict=True))
    return tuple(
        _decide(feature, p_values[i], adjusted.get(i)) for i, feature in enumerate(measured)
    )


def _measure(
    name: str, reference: pd.DataFrame, current: pd.DataFrame, thresholds: DriftThresholds
) -> FeatureDrift:
    kind: Kind = "numerical" if name in NUMERIC_FEATURES else "categorical"
    if kind == "numerical":
        ref, cur = (_present(frame[name]) for frame in (reference, current))
        counts = (len(ref), len(cur))
        metrics, distribution = numerical_metrics(ref, cur) if min(counts) else ({}, _EMPTY)
    else:
        counts = (len(reference), len(current))  # a missing value is a category of its own
        metrics, distribution = (
            categorical_metrics(reference[name], current[name]) if min(counts) else ({}, _EMPTY)
        )
    decider, threshold = thresholds.decider(kind)
    metrics = metrics or {decider: float("nan")}
    limits = {metric: ADVISORY[metric] for metric in metrics} | {decider: threshold}
    return FeatureDrift(name, kind, decider, metrics, limits, distribution, counts)


_EMPTY = Distribution((), np.zeros(0), np.zeros(0))


def _present(column: pd.Series) -> np.ndarray:
    values = column.to_numpy(float)
    return np.asarray(values[~np.isnan(values)])


def _enough(feature: FeatureDrift) -> bool:
    return min(feature.values) >= MIN_VALUES


def _p_value(
    feature: FeatureDrift, reference: pd.DataFrame, current: pd.DataFrame, rng: np.random.Generator
) -> float:
    if feature.kind == "categorical":
        counts = feature.distribution
        return jensen_shannon_p_value(
            _thin(counts.reference, rng), _thin(counts.current, rng), PERMUTATIONS, rng
        )
    if feature.decider != NORMALIZED_WASSERSTEIN:
        raise ValueError(f"no permutation test for {feature.decider}: add one to significance.py")
    ref, cur = (_sample(_present(frame[feature.name]), rng) for frame in (reference, current))
    return normalized_wasserstein_p_value(ref, cur, PERMUTATIONS, rng)


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """At most TEST_ROWS values, drawn at random: the test stays exact, and its power at that
    size is beyond doubt."""
    if len(values) <= TEST_ROWS:
        return values
    return np.asarray(rng.choice(values, TEST_ROWS, replace=False))


def _thin(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category counts of at most TEST_ROWS rows drawn at random from `counts`' rows."""
    total = int(counts.sum())
    if total <= TEST_ROWS:
        return counts
    return rng.multivariate_hypergeometric(counts.astype(np.int64), TEST_ROWS)


def _decide(feature: FeatureDrift, p_value: float, adjusted: float | None) -> FeatureDrift:
    distance = f"{feature.decider} {feature.distance:.4f}"
    if adjusted is None:
        reference, current = feature.values
        return replace(
            feature,
            verdict=NOT_ENOUGH_DATA,
            reason=f"{current} values in the window and {reference} in the reference:"
            f" {MIN_VALUES} of each are needed to decide",
        )
    if feature.distance <= feature.threshold:
        return replace(feature, reason=f"{distance} <= threshold {feature.threshold}")
    tested = replace(feature, p_value=p_value, adjusted_p_value=adjusted)
    significance = f"p {p_value:.4f}, {adjusted:.4f} after Holm's correction"
    if adjusted > SIGNIFICANCE:
        return replace(
            tested,
            reason=f"{distance} > threshold {feature.threshold}, but within the noise of"
            f" {feature.values[1]} values ({significance} > {SIGNIFICANCE})",
        )
    return replace(
        tested,
        verdict=DRIFT,
        reason=f"{distance} > threshold {feature.threshold}, and significant"
        f" ({significance} <= {SIGNIFICANCE})",
    )


def check_drift(
    current_path: Path,
    settings: Settings,
    reference_path: Path | None = None,
    thresholds: DriftThresholds = DATA_DRIFT,
    window_days: float = 7,
) -> DriftResult:
    """Compare new data with the champion's training set (or `reference_path`). The new data is
    a CSV or Parquet file, or a folder of what the data collector stored, of which the last
    `window_days` are read."""
    # Bad input fails before MLflow is touched.
    if Path(current_path).is_dir():
        current = read_window(Path(current_path), window_days)
    else:
        current = read_features(current_path, "current")
    if reference_path is not None:
        path = Path(reference_path).resolve()
        reference = Reference(read_features(path, "reference"), {"source": str(path)})
    else:
        use_tracking_store(settings)
        reference = reference_for(f"models:/{settings.model_name}@champion")
    return DriftResult(
        features=compare(reference.data, current, thresholds, settings.seed),
        reference_rows=len(reference.data),
        current_rows=len(current),
        thresholds=thresholds,
        lineage=reference.lineage,
        current=str(Path(current_path).resolve()),
    )
