"""Drift metrics of one feature, computed the way Azure ML's data drift component computes them.

The reference implementation is Azure/azureml-assets,
assets/model_monitoring/components/src/data_drift_compute_metrics/ (and
shared_utilities/histogram_utils.py for the bins). Reproducing its choices (equal-width bins,
add-one smoothing in PSI, the chi-squared goodness of fit) is what makes a local verdict and the
cloud monitor's agree; where we differ, a comment says so.
"""

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp, wasserstein_distance

from .thresholds import (
    CHI_SQUARED,
    JENSEN_SHANNON,
    KOLMOGOROV_SMIRNOV,
    NORMALIZED_WASSERSTEIN,
    PSI,
)

MISSING = "(missing)"  # a missing category value counts as a category of its own


@dataclass(frozen=True)
class Distribution:
    """The reference and current counts over the same bins (numbers) or categories (text)."""

    labels: tuple[str, ...]
    reference: np.ndarray
    current: np.ndarray
    edges: np.ndarray | None = None  # bin edges, for numbers

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        return self.reference / self.reference.sum(), self.current / self.current.sum()


def bin_edges(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Equal-width bins over the range of both samples, as many as Sturges' rule gives the
    smaller one: values outside the training range land in the outer bins, not nowhere."""
    count = math.ceil(math.log2(min(len(reference), len(current))) + 1)
    low = min(reference.min(), current.min())
    high = max(reference.max(), current.max())
    if low == high:  # one value everywhere (Azure ML uses [v, 1.01 v], wrong for v <= 0)
        return np.array([low - 0.5, high + 0.5])
    return np.linspace(low, high, count + 1)


def numerical_distribution(reference: np.ndarray, current: np.ndarray) -> Distribution:
    edges = bin_edges(reference, current)
    labels = tuple(f"{a:.4g}-{b:.4g}" for a, b in pairwise(edges))
    return Distribution(
        labels, np.histogram(reference, edges)[0], np.histogram(current, edges)[0], edges
    )


def categorical_distribution(reference: pd.Series, current: pd.Series) -> Distribution:
    """Counts per category of either sample, so that categories new in production count too."""
    ref = reference.fillna(MISSING).astype(str).value_counts()
    cur = current.fillna(MISSING).astype(str).value_counts()
    labels = tuple(sorted(set(ref.index) | set(cur.index)))
    return Distribution(
        labels,
        ref.reindex(labels, fill_value=0).to_numpy(),
        cur.reindex(labels, fill_value=0).to_numpy(),
    )


def jensen_shannon_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """0 for the same distribution, 1 for disjoint ones (base 2, as Azure ML)."""
    value = float(jensenshannon(reference_counts, current_counts, base=2))
    return 0.0 if math.isnan(value) else value  # sqrt of a rounding error below 0


def population_stability_index(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Sum of (q - p) ln(q / p) over the bins, with one added to every count (Laplace
    smoothing, as Azure ML) so that an empty bin gives a large value, not an infinite one."""
    p = (reference_counts + 1) / (reference_counts.sum() + len(reference_counts))
    q = (current_counts + 1) / (current_counts.sum() + len(current_counts))
    return float(np.sum((q - p) * np.log(q / p)))


def normalized_wasserstein_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """The Wasserstein (earth mover's) distance in reference standard deviations (sample std,
    floored at 0.001 as Azure ML does), so that one threshold fits every unit."""
    std = float(np.std(reference, ddof=1)) if len(reference) > 1 else 0.0
    return float(wasserstein_distance(reference, current)) / max(std, 0.001)


def kolmogorov_smirnov_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    return float(ks_2samp(reference, current).pvalue)


def chi_squared_p_value(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Azure ML's Pearson test: do the current counts fit the reference proportions? A
    goodness-of-fit test, so a category the reference never saw gives p = 0."""
    if len(reference_counts) < 2:
        return 1.0
    expected = reference_counts / reference_counts.sum() * current_counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(chisquare(current_counts, expected).pvalue)


def numerical_metrics(
    reference: np.ndarray, current: np.ndarray
) -> tuple[dict[str, float], Distribution]:
    """Every numerical metric of one feature; missing values are left out (they are a data
    quality question, not a distribution one)."""
    reference, current = reference[~np.isnan(reference)], current[~np.isnan(current)]
    binned = numerical_distribution(reference, current)
    metrics = {
        JENSEN_SHANNON: jensen_shannon_distance(binned.reference, binned.current),
        NORMALIZED_WASSERSTEIN: normalized_wasserstein_distance(reference, current),
        PSI: population_stability_index(binned.reference, binned.current),
        KOLMOGOROV_SMIRNOV: kolmogorov_smirnov_p_value(reference, current),
    }
    return metrics, binned


def categorical_metrics(
    reference: pd.Series, current: pd.Series
) -> tuple[dict[str, float], Distribution]:
    """Every categorical metric of one feature."""
    counted = categorical_distribution(reference, current)
    metrics = {
        JENSEN_SHANNON: jensen_shannon_distance(counted.reference, counted.current),
        PSI: population_stability_index(counted.reference, counted.current),
        CHI_SQUARED: chi_squared_p_value(counted.reference, counted.current),
    }
    return metrics, counted
