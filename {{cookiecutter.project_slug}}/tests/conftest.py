"""Shared fixtures: every test gets its own data folders and MLflow store under tmp_path."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.data.layers import prepare
from {{ cookiecutter.package_name }}.settings import Settings

SettingsFactory = Callable[..., Settings]
RAW_DIR = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never write to a tracking server configured on the developer's machine, nor into the
    project: MLflow puts artifacts under the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AZUREML_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def raw_dir() -> Path:
    """The sample data shipped with the project (read it, never write it)."""
    return RAW_DIR


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Build settings whose every path lives under tmp_path; small forests keep tests fast."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW_DIR, raw)
    defaults = {
        "raw_dir": raw,
        "refined_dir": tmp_path / "refined",
        "curated_dir": tmp_path / "curated",
        "tracking_uri": f"sqlite:///{tmp_path / 'mlruns.db'}",
        "n_estimators": 50,
    }
    return lambda **overrides: Settings(**(defaults | overrides))


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def prepared(settings: Settings) -> Settings:
    """Settings whose curated layer has been built from the shipped raw data."""
    prepare(
        settings.raw_dir,
        settings.refined_dir,
        settings.curated_dir,
        settings.test_size,
        settings.seed,
    )
    return settings
