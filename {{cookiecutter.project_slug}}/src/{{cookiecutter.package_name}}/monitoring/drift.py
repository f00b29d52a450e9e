"""Compare current data with the reference, feature by feature, and decide which drifted."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.schemas import FEATURES, NUMERIC_FEATURES
from ..core.settings import Settings
from ..core.tracking import use_tracking_store
from .inputs import read_features
from .metrics import Distribution, categorical_metrics, numerical_metrics
from .reference import Reference, reference_for
from .thresholds import ADVISORY, DATA_DRIFT, DriftThresholds, Kind, breached
from .window import read_window


@dataclass(frozen=True)
class FeatureDrift:
    """Every metric of one feature; the deciding one (Azure ML's choice for its kind) decides."""

    name: str
    kind: Kind
    decider: str
    metrics: Mapping[str, float]
    thresholds: Mapping[str, float]
    distribution: Distribution

    @property
    def drifted(self) -> bool:
        return self.breaches()[self.decider]

    def breaches(self) -> dict[str, bool]:
        return {m: breached(m, v, self.thresholds[m]) for m, v in self.metrics.items()}

    def summary(self) -> dict[str, Any]:
        breaches = self.breaches()
        return {
            "kind": self.kind,
            "drifted": self.drifted,
            "decided_by": self.decider,
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
    def drifted(self) -> bool:
        return bool(self.drifted_features)

    def summary(self) -> dict[str, Any]:
        """What drift.json holds: enough to act on without opening the HTML report."""
        return {
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "reference": dict(self.lineage),
            "current": self.current,
            "thresholds": self.thresholds.as_spec(),
            "features": {feature.name: feature.summary() for feature in self.features},
        }


def compare(
    reference: pd.DataFrame, current: pd.DataFrame, thresholds: DriftThresholds = DATA_DRIFT
) -> tuple[FeatureDrift, ...]:
    """Drift of every feature of the data contract (both frames as `inputs.features_of` gives)."""
    features = []
    for name in FEATURES:
        kind: Kind = "numerical" if name in NUMERIC_FEATURES else "categorical"
        if kind == "numerical":
            metrics, distribution = numerical_metrics(
                reference[name].to_numpy(float), current[name].to_numpy(float)
            )
        else:
            metrics, distribution = categorical_metrics(reference[name], current[name])
        decider, threshold = thresholds.decider(kind)
        limits = {metric: ADVISORY[metric] for metric in metrics} | {decider: threshold}
        features.append(FeatureDrift(name, kind, decider, metrics, limits, distribution))
    return tuple(features)


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
        features=compare(reference.data, current, thresholds),
        reference_rows=len(reference.data),
        current_rows=len(current),
        thresholds=thresholds,
        lineage=reference.lineage,
        current=str(Path(current_path).resolve()),
    )
