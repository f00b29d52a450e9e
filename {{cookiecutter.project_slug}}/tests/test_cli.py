"""The command line end to end, as `make train` and `make demo` drive it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from {{ cookiecutter.package_name }}.cli import (
    app,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    TARGET,
)

from .conftest import CATEGORY

PACKAGE = "{{ cookiecutter.package_name }}"
ENV_PREFIX = f"{PACKAGE.upper()}_"


@pytest.fixture
def project(tmp_path: Path, raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out like the project, with fast settings."""
    shutil.copytree(raw_dir, tmp_path / "data" / "raw")
    monkeypatch.setenv(f"{ENV_PREFIX}N_ESTIMATORS", "20")
    monkeypatch.setenv(f"{ENV_PREFIX}IMPORTANCE_REPEATS", "2")
    return tmp_path


def invoke(*args: str) -> Result:
    """Run a command; an exception that no command expects fails the test, whatever the code."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_pipeline_then_predict(project: Path) -> None:
    result = invoke("pipeline")
    assert result.exit_code == 0, result.output
    assert "version 1 is the new champion" in result.output
    assert "records no code version, as this is not a git repository" in result.output
    assert (project / "data" / "curated" / "test.parquet").is_file()
    assert (project / "mlruns.db").is_file()

    result = invoke("predict", "--rows", "3")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    train = pd.read_parquet(project / "data" / "curated" / "train.parquet")
    classes = sorted(train[TARGET].unique())
    columns = header.split()
    assert columns[-len(classes) - 1 :] == ["prediction", *(f"proba_{c}" for c in classes)]
    assert len(rows) == 3
    assert all(row.split()[-len(classes) - 1] in classes for row in rows)

    # A file of records (here the raw data, labels and extra columns included) predicts too;
    # a value outside the data contract is refused with the column named.
    good = project / "good.csv"
    pd.read_csv(next((project / "data" / "raw").glob("*.csv"))).head(2).to_csv(good, index=False)
    assert invoke("predict", str(good)).exit_code == 0
    bad = project / "bad.csv"
    pd.read_csv(good).assign(**{CATEGORY.name: "not-a-known-category"}).to_csv(bad, index=False)
    result = invoke("predict", str(bad))
    assert result.exit_code == 1
    assert f"column '{CATEGORY.name}'" in result.output


def test_register_records_the_outcome_a_release_deploys(project: Path) -> None:
    """The Azure ML pipeline's register step hands this file to the release workflow."""
    model_dir = project / "candidate"
    assert invoke("prepare").exit_code == 0
    assert invoke("train", "--model-dir", str(model_dir)).exit_code == 0
    outcomes = []
    for _ in range(2):
        result = invoke(
            "register", "--model-dir", str(model_dir), "--outcome-dir", str(project / "out")
        )
        assert result.exit_code == 0, result.output
        outcomes.append(json.loads((project / "out" / "registration.json").read_text()))
    first, again = outcomes
    assert first["model_name"] == "{{ cookiecutter.__model_name }}"
    assert first["champion_version"] == first["registered_version"]
    assert first["new_champion"] is True
    assert "baseline" in first["verdict"]
    # The same model again is not a new version: the champion stays, and is what to deploy.
    assert again["registered_version"] is None
    assert again["champion_version"] == first["champion_version"]
    assert again["new_champion"] is False
    assert "nothing registered" in result.output


def test_steps_fail_with_a_message_not_a_traceback(project: Path) -> None:
    result = invoke("register")
    assert result.exit_code == 1
    assert "run `train` first" in result.output

    result = invoke("train")
    assert result.exit_code == 1
    assert "train failed" in result.output

    result = invoke("predict")
    assert result.exit_code == 1
    assert "`make train` prepares it" in result.output

    invoke("prepare")
    result = invoke("predict")
    assert result.exit_code == 1
    assert "`make train` trains a model and registers it" in result.output


def test_a_bad_setting_is_named_with_its_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}TEST_SIZE", "1.5")
    result = invoke("prepare")
    assert result.exit_code == 2
    assert f"{ENV_PREFIX}TEST_SIZE='1.5': Input should be less than 1" in result.output


def test_python_dash_m_runs_the_cli_like_an_azure_ml_job() -> None:
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("prepare", "train", "register", "pipeline", "predict", "serve", "score"):
        assert command in result.stdout
