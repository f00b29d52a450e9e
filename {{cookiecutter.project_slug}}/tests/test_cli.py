"""The command line end to end, as `make train` and `make demo` drive it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app

PACKAGE = "{{ cookiecutter.package_name }}"
ENV_PREFIX = f"{PACKAGE.upper()}_"


@pytest.fixture
def project(tmp_path: Path, raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out like the project, with fast settings."""
    shutil.copytree(raw_dir, tmp_path / "data" / "raw")
    monkeypatch.setenv(f"{ENV_PREFIX}N_ESTIMATORS", "50")
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_pipeline_then_predict(project: Path) -> None:
    result = invoke("pipeline")
    assert result.exit_code == 0, result.output
    assert "version 1 is the new champion" in result.output
    assert (project / "data" / "curated" / "test.parquet").is_file()
    assert (project / "mlruns.db").is_file()

    result = invoke("predict", "--rows", "3")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[-4:] == ["prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert len(rows) == 3
    assert all(row.split()[-4] in {"Adelie", "Chinstrap", "Gentoo"} for row in rows)


def test_predict_reads_a_csv_and_rejects_bad_records(project: Path, raw_dir: Path) -> None:
    assert invoke("pipeline").exit_code == 0
    good = project / "good.csv"
    pd.read_csv(raw_dir / "penguins.csv").head(2).to_csv(good, index=False)
    assert invoke("predict", str(good)).exit_code == 0

    bad = project / "bad.csv"
    pd.read_csv(good).assign(island="Atlantis").to_csv(bad, index=False)
    result = invoke("predict", str(bad))
    assert result.exit_code == 1
    assert "column 'island'" in result.output


def test_register_records_the_outcome_a_release_deploys(project: Path) -> None:
    """The Azure ML pipeline's register step hands this file to the release workflow."""
    model_dir = project / "candidate"
    assert invoke("prepare").exit_code == 0
    versions = []
    for _ in range(2):
        assert invoke("train", "--model-dir", str(model_dir)).exit_code == 0
        result = invoke(
            "register", "--model-dir", str(model_dir), "--outcome-dir", str(project / "out")
        )
        assert result.exit_code == 0, result.output

        outcome = json.loads((project / "out" / "registration.json").read_text())
        assert outcome["model_name"] == "{{ cookiecutter.__model_name }}"
        # Same data, same seed: the retrained model ties the champion and takes over.
        assert outcome["champion_version"] == outcome["registered_version"]
        assert outcome["new_champion"] is True
        assert "baseline" in outcome["verdict"]
        versions.append(int(outcome["registered_version"]))
    assert versions[1] == versions[0] + 1


def test_steps_fail_with_a_message_not_a_traceback(project: Path) -> None:
    result = invoke("register")
    assert result.exit_code == 1
    assert "run `train` first" in result.output

    result = invoke("predict")
    assert result.exit_code == 1
    assert "Traceback" not in result.output


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
    for command in ("prepare", "train", "register", "pipeline", "predict"):
        assert command in result.stdout
