"""Is a feature's distance more than the noise of a small window? Permutation tests of the very
distance that decides, and Holm's correction over the features.

Azure ML's thresholds are fixed distances: between two samples of one population, the distance
shrinks as the samples grow, so on a window of a few dozen rows it crosses 0.1 by chance alone.
A permutation test asks how often the distance would be as large if the reference and current
rows came from one population: pool them, deal them out again at random, measure again. Its
p-value is exact for any sample size and any distribution, ties and new categories included.
Holm's step-down correction then keeps the chance of calling any feature drifted, when none
did, at the stated level however many features there are. (scipy has Benjamini-Hochberg's
`false_discovery_control`, which controls another error; Holm's is these few lines.)
"""

from collections.abc import Callable, Sequence

import numpy as np

BATCH = 128  # permutations computed at once: bounds memory at ~BATCH x rows x 4 bytes
# Besag and Clifford's sequential test: stop once this many permutations reach the observed
# distance. The p-value stays exact; a feature that clearly did not drift costs one batch.
ENOUGH_EXCEEDANCES = 20


def normalized_wasserstein_p_value(
    reference: np.ndarray, current: np.ndarray, permutations: int, rng: np.random.Generator
) -> float:
    """P-value of the normalized Wasserstein distance (the distance in standard deviations of
    the reference sample) under the hypothesis that both samples come from one population."""
    values = np.concatenate([reference, current])
    order = np.argsort(values, kind="stable")
    pooled = values[order]
    labels = (order < len(reference)).astype(np.int8)  # 1 where a sorted value is a reference one
    observed = _normalized_wasserstein(pooled, labels[np.newaxis, :])[0]

    def permuted(size: int) -> np.ndarray:
        shuffled = rng.permuted(np.broadcast_to(labels, (size, len(labels))), axis=1)
        return _normalized_wasserstein(pooled, shuffled)

    return _p_value(observed, permuted, permutations)


def _normalized_wasserstein(sorted_values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """W1 between the two samples each row of `labels` deals `sorted_values` into, divided by
    the reference sample's standard deviation (floored at 0.001, as Azure ML does)."""
    m = int(labels[0].sum())
    n = labels.shape[1] - m
    in_reference = np.cumsum(labels, axis=1, dtype=np.int32)[:, :-1]
    seen = np.arange(1, labels.shape[1])
    gap = np.abs(in_reference / m - (seen - in_reference) / n)
    distance = gap @ np.diff(sorted_values)
    total = labels @ sorted_values
    squares = labels @ sorted_values**2
    variance = (squares - total**2 / m) / max(m - 1, 1)
    return np.asarray(distance / np.maximum(np.sqrt(np.maximum(variance, 0)), 0.001))


def jensen_shannon_p_value(
    reference_counts: np.ndarray,
    current_counts: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
) -> float:
    """P-value of the Jensen-Shannon distance between category counts under the hypothesis of
    one population: a permutation deals the pooled rows out again, which is drawing the
    reference's counts from a multivariate hypergeometric distribution."""
    pooled = (reference_counts + current_counts).astype(np.int64)
    m = int(reference_counts.sum())
    observed = _jensen_shannon(reference_counts[np.newaxis, :], current_counts[np.newaxis, :])[0]

    def permuted(size: int) -> np.ndarray:
        dealt = rng.multivariate_hypergeometric(pooled, m, size=size)
        return _jensen_shannon(dealt, pooled - dealt)

    return _p_value(observed, permuted, permutations)


def _p_value(observed: float, permuted: Callable[[int], np.ndarray], permutations: int) -> float:
    """(1 + permutations at least as far apart) / (1 + permutations), or h / l when the h-th
    such permutation came at the l-th draw (sequential stopping)."""
    exceed = done = 0
    while done < permutations:
        size = min(BATCH, permutations - done)
        hits = np.cumsum(permuted(size) >= observed - 1e-12)  # equal counts: float rounding
        if exceed + hits[-1] >= ENOUGH_EXCEEDANCES:
            drawn = done + int(np.argmax(exceed + hits >= ENOUGH_EXCEEDANCES)) + 1
            return ENOUGH_EXCEEDANCES / drawn
        exceed, done = exceed + int(hits[-1]), done + size
    return (1 + exceed) / (1 + permutations)


def _jensen_shannon(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Base-2 Jensen-Shannon distance per row of two count matrices (0 log 0 = 0)."""
    p = reference / reference.sum(axis=1, keepdims=True)
    q = current / current.sum(axis=1, keepdims=True)
    mean = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log2(p / mean), 0.0).sum(axis=1)
        right = np.where(q > 0, q * np.log2(q / mean), 0.0).sum(axis=1)
    return np.asarray(np.sqrt(np.maximum((left + right) / 2, 0.0)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values: reject where the adjusted value is at most the level."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
