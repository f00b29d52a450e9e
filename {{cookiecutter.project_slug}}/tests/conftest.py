"""Shared fixtures: every test gets its own data folders and MLflow store under tmp_path."""

import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.data.layers import prepare
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = PROJECT_ROOT / "data" / "raw"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never write to a tracking server configured on the developer's machine, nor into the
    project: MLflow puts artifacts under the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AZUREML_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings whose every path lives under `root`."""
    raw = root / "raw"
    if not raw.exists():
        shutil.copytree(RAW_DIR, raw)
    values = {
        "raw_dir": raw,
        "refined_dir": root / "refined",
        "curated_dir": root / "curated",
        "tracking_uri": f"sqlite:///{root / 'mlruns.db'}",
        "n_estimators": 50,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def prepared(settings: Settings) -> Settings:
    """Settings whose curated layer has been built from the shipped raw data."""
    prepare(
        settings.raw_dir, settings.refined_dir, settings.curated_dir, settings.test_size, settings.seed
    )
    return settings
