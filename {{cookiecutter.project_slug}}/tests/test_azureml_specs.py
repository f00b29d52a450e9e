"""Offline checks of the Azure ML specs in azureml/, with the loaders of `az ml` itself.

azure-ai-ml loads each spec as `az ml <noun> create -f <spec>` would, so an unknown key, a wrong
type or a broken data binding fails here rather than in the workspace. No Azure login and no
network are needed. A new spec is checked as soon as its `$schema` is in LOADERS.
"""

import importlib
import re
{%- if cookiecutter.python_version == "3.10" %}
import sys
{%- else %}
import tomllib
{%- endif %}
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from azure.ai.ml import (
    load_batch_deployment,
    load_batch_endpoint,
    load_component,
    load_compute,
    load_data,
    load_environment,
    load_job,
    load_model,
    load_online_deployment,
    load_online_endpoint,
)
from azure.ai.ml.entities import Component, Job
from azure.ai.ml.entities._load_functions import load_model_batch_deployment, load_schedule
{%- if cookiecutter.python_version == "3.10" %}

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib
{%- endif %}

PROJECT = Path(__file__).parents[1]
AZUREML = PROJECT / "azureml"
PIPELINE = AZUREML / "pipeline.yml"
STEPS = ["prepare", "train", "register"]

# The loader of a spec, from the file name at the end of its `$schema` URL.
LOADERS: dict[str, Callable[..., Any]] = {
    "amlCompute.schema.json": load_compute,
    "batchDeployment.schema.json": load_batch_deployment,
    "batchEndpoint.schema.json": load_batch_endpoint,
    "commandComponent.schema.json": load_component,
    "commandJob.schema.json": load_job,
    "data.schema.json": load_data,
    "environment.schema.json": load_environment,
    "managedOnlineDeployment.schema.json": load_online_deployment,
    "managedOnlineEndpoint.schema.json": load_online_endpoint,
    "model.schema.json": load_model,
    "modelBatchDeployment.schema.json": load_model_batch_deployment,
    "pipelineComponent.schema.json": load_component,
    "pipelineJob.schema.json": load_job,
    "schedule.schema.json": load_schedule,
    "Schedule.json": load_schedule,  # the monitoring schedule of the official examples
    "sweepJob.schema.json": load_job,
}
SCHEMA_LINE = re.compile(r"\$schema: +(?:https?://\S+/)?(?P<name>[^/\s]+)")
BINDING = re.compile(
    r"^\$\{\{\s*parent\.(?:jobs\.(?P<step>\w+)\.outputs|inputs)\.(?P<port>\w+)\s*\}\}$"
)


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _conda_files() -> set[Path]:
    """The conda files that environment specs point at: not Azure ML specs themselves."""
    found = set()
    for path in AZUREML.rglob("*.y*ml"):
        spec = _read_yaml(path)
        if isinstance(spec, dict) and "conda_file" in spec:
            found.add((path.parent / spec["conda_file"]).resolve())
    return found


def _merge(base: Any, part: Any) -> Any:
    """`part` merged into `base`: maps deeply, anything else replaced (yq's `*`, as the
    release merges a fragment into a spec)."""
    if isinstance(base, dict) and isinstance(part, dict):
        return {**base, **{key: _merge(base.get(key), value) for key, value in part.items()}}
    return part


CONDA_FILES = _conda_files()
MERGE_INTO = re.compile(r"# merge-into: (?P<target>\S+)")
# A fragment that the release merges into a spec (its first line says which): loaded merged.
FRAGMENTS = {
    path: (path.parent / match["target"]).resolve()
    for path in AZUREML.rglob("*.y*ml")
    if (match := MERGE_INTO.match(path.read_text(encoding="utf-8")))
}
SPECS = sorted(
    path
    for path in AZUREML.rglob("*.y*ml")
    if path.resolve() not in CONDA_FILES and path not in FRAGMENTS
)


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))


def _load(path: Path) -> Any:
    """Load a spec with the loader that its `$schema` names."""
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    match = SCHEMA_LINE.match(first_line)
    assert match, f"{path.name}: the first line must be `$schema: <url>`, got {first_line!r}"
    name = match["name"]
    assert name in LOADERS, f"{path.name}: no loader for schema {name!r}; add one to LOADERS"
    loader = LOADERS[name]
    # A batch deployment of `type: model` with `settings:` loads only with the model loader.
    if loader is load_batch_deployment and _read_yaml(path).get("type") == "model":
        loader = load_model_batch_deployment
    return loader(path)


@pytest.fixture(scope="module")
def pipeline() -> Any:
    return _load(PIPELINE)


@pytest.fixture(scope="module")
def pipeline_spec() -> dict[str, Any]:
    spec: dict[str, Any] = _read_yaml(PIPELINE)
    return spec


def test_level_zero_specs_are_there() -> None:
    names = {path.relative_to(AZUREML).as_posix() for path in SPECS}
    assert {"compute.yml", "data.yml", "environment.yml", "pipeline.yml"} <= names


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.relative_to(AZUREML).as_posix())
def test_spec_loads_and_validates(path: Path) -> None:
    entity = _load(path)
    # Jobs and components also check their data bindings; other entities have no _validate.
    if isinstance(entity, Job | Component):
        result = entity._validate()
        assert result.passed, result.error_messages


def test_every_fragment_merges_into_a_spec_that_loads(tmp_path: Path) -> None:
    """Each fragment (none at level 0) merged into its spec, as the release merges it."""
    for path, target in FRAGMENTS.items():
        assert target in {spec.resolve() for spec in SPECS}, f"{path.name}: no spec {target}"
        merged = _merge(_read_yaml(target), _read_yaml(path))
        spec = tmp_path / path.name
        spec.write_text(yaml.safe_dump(merged), encoding="utf-8")  # `$schema` sorts first
        _load(spec)


def test_pipeline_steps_validate(pipeline: Any) -> None:
    # A pipeline's own _validate skips the inputs and outputs that an inline step's command
    # refers to: the step's component catches a name that the step does not declare.
    for name, step in pipeline.jobs.items():
        result = step.component._validate()
        assert result.passed, f"step {name}: {result.error_messages}"


def test_pipeline_runs_prepare_train_register(pipeline_spec: dict[str, Any]) -> None:
    jobs = pipeline_spec["jobs"]
    assert list(jobs) == STEPS

    def source(step: str, port: str) -> tuple[str | None, str]:
        match = BINDING.match(str(jobs[step]["inputs"][port]))
        assert match, f"{step}.inputs.{port} must bind a pipeline input or a step output"
        return match["step"], match["port"]

    assert source("prepare", "raw_dir") == (None, "raw")
    assert source("train", "curated_dir") == ("prepare", "curated_dir")
    assert source("register", "curated_dir") == ("prepare", "curated_dir")
    assert source("register", "model_dir") == ("train", "model_dir")
    for step in STEPS:
        for port in jobs[step]["inputs"]:
            upstream, output = source(step, port)
            if upstream is not None:
                assert STEPS.index(upstream) < STEPS.index(step)
                assert output in jobs[upstream]["outputs"]


def test_pipeline_uses_the_other_specs(pipeline: Any) -> None:
    environment = _load(AZUREML / "environment.yml")
    compute = _load(AZUREML / "compute.yml")
    data = _load(AZUREML / "data.yml")
    assert pipeline.settings.default_compute == compute.name
    assert pipeline.inputs["raw"].path.removeprefix("azureml:") == f"{data.name}@latest"
    for name, step in pipeline.jobs.items():
        assert step.component.environment.removeprefix("azureml:") == f"{environment.name}@latest"
        assert (AZUREML / step.component.code).resolve() == (PROJECT / "src").resolve(), name


def test_the_raw_data_asset_points_at_data() -> None:
    """A local folder (uploaded by `az ml data create`) must exist and hold the raw CSV files;
    a datastore path must name a datastore and a folder."""
    path = str(_load(AZUREML / "data.yml").path)  # a local path loads as an absolute Path
    if path.startswith("azureml://"):
        assert re.fullmatch(r"azureml://datastores/[\w-]+/paths/.+/", path), path
    else:
        assert Path(path).is_dir(), f"data.yml: {path} does not exist, `az ml data create` fails"
        assert list(Path(path).glob("*.csv")), f"data.yml: no CSV file in {path}"


def test_pipeline_commands_match_the_cli(pipeline_spec: dict[str, Any]) -> None:
    """Each step runs `python -m <package> <command> --option ...` with options the CLI has."""
    entry_point = next(iter(_pyproject()["project"]["scripts"].values()))
    module, _, attribute = entry_point.partition(":")
    package = module.split(".")[0]
    cli = typer.main.get_group(getattr(importlib.import_module(module), attribute))
    for name, step in pipeline_spec["jobs"].items():
        words = step["command"].split()
        assert words[:4] == ["python", "-m", package, name]
        command = cli.commands[name]
        known = {option for parameter in command.params for option in parameter.opts}
        used = {word for word in words if word.startswith("--")}
        assert used <= known, f"step {name}: {sorted(used - known)} are not options of the CLI"


def test_conda_environment_matches_pyproject() -> None:
    project = _pyproject()["project"]
    conda = _load(AZUREML / "environment.yml").conda_file
    pip = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    # azureml-mlflow lets MLflow log to the workspace from inside a job.
    runtime = [*project["dependencies"], *project["optional-dependencies"]["train"]]
    missing = sorted(set(runtime) - set(pip))
    assert not missing, f"add to azureml/conda.yml, which Azure ML jobs run with: {missing}"
    extra = sorted(set(pip) - {*runtime, "azureml-mlflow"})
    assert not extra, f"in azureml/conda.yml but not in pyproject.toml: {extra}"
    python = project["requires-python"].removeprefix(">=")
    assert f"python={python}" in conda["dependencies"]
