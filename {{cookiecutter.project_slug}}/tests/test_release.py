"""What a release deploys on Azure ML, checked locally: the batch deployment's scoring script
and the routes the online deployment probes."""

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
import yaml
from azure.ai.ml import load_online_deployment
from azure.ai.ml.entities._load_functions import load_model_batch_deployment
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.core.predictor import (
    load_predictor,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
)
from {{ cookiecutter.package_name }}.core.settings import (
    ServingSettings,
)
from {{ cookiecutter.package_name }}.serving.app import (
    create_app,
)
from {{ cookiecutter.package_name }}.serving.batch import (
    BatchInputError,
    score_files,
)

from .conftest import Champion

PROJECT = Path(__file__).parents[1]
DEPLOY = PROJECT / "azureml" / "deploy"


def spec(name: str) -> dict[str, Any]:
    content: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))
    return content


@pytest.fixture
def azureml_mount(champion: Champion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The champion laid out as Azure ML mounts a registered model: <name>/<version>/<folder>."""
    model_name = "{{ cookiecutter.__model_name }}"
    root = tmp_path / "azureml-models" / model_name / "4"
    shutil.copytree(champion.folder, root / "model")
    # MLflow writes this file on download only; Azure ML's mount has just the logged folder.
    (root / "model" / "registered_model_meta").unlink()
    monkeypatch.delenv("MODEL_URI", raising=False)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    return root


def load_scoring_script() -> ModuleType:
    """Load the batch scoring script by its path, as Azure ML does: outside of its package."""
    batch = spec("batch-deployment.yml")
    code = (DEPLOY / batch["code_configuration"]["code"]).resolve()
    path = code / batch["code_configuration"]["scoring_script"]
    loader = importlib.util.spec_from_file_location("azureml_scoring_script", path)
    assert loader is not None, path
    assert loader.loader is not None, path
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def test_batch_scoring_script_scores_like_make_score(
    azureml_mount: Path, champion: Champion, raw_data: pd.DataFrame, tmp_path: Path
) -> None:
    raw = raw_data
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    raw.iloc[: len(raw) // 2].to_csv(files[0], index=False)
    raw.iloc[len(raw) // 2 :].to_csv(files[1], index=False)

    script = load_scoring_script()
    script.init()
    scored = script.run([str(path) for path in files])

    assert len(scored) == len(raw)
    assert set(scored["source_file"]) == {"a.csv", "b.csv"}
    assert (scored["model_version"] == "4").all(), "the version comes from Azure ML's mount"
    expected = pd.read_parquet(
        score_files(files[0], tmp_path / "a.parquet", load_predictor(champion.folder), "4").output
    )
    first = scored[scored["source_file"] == "a.csv"]
    assert list(first["prediction"]) == list(expected["prediction"])


def test_batch_scoring_script_fails_loudly_on_bad_files(
    azureml_mount: Path, raw_data: pd.DataFrame, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    dropped = FEATURES[0]
    raw_data.drop(columns=dropped).to_csv(bad, index=False)
    script = load_scoring_script()
    script.init()
    with pytest.raises(BatchInputError, match=dropped):
        script.run([str(bad)])


def test_online_deployment_probes_and_scores_routes_the_app_serves(champion: Champion) -> None:
    deployment = spec("online-deployment.yml")
    routes = deployment["environment"]["inference_config"]
    app = create_app(ServingSettings(model_uri=str(champion.folder))).app
    assert isinstance(app, FastAPI)
    paths = {getattr(route, "path", None) for route in app.routes}
    assert routes["liveness_route"]["path"] == "/health"
    assert routes["readiness_route"]["path"] == "/ready"
    assert routes["scoring_route"]["path"] == "/invocations", "MLflow and Azure ML clients"
    for route in routes.values():
        assert route["path"] in paths
        assert route["port"] == ServingSettings.model_fields["port"].default
    assert deployment["app_insights_enabled"] is True


@pytest.mark.parametrize(
    ("spec_name", "loader"),
    [
        ("online-deployment.yml", load_online_deployment),
        ("batch-deployment.yml", load_model_batch_deployment),
    ],
)
def test_deployments_load_with_the_promoted_model_as_the_release_sets_it(
    spec_name: str, loader: Callable[..., Any]
) -> None:
    """deploy.yml passes `--set model=<registry URI> environment.image=<image>`: uat and prod
    deploy the version shared to the Azure ML registry, not a model of their own."""
    model = "azureml://registries/mlr-shared/models/{{ cookiecutter.__model_name }}/versions/7"
    overrides = [{"model": model}, {"endpoint_name": "online-x-uat"}]
    if spec_name.startswith("online"):
        overrides.append({"environment.image": "cruat.azurecr.io/app:0123abc"})
    deployment = loader(DEPLOY / spec_name, params_override=overrides)
    assert deployment.model == model
    if spec_name.startswith("online"):
        assert deployment.environment.image == "cruat.azurecr.io/app:0123abc"
