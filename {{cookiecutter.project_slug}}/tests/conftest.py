"""Shared fixtures: every test gets its own data folders and MLflow store under tmp_path."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest

from {{ cookiecutter.package_name }}.data.layers import prepare
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.training.register import register
from {{ cookiecutter.package_name }}.training.train import train

SettingsFactory = Callable[..., Settings]
RAW_DIR = Path(__file__).resolve().parents[1] / "data" / "raw"
FOREIGN_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AZUREML_RUN_ID", "MODEL_URI")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never write to a tracking server configured on the developer's machine, nor into the
    project: MLflow puts artifacts under the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in FOREIGN_ENV:
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


@dataclass(frozen=True)
class Champion:
    """A registered champion downloaded as the folder a server or batch job is given."""

    folder: Path
    version: str
    curated_dir: Path


@pytest.fixture(scope="session")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """Train and register once for every serving test: the slow part of the suite."""
    root = tmp_path_factory.mktemp("champion")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name in FOREIGN_ENV:
            patch.delenv(name, raising=False)
        settings = Settings(
            raw_dir=RAW_DIR,
            refined_dir=root / "refined",
            curated_dir=root / "curated",
            tracking_uri=f"sqlite:///{root / 'mlruns.db'}",
            n_estimators=50,
        )
        prepare(RAW_DIR, settings.refined_dir, settings.curated_dir, settings.test_size, 42)
        train(settings, settings.curated_dir, root / "candidate")
        registered = register(settings, settings.curated_dir, root / "candidate")
        folder = mlflow.artifacts.download_artifacts(
            f"models:/{settings.model_name}@champion", dst_path=str(root / "served")
        )
    return Champion(Path(folder), registered.version, settings.curated_dir)
