"""Drift detection: Azure ML's metrics on known inputs, verdicts on shifted data, the reference
found through the champion's lineage, and the exit codes a scheduled workflow acts on."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from {{ cookiecutter.package_name }}.cli import (
    app,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
)
from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    configure_tracking,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    TRAIN_FILE,
)
from {{ cookiecutter.package_name }}.monitoring.commands import (
    BAD_INPUT,
    EXIT_CODES,
)
from {{ cookiecutter.package_name }}.monitoring.drift import (
    DRIFT,
    NO_DRIFT,
    NOT_ENOUGH_DATA,
    DriftResult,
    FeatureDrift,
    check_drift,
    compare,
)
from {{ cookiecutter.package_name }}.monitoring.inputs import (
    read_features,
)
from {{ cookiecutter.package_name }}.monitoring.metrics import (
    MISSING,
    categorical_distribution,
    chi_squared_p_value,
    jensen_shannon_distance,
    kolmogorov_smirnov_p_value,
    normalized_wasserstein_distance,
    numerical_distribution,
    population_stability_index,
)
from {{ cookiecutter.package_name }}.monitoring.reference import (
    LineageError,
    reference_for,
)
from {{ cookiecutter.package_name }}.monitoring.report import (
    write_reports,
)
from {{ cookiecutter.package_name }}.monitoring.significance import (
    holm,
    jensen_shannon_p_value,
    normalized_wasserstein_p_value,
)
from {{ cookiecutter.package_name }}.monitoring.thresholds import (
    DATA_DRIFT,
    MIN_VALUES,
    DriftThresholds,
)

from .conftest import Champion

NUMBER, CATEGORY = NUMERIC_FEATURES[0], CATEGORICAL_FEATURES[0]
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"


@pytest.fixture
def shipped(raw_data: pd.DataFrame) -> pd.DataFrame:
    """The raw data shipped with the project, as new data would arrive."""
    return raw_data


@pytest.fixture
def train_file(prepared: Settings) -> Path:
    return prepared.curated_dir / TRAIN_FILE


def shift(df: pd.DataFrame) -> pd.DataFrame:
    """A number moved by a standard deviation, and half of the commonest category's rows
    reported as another category: the drift the checks must name."""
    out = df.copy()
    out[NUMBER] += out[NUMBER].std()
    counts = out[CATEGORY].value_counts()
    common, other = counts.index[0], counts.index[-1]
    rows = out.index[out[CATEGORY] == common]
    out.loc[rows[: len(rows) // 2], CATEGORY] = other
    return out


def drift(*args: str) -> Result:
    return CliRunner().invoke(app, ["drift", *args])


def test_jensen_shannon_distance_is_0_for_the_same_shares_and_1_for_disjoint_ones() -> None:
    assert jensen_shannon_distance(np.array([1, 2, 3]), np.array([2, 4, 6])) == 0
    assert jensen_shannon_distance(np.array([5, 0]), np.array([0, 7])) == pytest.approx(1)


def test_kolmogorov_smirnov_p_value() -> None:
    sample = np.arange(50.0)
    assert kolmogorov_smirnov_p_value(sample, sample) == 1
    assert kolmogorov_smirnov_p_value(sample, sample + 100) < 0.05


def test_population_stability_index_by_hand() -> None:
    # Add-one smoothing: p = (4/6, 2/6), q = (2/6, 4/6); PSI = sum (q - p) ln(q / p) = 2/3 ln 2
    psi = population_stability_index(np.array([3, 1]), np.array([1, 3]))
    assert psi == pytest.approx(2 / 3 * math.log(2))
    assert population_stability_index(np.array([4, 2]), np.array([4, 2])) == 0
    assert math.isfinite(population_stability_index(np.array([9, 0]), np.array([0, 9])))


def test_normalized_wasserstein_distance_counts_reference_standard_deviations() -> None:
    reference = np.array([0.0, 1, 2, 3, 4])  # sample std sqrt(2.5)
    shifted = normalized_wasserstein_distance(reference, reference + 2)
    assert shifted == pytest.approx(2 / math.sqrt(2.5))
    # A constant reference: the std is floored at 0.001, as Azure ML does, not divided by 0.
    assert normalized_wasserstein_distance(np.ones(3), np.ones(3) + 1) == pytest.approx(1000)


def test_chi_squared_p_value() -> None:
    assert chi_squared_p_value(np.array([10, 20]), np.array([5, 10])) == pytest.approx(1)
    assert chi_squared_p_value(np.array([10, 20, 0]), np.array([5, 10, 3])) == 0  # unseen


def test_categories_count_missing_values_and_unseen_values() -> None:
    counted = categorical_distribution(
        pd.Series(["Dream", "Biscoe", None]), pd.Series(["Dream", "Atlantis"])
    )
    assert counted.labels == (MISSING, "Atlantis", "Biscoe", "Dream")
    assert counted.reference.tolist() == [1, 0, 1, 1]
    assert counted.current.tolist() == [0, 1, 0, 1]


def test_bins_span_both_samples() -> None:
    binned = numerical_distribution(np.arange(100.0), np.array([-50.0, 50, 500]))
    assert binned.edges is not None
    assert (binned.edges[0], binned.edges[-1]) == (-50, 500)
    assert (binned.reference.sum(), binned.current.sum()) == (100, 3)


def test_thresholds_are_azure_ml_defaults_one_metric_per_kind() -> None:
    assert DATA_DRIFT.as_spec() == {
        "numerical": {"normalized_wasserstein_distance": 0.1},
        "categorical": {"jensen_shannon_distance": 0.1},
    }
    with pytest.raises(ValueError, match="exactly one"):
        DriftThresholds(numerical={"pearsons_chi_squared_test": 0.05}, categorical={})


def test_a_shift_is_detected_and_named(train_file: Path, shipped: pd.DataFrame) -> None:
    reference = read_features(train_file, "reference")
    current = read_features(_csv(shift(shipped), train_file.parent / "shifted.csv"), "current")
    drifted = {f.name for f in compare(reference, current) if f.drifted}
    assert drifted == {NUMBER, CATEGORY}


def test_the_reference_itself_is_not_flagged(train_file: Path) -> None:
    reference = read_features(train_file, "reference")
    assert not [f.name for f in compare(reference, reference) if f.drifted]


# --- The decision rule: above Azure ML's threshold, and more than the noise of the window --


def test_the_permutation_tests_tell_a_shift_from_noise() -> None:
    """On fixed synthetic samples: these p-values do not depend on the project's data."""
    rng = np.random.default_rng(7)
    reference, same, shifted = rng.normal(size=300), rng.normal(size=40), rng.normal(0.8, 1, 40)

    def wasserstein(current: np.ndarray) -> float:
        return normalized_wasserstein_p_value(reference, current, 999, np.random.default_rng(0))

    def jensen_shannon(current: list[int]) -> float:
        counts = np.array([120, 100, 80])
        return jensen_shannon_p_value(counts, np.array(current), 999, np.random.default_rng(0))

    assert wasserstein(same) > 0.2
    assert wasserstein(shifted) <= 0.002
    assert jensen_shannon([13, 10, 9]) > 0.2
    assert jensen_shannon([30, 5, 5]) <= 0.005


def test_holm_adjusts_the_p_values_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []


def windows(reference: pd.DataFrame, rows: int, count: int) -> list[pd.DataFrame]:
    """`count` seeded windows of `rows` rows drawn from the reference population itself."""
    return [
        reference.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
        for seed in range(count)
    ]


def verdict_of(features: tuple[FeatureDrift, ...]) -> str:
    return DriftResult(features, 0, 0).verdict


@pytest.mark.parametrize("rows", [MIN_VALUES, 100])
def test_small_windows_of_the_training_population_are_rarely_drift(
    train_file: Path, rows: int
) -> None:
    """The false alarms of a fixed distance: on a few dozen rows, a window of the training
    population itself crosses 0.1 by chance alone. The significance rule keeps them at about
    5% (20 windows: at most 3, where 1 is expected)."""
    reference = read_features(train_file, "reference")
    verdicts = [verdict_of(compare(reference, window)) for window in windows(reference, rows, 20)]
    assert verdicts.count(DRIFT) <= 3, verdicts


def test_a_real_shift_is_caught_in_a_window_of_300_rows(train_file: Path) -> None:
    """Half a standard deviation on one number, or 20 points more of one category's share."""
    reference = read_features(train_file, "reference")
    for window in windows(reference, 300, 5):
        moved = window.assign(**{NUMBER: window[NUMBER] + reference[NUMBER].std() / 2})
        assert [f.name for f in compare(reference, moved) if f.drifted] == [NUMBER]

        common = window[CATEGORY].value_counts().index[0]
        others = window.index[window[CATEGORY] != common]
        moved = window.copy()
        moved.loc[others[: int(0.2 * len(window))], CATEGORY] = common
        assert [f.name for f in compare(reference, moved) if f.drifted] == [CATEGORY]


def test_on_large_windows_the_verdict_is_the_distance_alone(train_file: Path) -> None:
    """On 10,000 rows, significance is never in doubt: where the distance is clearly on one
    side of its threshold, the verdict is Azure ML's."""
    reference = read_features(train_file, "reference")
    (window,) = windows(reference, 10_000, 1)
    moved = window.assign(**{NUMBER: window[NUMBER] + reference[NUMBER].std()})
    for current in (window, moved):
        for feature in compare(reference, current):
            if abs(feature.distance - feature.threshold) > feature.threshold / 2:
                assert feature.drifted == (feature.distance > feature.threshold), feature.reason


def test_too_few_values_is_not_enough_data_not_drift(train_file: Path) -> None:
    reference = read_features(train_file, "reference")
    tiny = reference.head(MIN_VALUES - 1)
    features = compare(reference, tiny)
    assert {f.verdict for f in features} == {NOT_ENOUGH_DATA}
    assert verdict_of(features) == NOT_ENOUGH_DATA
    assert f"{MIN_VALUES} of each are needed" in features[0].reason

    # A number missing from every row of a window is not enough data for that feature only.
    blank = windows(reference, 100, 1)[0].assign(**{NUMBER: np.nan})
    verdicts = {f.name: f.verdict for f in compare(reference, blank)}
    assert verdicts.pop(NUMBER) == NOT_ENOUGH_DATA
    assert set(verdicts.values()) <= {DRIFT, NO_DRIFT}


def test_a_constant_column_and_an_unseen_category(train_file: Path) -> None:
    reference = read_features(train_file, "reference")
    constant = reference.assign(**{NUMBER: 1.0})
    assert not [f.name for f in compare(constant, constant) if f.drifted]
    moved = constant.assign(**{NUMBER: 2.0})
    assert [f.name for f in compare(constant, moved) if f.drifted] == [NUMBER]

    unseen = reference.copy()
    unseen.loc[unseen.index[::2], CATEGORY] = "a-category-never-seen-in-training"
    drifted = {f.name: f for f in compare(reference, unseen) if f.drifted}
    assert list(drifted) == [CATEGORY]


def test_reports_are_written(
    prepared: Settings, train_file: Path, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    current = _csv(shift(shipped), tmp_path / "current.csv")
    result = check_drift(current, prepared, reference_path=train_file)
    write_reports(result, tmp_path / "out")

    summary = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert summary["drifted_features"] == result.drifted_features
    assert set(result.drifted_features) == {NUMBER, CATEGORY}
    assert summary["rows"] == {
        "reference": len(pd.read_parquet(train_file)),
        "current": len(shipped),
    }
    assert (summary["verdict"], summary["not_enough_data"]) == (DRIFT, [])
    category = summary["features"][CATEGORY]
    assert (category["verdict"], category["distance"]["metric"]) == (
        DRIFT,
        "jensen_shannon_distance",
    )
    assert category["distance"]["value"] > category["distance"]["threshold"]
    assert category["adjusted_p_value"] <= summary["rule"]["significance"]
    assert "significant" in category["reason"]
    assert set(category["metrics"]["pearsons_chi_squared_test"]) == {
        "value",
        "threshold",
        "breached",
    }
    page = (tmp_path / "out" / "drift.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # one plot per drifted feature
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["drift.html", "drift.json"]


def test_a_category_that_looks_like_math_is_drawn_as_text(
    prepared: Settings, train_file: Path, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    """Values are data: `$...$` must not reach matplotlib's math parser (it raised, and the
    run ended with drift.json written and no drift.html)."""
    current = shipped.copy()
    current[CATEGORY] = current[CATEGORY].astype(object)
    current.loc[current.index[::2], CATEGORY] = r"$\frac{$"
    output = tmp_path / "out"
    current_file = _csv(current, tmp_path / "current.csv")
    result = drift(str(current_file), "--reference", str(train_file), "--output-dir", str(output))
    assert result.exit_code == EXIT_CODES[DRIFT], result.output
    assert sorted(p.name for p in output.iterdir()) == ["drift.html", "drift.json"]


def test_champion_reference_comes_from_lineage(
    champion: Champion, shipped: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}TRACKING_URI", champion.settings.tracking_uri)
    train = pd.read_parquet(champion.curated_dir / TRAIN_FILE)
    result = drift(str(_csv(train, tmp_path / "same.csv")), "--output-dir", str(tmp_path))
    assert result.exit_code == EXIT_CODES[NO_DRIFT], result.output
    result = drift(str(_csv(shift(shipped), tmp_path / "new.csv")), "--output-dir", str(tmp_path))
    assert result.exit_code == EXIT_CODES[DRIFT], result.output
    assert f"drift in {NUMBER}" in result.output or f"drift in {CATEGORY}" in result.output

    lineage = json.loads((tmp_path / "drift.json").read_text())["reference"]
    assert lineage["model_version"] == champion.version
    assert lineage["source"] == str((champion.curated_dir / TRAIN_FILE).resolve())
    configure_tracking(champion.settings)
    by_version = reference_for(f"models:/{champion.settings.model_name}/{champion.version}")
    assert by_version.data.equals(read_features(Path(lineage["source"]), "reference"))


@pytest.mark.filterwarnings("ignore:The specified dataset source can be interpreted")
def test_lost_lineage_is_a_clear_error(prepared: Settings, train_file: Path) -> None:
    configure_tracking(prepared)
    with pytest.raises(LineageError, match="not found"):
        reference_for(f"models:/{prepared.model_name}@champion")
    with mlflow.start_run() as bare:
        pass
    with pytest.raises(LineageError, match="no training dataset"):
        reference_for(f"runs:/{bare.info.run_id}")

    logged = train_file.with_name("logged.parquet")
    pd.read_parquet(train_file).to_parquet(logged)
    with mlflow.start_run() as run:
        dataset = mlflow.data.from_pandas(pd.read_parquet(logged), source=str(logged))
        mlflow.log_input(dataset, context="training")
    pd.read_parquet(train_file).head(10).to_parquet(logged)  # the data changed since
    with pytest.raises(LineageError, match="changed since run"):
        reference_for(f"runs:/{run.info.run_id}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda df: df.drop(columns=[NUMBER, CATEGORY]), "missing column"),
        (lambda df: df.assign(**{NUMBER: "heavy"}), f"'{NUMBER}' expects numbers"),
        (lambda df: df.head(0), "no rows"),
        (lambda df: "", "is empty"),
    ],
    ids=["missing-column", "text-in-numbers", "header-only", "empty-file"],
)
def test_bad_input_exits_2(
    content: Callable[[pd.DataFrame], pd.DataFrame | str],
    message: str,
    shipped: pd.DataFrame,
    train_file: Path,
    tmp_path: Path,
) -> None:
    current = tmp_path / "current.csv"
    data = content(shipped)
    current.write_text(data if isinstance(data, str) else data.to_csv(index=False))
    output = tmp_path / "out"
    result = drift(str(current), "--reference", str(train_file), "--output-dir", str(output))
    assert result.exit_code == BAD_INPUT
    assert message in result.output
    assert not (tmp_path / "out").exists()


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path
