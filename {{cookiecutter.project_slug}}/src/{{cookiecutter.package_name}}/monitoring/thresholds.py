"""The one place for drift thresholds: which metric decides, and from what value it is drift.

The names are Azure ML's, and `DATA_DRIFT.as_spec()` is the `metric_thresholds` block of the
data drift signal in azureml/monitoring/, so that the cloud monitor and `make drift` cannot
disagree silently (a test compares them). `make drift` asks one thing more than the monitor
(see `drift.py`): that the distance be more than the noise of the window's size, at the
`SIGNIFICANCE` level over all features, with `MIN_VALUES` values of a feature at least.
"""

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

JENSEN_SHANNON = "jensen_shannon_distance"
NORMALIZED_WASSERSTEIN = "normalized_wasserstein_distance"
PSI = "population_stability_index"
KOLMOGOROV_SMIRNOV = "two_sample_kolmogorov_smirnov_test"
CHI_SQUARED = "pearsons_chi_squared_test"

Kind = Literal["numerical", "categorical"]
METRICS: Mapping[Kind, tuple[str, ...]] = {
    "numerical": (JENSEN_SHANNON, NORMALIZED_WASSERSTEIN, PSI, KOLMOGOROV_SMIRNOV),
    "categorical": (JENSEN_SHANNON, PSI, CHI_SQUARED),
}
# The tests report a p-value: drift is a value *below* the threshold. The distances drift above.
P_VALUES = frozenset({KOLMOGOROV_SMIRNOV, CHI_SQUARED})


class DriftThresholds(BaseModel):
    """One deciding metric and its threshold per feature kind, as Azure ML's signal takes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    numerical: dict[str, float]
    categorical: dict[str, float]

    @field_validator("numerical", "categorical")
    @classmethod
    def _one_known_metric(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        # Azure ML applies one metric per kind (the SDK keeps the first one set): so do we.
        allowed = METRICS["numerical" if info.field_name == "numerical" else "categorical"]
        if len(value) != 1 or not set(value) <= set(allowed):
            raise ValueError(f"exactly one of {', '.join(allowed)}, got {sorted(value)}")
        return value

    def decider(self, kind: Kind) -> tuple[str, float]:
        """The metric that decides whether a feature of this kind drifted, and its threshold."""
        ((metric, threshold),) = getattr(self, kind).items()
        return metric, threshold

    def as_spec(self) -> dict[str, dict[str, float]]:
        """The `metric_thresholds` mapping of an Azure ML data drift signal."""
        return self.model_dump()


# Azure ML's defaults for the data drift signal: normalized Wasserstein distance for numerical
# features, Jensen-Shannon distance for categorical ones, both at 0.1. Source: azure-ai-ml,
# `DataDriftMetricThreshold._get_default_thresholds` (azure/ai/ml/entities/_monitoring/
# thresholds.py, checked in 1.35); the Learn pages only call them "smart defaults".
DATA_DRIFT = DriftThresholds(
    numerical={NORMALIZED_WASSERSTEIN: 0.1},
    categorical={JENSEN_SHANNON: 0.1},
)

# Thresholds shown beside the metrics that do not decide, so that a reader sees which would have
# fired. Azure ML publishes no default for them: the p-values use the usual 5 % level, PSI the
# common "significant shift" rule of thumb (0.25), the distances the same 0.1 as the deciders.
ADVISORY: Mapping[str, float] = {
    JENSEN_SHANNON: 0.1,
    NORMALIZED_WASSERSTEIN: 0.1,
    PSI: 0.25,
    KOLMOGOROV_SMIRNOV: 0.05,
    CHI_SQUARED: 0.05,
}


def breached(metric: str, value: float, threshold: float) -> bool:
    """Whether `value` of `metric` is drift, in the direction Azure ML's evaluator uses."""
    return value < threshold if metric in P_VALUES else value > threshold


# What `make drift` adds to Azure ML's rule (drift.py, significance.py).
SIGNIFICANCE = (
    0.05  # the chance of calling any feature drifted when none did, all features together
)
MIN_VALUES = 30  # fewer values of a feature in the window (or the reference): not enough data
PERMUTATIONS = 999  # of each permutation test: p-values down to 0.001
TEST_ROWS = 10_000  # larger samples are tested on a seeded subsample of this many rows
