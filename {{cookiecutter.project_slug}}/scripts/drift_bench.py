"""How trustworthy `make drift`'s verdicts are on this project's data: false alarms and misses.

    make drift-bench          # after `make train`; RUNS=200 for tighter rates

For each window size, draws windows of the training population and asks `compare` (the
verdict of `make drift`) and Azure ML's rule alone (the distance above its threshold) whether
any feature drifted; then shifts one number by half a standard deviation, and moves 20 points
of share to one category, at 300 rows. Two populations: the shipped raw data (windows drawn
with replacement: they overlap the training set, so false alarms are slightly understated) and
a synthetic one with the training set's means, deviations and shares (reference and windows
drawn independently: the exact calibration). Figures, not a test.
"""

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.core.schemas import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
)
from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.data.ingest import (
    read_raw,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    TRAIN_FILE,
)
from {{ cookiecutter.package_name }}.monitoring.drift import (
    compare,
)
from {{ cookiecutter.package_name }}.monitoring.inputs import (
    features_of,
    read_features,
)

SIZES = (30, 50, 100, 300, 1_000, 3_000, 10_000)
Draw = Callable[[int, np.random.Generator], pd.DataFrame]
Shift = Callable[[pd.DataFrame], pd.DataFrame]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="windows per size and case")
    runs = parser.parse_args().runs
    settings = Settings()
    reference = read_features(settings.curated_dir / TRAIN_FILE, "reference")
    population = features_of(read_raw(settings.raw_dir), "raw data")
    number, category = NUMERIC_FEATURES[0], CATEGORICAL_FEATURES[0]
    start = time.perf_counter()

    print(f"reference: {len(reference)} training rows; {runs} windows per line")
    print(f"{'windows':<56} {'make drift':>10} {'distance only':>14}")
    cases: dict[str, tuple[Draw, Callable[[np.random.Generator], pd.DataFrame]]] = {
        "shipped data": (resample(population), lambda _: reference),
        "synthetic population": (
            synthetic(reference),
            lambda rng: synthetic(reference)(len(reference), rng),
        ),
    }
    for name, (draw, reference_of) in cases.items():
        for rows in SIZES:
            line(f"{name}, {rows:,} rows, no drift: false alarms", draw, reference_of, rows, runs)
    shifts: dict[str, Shift] = {
        f"{number} + 0.5 sd": lambda w: w.assign(
            **{number: w[number] + reference[number].std() / 2}
        ),
        f"{category} +20 points to its commonest value": lambda w: move_share(w, category, 0.2),
    }
    for name, shift in shifts.items():

        def shifted(rows: int, rng: np.random.Generator, shift: Shift = shift) -> pd.DataFrame:
            return shift(resample(population)(rows, rng))

        line(f"{name}, 300 rows: caught", shifted, lambda _: reference, 300, runs)
    agree, clear = agreement(resample(population), reference, number, runs)
    print(
        f"10,000 rows, with and without a 1 sd shift of {number}: the verdict is the distance's"
        f" in {agree:.1%} of the {clear} feature verdicts whose distance is at least 50% away"
        " from its threshold"
    )
    print(f"({time.perf_counter() - start:.0f} s)")


def agreement(draw: Draw, reference: pd.DataFrame, number: str, runs: int) -> tuple[float, int]:
    """On large windows, how often the verdict is Azure ML's where its distance is clear."""
    agree = clear = 0
    for run in range(max(runs // 10, 1)):
        window = draw(10_000, np.random.default_rng(run))
        moved = window.assign(**{number: window[number] + reference[number].std()})
        for current in (window, moved):
            for feature in compare(reference, current, seed=run):
                if abs(feature.distance - feature.threshold) > feature.threshold / 2:
                    clear += 1
                    agree += feature.drifted == (feature.distance > feature.threshold)
    return agree / max(clear, 1), clear


def line(
    label: str,
    draw: Draw,
    reference_of: Callable[[np.random.Generator], pd.DataFrame],
    rows: int,
    runs: int,
) -> None:
    ours, distance_only = alarm_rates(draw, reference_of, rows, runs)
    print(f"{label:<56} {ours:>10.1%} {distance_only:>14.1%}", flush=True)


def alarm_rates(
    draw: Draw, reference_of: Callable[[np.random.Generator], pd.DataFrame], rows: int, runs: int
) -> tuple[float, float]:
    """Share of windows in which some feature drifted: by our verdict, by the distance alone."""
    ours = distance_only = 0
    for run in range(runs):
        rng = np.random.default_rng(run)
        features = compare(reference_of(rng), draw(rows, rng), seed=run)
        ours += any(f.drifted for f in features)
        distance_only += any(f.distance > f.threshold for f in features)
    return ours / runs, distance_only / runs


def resample(population: pd.DataFrame) -> Draw:
    def draw(rows: int, rng: np.random.Generator) -> pd.DataFrame:
        return population.sample(n=rows, replace=True, random_state=rng).reset_index(drop=True)

    return draw


def synthetic(reference: pd.DataFrame) -> Draw:
    """Independent rows with the reference's means and deviations, and its category shares."""
    shares = {name: reference[name].value_counts(normalize=True) for name in CATEGORICAL_FEATURES}

    def draw(rows: int, rng: np.random.Generator) -> pd.DataFrame:
        columns: dict[str, object] = {
            name: rng.normal(reference[name].mean(), reference[name].std(), rows)
            for name in NUMERIC_FEATURES
        }
        for name, share in shares.items():
            columns[name] = rng.choice(share.index.to_numpy(), rows, p=share.to_numpy())
        return pd.DataFrame(columns)[list(reference.columns)]

    return draw


def move_share(window: pd.DataFrame, name: str, points: float) -> pd.DataFrame:
    """Give `points` of the rows, taken from the other values, to the commonest value."""
    common = window[name].value_counts().index[0]
    others = window.index[window[name] != common]
    moved = window.copy()
    moved.loc[others[: int(points * len(window))], name] = common
    return moved


if __name__ == "__main__":
    main()
