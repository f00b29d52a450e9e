"""Shared fixtures. Every test runs in its own folder with its own MLflow store; the slow part,
training and registering a champion, happens once per session (`champion`).

Nothing here pins the shipped sample data: the tests hold for any data that meets the schema in
core/schemas.py, so they stay green when `data/raw/` is replaced by a team's own data.
"""

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.core.schemas import (
    input_contract,
)
from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    download_model,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    prepare,
)
from {{ cookiecutter.package_name }}.training.register import (
    register,
)
from {{ cookiecutter.package_name }}.training.train import (
    train,
)

SettingsFactory = Callable[..., Settings]
RAW_DIR = Path(__file__).resolve().parents[1] / "data" / "raw"
FOREIGN_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AZUREML_RUN_ID", "MODEL_URI")
# The data contract the tests build their cases from, never from the sample's values: a number
# and a category of it, whichever columns the team's data has.
CONTRACT = input_contract()
NUMBER = next(f for f in CONTRACT.features if f.kind == "number")
CATEGORY = next(f for f in CONTRACT.features if f.kind == "category")
# Small forests and few importance repeats keep the tests fast; the rest is the project's own.
FAST = {"n_estimators": 20, "importance_repeats": 2}


def settings_in(folder: Path, **overrides: object) -> Settings:
    """Settings whose data folders and MLflow store all live under `folder`."""
    return Settings.model_validate(
        {
            "raw_dir": RAW_DIR,
            "refined_dir": folder / "refined",
            "curated_dir": folder / "curated",
            "tracking_uri": f"sqlite:///{folder / 'mlruns.db'}",
            **FAST,
            **overrides,
        }
    )


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment in which `python -m <package> <command>` runs with `settings`."""
    prefix = Settings.model_config.get("env_prefix", "")
    fields = {name: value for name, value in settings.model_dump().items() if value is not None}
    return os.environ | {f"{prefix}{name.upper()}": str(value) for name, value in fields.items()}


def commit_all(folder: Path) -> str:
    """Make `folder` a git repository with one commit of its content (the MLflow store aside,
    as the project's .gitignore does); return the commit."""
    (folder / ".gitignore").write_text("mlruns.db\nmlartifacts/\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "data"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            check=True,
            cwd=folder,
        )
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()


def run_prepare(settings: Settings) -> None:
    prepare(
        settings.raw_dir,
        settings.refined_dir,
        settings.curated_dir,
        settings.test_size,
        settings.seed,
    )


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never write to a tracking server configured on the developer's machine, nor into the
    project: MLflow puts artifacts under the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its tables created and no experiment of the project yet:
    copying it is 50 times faster than letting MLflow create a new one for each test."""
    path = tmp_path_factory.mktemp("empty-store") / "mlruns.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def raw_dir() -> Path:
    """The data shipped with the project (read it, never write it)."""
    return RAW_DIR


@pytest.fixture
def raw_data(raw_dir: Path) -> pd.DataFrame:
    """Every CSV file of the raw layer, as one table: what new data looks like."""
    return pd.concat([pd.read_csv(f) for f in sorted(raw_dir.glob("*.csv"))], ignore_index=True)


@pytest.fixture
def make_settings(tmp_path: Path, empty_store: Path) -> SettingsFactory:
    """Build settings whose every path lives under tmp_path, with a copy of the raw data (to
    change at will) and an MLflow store of its own."""
    shutil.copytree(RAW_DIR, tmp_path / "raw")
    shutil.copy(empty_store, tmp_path / "mlruns.db")
    return lambda **overrides: settings_in(tmp_path, raw_dir=tmp_path / "raw", **overrides)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def prepared(settings: Settings) -> Settings:
    """Settings whose curated layer has been built from the raw data."""
    run_prepare(settings)
    return settings


@dataclass(frozen=True)
class Champion:
    """A model trained and registered once per session, and the store it lives in. Tests read
    it; a test that changes the registry makes its own with `prepared`."""

    settings: Settings
    run_id: str
    model_uri: str
    version: str
    folder: Path  # the registered model downloaded: what a server or batch job is given
    commit: str  # of the git repository it was trained in

    @property
    def curated_dir(self) -> Path:
        return self.settings.curated_dir


@pytest.fixture(scope="session")
def champion(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Champion:
    """Prepare, train and register once for every test that needs a model: the slow part."""
    root = tmp_path_factory.mktemp("champion")
    shutil.copy(empty_store, root / "mlruns.db")
    settings = settings_in(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name in FOREIGN_ENV:
            patch.delenv(name, raising=False)
        run_prepare(settings)
        commit = commit_all(root)
        candidate = train(settings, settings.curated_dir, root / "candidate")
        version = register(settings, settings.curated_dir, root / "candidate").champion_version
        assert version is not None, "the first model to pass the gate is the champion"
        folder = download_model(f"models:/{settings.model_name}@champion", root / "served")
    return Champion(settings, candidate.run_id, candidate.model_uri, version, folder, commit)
