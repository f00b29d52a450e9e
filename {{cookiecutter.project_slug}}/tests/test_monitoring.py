"""Drift detection: Azure ML's metrics on known inputs, verdicts on shifted data, the reference
found through the champion's lineage, and the exit codes a scheduled workflow acts on."""

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.layers import TRAIN_FILE
from {{ cookiecutter.package_name }}.monitoring.command import (
    BAD_INPUT,
    DRIFT,
    NO_DRIFT,
    main,
)
from {{ cookiecutter.package_name }}.monitoring.drift import (
    compare,
    run_drift,
)
from {{ cookiecutter.package_name }}.monitoring.inputs import (
    read_table,
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
from {{ cookiecutter.package_name }}.monitoring.thresholds import (
    DATA_DRIFT,
    DriftThresholds,
)
from {{ cookiecutter.package_name }}.training.tracking import (
    configure_tracking,
)


@pytest.fixture
def shipped(raw_dir: Path) -> pd.DataFrame:
    """The sample data shipped with the project, as new data would arrive."""
    return pd.read_csv(raw_dir / "penguins.csv")


@pytest.fixture
def train_file(prepared) -> Path:
    return prepared.curated_dir / TRAIN_FILE


def shift(df: pd.DataFrame) -> pd.DataFrame:
    """Heavier penguins (+20 %), and half of Biscoe's reported as Torgersen's."""
    out = df.copy()
    out["body_mass_g"] *= 1.2
    biscoe = out.index[out["island"] == "Biscoe"]
    out.loc[biscoe[: len(biscoe) // 2], "island"] = "Torgersen"
    return out


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
    reference = read_table(train_file, "reference")
    current = read_table(_csv(shift(shipped), train_file.parent / "shifted.csv"), "current")
    drifted = {f.name for f in compare(reference, current) if f.drifted}
    assert drifted == {"body_mass_g", "island"}


def test_the_reference_itself_is_not_flagged(train_file: Path, shipped: pd.DataFrame) -> None:
    # Azure ML's defaults sit close to the noise of small samples: a seeded half of the
    # training rows passes (about a third of halves would not); the full shipped data too.
    reference = read_table(train_file, "reference")
    for current in (reference.sample(frac=0.5, random_state=0), shipped):
        features = compare(reference, read_table(_csv(current, train_file.parent / "c.csv"), "c"))
        assert not [f.name for f in features if f.drifted]


def test_reports_are_written(prepared, train_file: Path, shipped: pd.DataFrame, tmp_path) -> None:
    current = _csv(shift(shipped), tmp_path / "current.csv")
    result = run_drift(current, tmp_path / "out", prepared, reference_path=train_file)

    summary = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert summary["drifted_features"] == result.drifted_features == ["island", "body_mass_g"]
    assert summary["rows"] == {
        "reference": len(pd.read_parquet(train_file)),
        "current": len(shipped),
    }
    island = summary["features"]["island"]
    assert (island["decided_by"], island["drifted"]) == ("jensen_shannon_distance", True)
    assert set(island["metrics"]["pearsons_chi_squared_test"]) == {"value", "threshold", "breached"}
    page = (tmp_path / "out" / "drift.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # one plot per drifted feature
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["drift.html", "drift.json"]


def test_champion_reference_comes_from_lineage(
    champion, make_settings, shipped: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    # The champion fixture keeps its tracking store beside its curated folder.
    settings = make_settings(tracking_uri=f"sqlite:///{champion.curated_dir.parent / 'mlruns.db'}")
    assert main(_csv(shipped, tmp_path / "same.csv"), settings, output_dir=tmp_path) == NO_DRIFT
    assert main(_csv(shift(shipped), tmp_path / "new.csv"), settings, output_dir=tmp_path) == DRIFT
    assert "drift in island, body_mass_g" in capsys.readouterr().err

    lineage = json.loads((tmp_path / "drift.json").read_text())["reference"]
    assert lineage["model_version"] == champion.version
    assert lineage["source"] == str((champion.curated_dir / TRAIN_FILE).resolve())
    by_version = reference_for(f"models:/{settings.model_name}/{champion.version}")
    assert by_version.data.equals(read_table(Path(lineage["source"]), "reference"))


@pytest.mark.filterwarnings("ignore:The specified dataset source can be interpreted")
def test_lost_lineage_is_a_clear_error(prepared, train_file: Path) -> None:
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
    pd.read_parquet(train_file).head(100).to_parquet(logged)  # the data changed since
    with pytest.raises(LineageError, match="changed since run"):
        reference_for(f"runs:/{run.info.run_id}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda df: df.drop(columns=["bill_depth_mm", "sex"]), "missing column"),
        (lambda df: df.assign(body_mass_g="heavy"), "'body_mass_g' expects numbers"),
        (lambda df: df.head(0), "no rows"),
        (lambda df: "", "is empty"),
    ],
    ids=["missing-column", "text-in-numbers", "header-only", "empty-file"],
)
def test_bad_input_exits_2(content, message, prepared, shipped, train_file, tmp_path, capsys):
    current = tmp_path / "current.csv"
    data = content(shipped)
    current.write_text(data if isinstance(data, str) else data.to_csv(index=False))
    code = main(current, prepared, reference=train_file, output_dir=tmp_path / "out")
    assert code == BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path
