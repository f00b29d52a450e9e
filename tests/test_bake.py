"""Bake the template the way users do, and hold every baked project to its own quality bar."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from baking import (
    BIN,
    RUFF,
    TEMPLATE,
    Bake,
    files_of,
    load_hook,
    project_env,
    run,
    run_local_hooks,
)

DEFAULT_NAME = "penguin_classifier"
PRE_GEN = load_hook("pre_gen_project")

# Jinja that escaped rendering. `${{ github.sha }}` and `${{inputs.x}}` are not ours.
UNRENDERED = re.compile(r"\{\{-?\s*cookiecutter\.|\{%-?\s")

LEVEL_0_FILES = {
    ".cruft.json",
    ".dockerignore",
    ".gitignore",
    ".pre-commit-config.yaml",
    "Dockerfile",
    "LICENSE",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "azureml/compute.yml",
    "azureml/conda.yml",
    "azureml/data.yml",
    "azureml/environment.yml",
    "azureml/pipeline.yml",
    "azureml/smoke-request.json",
    "data/curated/.gitkeep",
    "data/raw/README.md",
    "data/raw/penguins.csv",
    "data/refined/.gitkeep",
    "scripts/bench.py",
    "scripts/upgrade.py",
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/asgi.py",
    "src/{package}/cli.py",
    "src/{package}/plugins.py",
    "src/{package}/core/__init__.py",
    "src/{package}/core/console.py",
    "src/{package}/core/contract.py",
    "src/{package}/core/errors.py",
    "src/{package}/core/files.py",
    "src/{package}/core/predictor.py",
    "src/{package}/core/schemas.py",
    "src/{package}/core/settings.py",
    "src/{package}/core/tracking.py",
    "src/{package}/data/__init__.py",
    "src/{package}/data/ingest.py",
    "src/{package}/data/prepare.py",
    "src/{package}/data/split.py",
    "src/{package}/data/wrangle.py",
    "src/{package}/serving/__init__.py",
    "src/{package}/serving/app.py",
    "src/{package}/serving/batch.py",
    "src/{package}/serving/invocations.py",
    "src/{package}/serving/logs.py",
    "src/{package}/serving/middleware.py",
    "src/{package}/serving/protocol.py",
    "src/{package}/serving/smoke.py",
    "src/{package}/serving/source.py",
    "src/{package}/training/__init__.py",
    "src/{package}/training/evaluate.py",
    "src/{package}/training/export.py",
    "src/{package}/training/model.py",
    "src/{package}/training/register.py",
    "src/{package}/training/train.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/test_azureml_specs.py",
    "tests/test_batch.py",
    "tests/test_cli.py",
    "tests/test_data.py",
    "tests/test_mlflow_protocol.py",
    "tests/test_predictor.py",
    "tests/test_registry.py",
    "tests/servers.py",
    "tests/test_serving.py",
    "tests/test_training.py",
}
LEVEL_1_FILES = LEVEL_0_FILES | {
    "azureml/deploy/batch-deployment.yml",
    "azureml/deploy/batch-endpoint.yml",
    "azureml/deploy/online-deployment.yml",
    "azureml/deploy/online-endpoint.yml",
    "docs/automation.md",
    "infra/environments.toml",
    "infra/main.bicep",
    "infra/registry.bicep",
    "make/automation.mk",
    "scripts/bootstrap.py",
    "scripts/release/azure-login.sh",
    "scripts/release/azureml-wait.sh",
    "scripts/release/deploy.sh",
    "scripts/release/lib.sh",
    "scripts/release/promote.sh",
    "scripts/release/smoke-test.sh",
    "scripts/release/train.sh",
    "src/{package}/serving/azureml_batch.py",
    "tests/test_bootstrap.py",
    "tests/test_release.py",
}
LEVEL_2_FILES = LEVEL_1_FILES | {
    "azureml/monitoring/data-collection.yml",
    "azureml/monitoring/drift-job.yml",
    "azureml/monitoring/monitor.yml",
    "docs/monitoring.md",
    "infra/monitoring.toml",
    "make/monitoring.mk",
    "scripts/drift_bench.py",
    "scripts/release/drift.sh",
    "src/{package}/monitoring/__init__.py",
    "src/{package}/monitoring/collector.py",
    "src/{package}/monitoring/commands.py",
    "src/{package}/monitoring/drift.py",
    "src/{package}/monitoring/inputs.py",
    "src/{package}/monitoring/metrics.py",
    "src/{package}/monitoring/plugin.py",
    "src/{package}/monitoring/policy.py",
    "src/{package}/monitoring/reference.py",
    "src/{package}/monitoring/report.py",
    "src/{package}/monitoring/significance.py",
    "src/{package}/monitoring/thresholds.py",
    "src/{package}/monitoring/window.py",
    "tests/test_collector.py",
    "tests/test_feedback_loop.py",
    "tests/test_monitoring.py",
}
# Each level adds files to the one below.
FILES_BY_LEVEL = {"0": LEVEL_0_FILES, "1": LEVEL_1_FILES, "2": LEVEL_2_FILES}
# The files of the CI platform chosen, by the level that adds them; the other platform's never.
PLATFORM_FILES = {
    "github": {
        "1": {
            ".github/dependabot.yml",
            ".github/workflows/cd.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/deploy.yml",
        },
        "2": {".github/workflows/drift.yml"},
    },
    "azure_devops": {
        "1": {
            ".azure-pipelines/ci.yml",
            ".azure-pipelines/release.yml",
            ".azure-pipelines/templates/deploy.yml",
            ".azure-pipelines/templates/release-step.yml",
        },
        "2": {".azure-pipelines/drift.yml"},
    },
}


def expected_files(level: str, platform: str) -> set[str]:
    files = FILES_BY_LEVEL[level].union(
        *(paths for added, paths in PLATFORM_FILES[platform].items() if added <= level)
    )
    return {path.format(package=DEFAULT_NAME) for path in files}


# The one place for files that differ between levels, each with its reason. Every other file a
# lower level has is byte-identical at the higher ones, so climbing a level only adds files.
DIFFER_BETWEEN_LEVELS = {
    ".cruft.json": "the answers, the maturity level among them",
}


@pytest.mark.parametrize("platform", ["github", "azure_devops"])
@pytest.mark.parametrize("level", ["0", "1", "2"])
def test_every_level_bakes_the_exact_file_set(bake_once: Bake, level: str, platform: str) -> None:
    project = bake_once(maturity_level=level, ci_platform=platform)

    assert files_of(project) == expected_files(level, platform)


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"project_name": "Fraud Radar", "python_version": "3.10", "license": "Apache-2.0"},
        {"ci_platform": "azure_devops", "azure_devops_project": "Fraud Radar (ML) & Co"},
    ],
    ids=["defaults", "other-answers", "azure-devops"],
)
@pytest.mark.parametrize(("lower", "higher"), [("0", "1"), ("0", "2"), ("1", "2")])
def test_a_higher_level_only_adds_files(
    bake_once: Bake, answers: dict[str, str], lower: str, higher: str
) -> None:
    """Every file of the lower level is byte-identical at the higher one: a climb adds files
    and touches none the user may have edited (DIFFER_BETWEEN_LEVELS aside)."""
    low = bake_once(maturity_level=lower, **answers)
    high = bake_once(maturity_level=higher, **answers)

    shared = files_of(low) - set(DIFFER_BETWEEN_LEVELS)
    assert shared <= files_of(high), "a higher level removed files"
    changed = sorted(p for p in shared if (low / p).read_bytes() != (high / p).read_bytes())
    assert changed == [], f"level {higher} changes files of level {lower}"


@pytest.mark.parametrize("level", ["0", "2"])
def test_every_project_is_linked_to_its_template(bake_once: Bake, level: str) -> None:
    """.cruft.json as `cruft create` writes it: cruft can update or climb any project."""
    project = bake_once(maturity_level=level)

    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(TEMPLATE)
    head = run(["git", "rev-parse", "HEAD"], cwd=TEMPLATE).strip()
    assert state["commit"] == head
    assert state["directory"] is None
    answers = state["context"]["cookiecutter"]
    assert answers["maturity_level"] == level
    assert (answers["_template"], answers["_commit"]) == (state["template"], head)
    template_keys = set(json.loads((TEMPLATE / "cookiecutter.json").read_text())) - {"__prompts__"}
    assert set(answers) == template_keys | {"_template", "_commit"}, "no machine-specific path"


def assert_every_file_parses(project: Path) -> None:
    """No Jinja left, and every Python, YAML, TOML and JSON file parses."""
    for path in project.rglob("*"):
        if not path.is_file() or path.suffix in {".csv", ".parquet"}:
            continue
        text = path.read_text()
        assert not UNRENDERED.search(text), f"unrendered Jinja in {path.relative_to(project)}"
        if path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".json":
            json.loads(text)


@pytest.mark.parametrize("level", ["0", "1", "2"])
def test_every_file_is_rendered_and_parses(bake: Bake, level: str) -> None:
    project = bake(maturity_level=level)

    assert_every_file_parses(project)
    pipeline = (project / "azureml/pipeline.yml").read_text()
    assert "${{inputs.raw_dir}}" in pipeline, "Azure ML expressions survive rendering"


# Answers the hooks accept that are awkward in TOML, YAML, Markdown or Python: each must bake a
# project whose files all parse and whose code passes ruff.
ODD_BUT_VALID = {
    "YAML and TOML specials": {
        "project_name": "Fraud: #1 'Radar' & {Co} *",
        "description": "- a list? no: [a] {b} & *c, 'quoted' #not-a-comment % 100",
        "author_name": "Ada O'Brien-Lovelace, Jr.",
        "author_email": "ada.o-brien+ml_2@lab.example.co.uk",
    },
    "non-ASCII": {
        "project_name": "Über Prévision 東京",
        "description": "Prévisions à 7 jours, ±5 %",
        "author_name": "Zoë Ñúñez",
    },
    "Azure DevOps names": {
        "project_name": "Fraud: #1 'Radar' & {Co} *",
        "description": "Prévisions, 'quoted' & more",
        "author_name": "Zoë O'Brien",
        "ci_platform": "azure_devops",
        "azure_devops_organization": "Contoso-ML-2",
        "azure_devops_project": "Fraud Radar (ML) & Prévision's 東京 @team",
    },
}


@pytest.mark.parametrize("answers", list(ODD_BUT_VALID.values()), ids=list(ODD_BUT_VALID))
def test_odd_but_valid_answers_bake_a_project_that_parses(
    bake: Bake, answers: dict[str, str]
) -> None:
    project = bake(maturity_level="2", **answers)

    assert_every_file_parses(project)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == answers["description"]
    assert pyproject["project"]["authors"][0]["name"] == answers["author_name"]
    if "author_email" in answers:
        monitor = yaml.safe_load((project / "azureml/monitoring/monitor.yml").read_text())
        assert answers["author_email"] in json.dumps(monitor)
    for command in (["check", "."], ["format", "--check", "."]):
        run([str(RUFF), *command], cwd=project)


def test_a_long_project_name_gets_a_slug_that_fits(bake: Bake) -> None:
    """The slug becomes a folder before any hook can check it: its default is bounded."""
    project = bake(project_name="Quarterly Demand Forecasting " * 12)

    assert 2 <= len(project.name) <= 64
    assert_every_file_parses(project)


def test_no_rendered_hook_is_left_in_the_temporary_folder(bake: Bake) -> None:
    """Cookiecutter runs each hook from a rendered copy in the temporary folder, every answer
    inside, and leaves it there; the hooks delete their own copy."""
    marker = "Answer-Leak-Probe"
    before = set(Path(tempfile.gettempdir()).glob("*.py"))
    bake(author_name=marker)
    left = [
        path
        for path in set(Path(tempfile.gettempdir()).glob("*.py")) - before
        if marker in path.read_text(errors="ignore")
    ]
    assert left == []


@pytest.mark.parametrize(
    ("name", "slug", "package"),
    [
        ("Prévision des Ventes", "prevision-des-ventes", "prevision_des_ventes"),
        ("ÉTUDE Churn 2024", "etude-churn-2024", "etude_churn_2024"),
        ("42 Reasons", "42-reasons", "reasons"),
        (
            "A Rather Long Project Name For Checking Line Lengths",
            "a-rather-long-project-name-for-checking-line-lengths",
            "a_rather_long_project_name_for_checking_line_lengths",
        ),
    ],
)
def test_odd_names_bake_into_valid_lint_clean_projects(
    bake: Bake, name: str, slug: str, package: str
) -> None:
    project = bake(project_name=name)

    assert project.name == slug
    assert (project / "src" / package / "cli.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == slug
    assert pyproject["project"]["scripts"] == {slug: f"{package}.cli:app"}
    leaks = [
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and re.search(r"penguin[-_]classifier", p.read_text(errors="ignore"))
    ]
    assert leaks == [], "the default project's names leaked into another project"
    for command in (["check", "."], ["format", "--check", "."]):
        run([str(RUFF), *command], cwd=project)


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_python_version_reaches_every_file_that_names_it(bake: Bake, version: str) -> None:
    project = bake(python_version=version)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    conda = yaml.safe_load((project / "azureml/conda.yml").read_text())
    assert f"python={version}" in conda["dependencies"]


def test_azure_names_derive_from_the_prefix(bake: Bake) -> None:
    project = bake(project_name="Fraud Radar", azure_resource_prefix="frd")

    readme = (project / "README.md").read_text()
    assert "-g rg-frd-dev -w mlw-frd-dev" in readme
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert answers["__azure"]["prod"] == {
        "resource_group": "rg-frd-prod",
        "workspace": "mlw-frd-prod",
        "container_registry": "crfrdprod",
        "storage_account": "stfrdprod",
        "online_endpoint": "online-frd-prod",
        "batch_endpoint": "batch-frd-prod",
    }
    assert answers["__azure"]["shared"] == {
        "resource_group": "rg-frd-shared",
        "registry": "mlr-frd",
    }


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"package_name": "class"}, "package_name"),
        ({"package_name": "json"}, "package_name"),
        ({"project_slug": "Not A Slug"}, "project_slug"),
        ({"author_email": "nobody"}, "author_email"),
        ({"azure_resource_prefix": "Bad-Prefix"}, "azure_resource_prefix"),
        ({"github_repository": "no-owner"}, "github_repository"),
        ({"project_name": 'The "Best" Model'}, "project_name"),
        ({"project_name": "Two\nLines"}, "project_name"),
        ({"description": "Two\nLines"}, "description"),
        ({"author_name": "Ada\nLovelace"}, "author_name"),
        ({"author_email": '"ada"@lovelace.dev'}, "author_email"),
        ({"author_email": "[ada]@lovelace.dev"}, "author_email"),
        ({"author_email": "*ada@lovelace.dev"}, "author_email"),
        ({"project_name": "Uvicorn"}, "project_slug"),
        ({"project_name": "scikit learn"}, "project_slug"),
        ({"project_slug": "pydantic-settings"}, "project_slug"),
    ],
)
def test_bad_answers_fail_with_a_message_and_leave_nothing(
    cookies: Any, capfd: pytest.CaptureFixture[str], context: dict[str, str], named: str
) -> None:
    result = cookies.bake(extra_context=context)

    assert result.exit_code != 0
    assert named in capfd.readouterr().err
    output_dir = Path(cookies._new_output_dir()).parent
    assert not [p for p in output_dir.rglob("*") if p.is_file()], "nothing is left on disk"


def test_an_unsupported_python_version_is_refused(cookies: Any) -> None:
    result = cookies.bake(extra_context={"python_version": "3.9"})

    assert result.exit_code != 0
    assert "3.9" in str(result.exception)


def test_every_prompt_has_a_label() -> None:
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    prompts = context["__prompts__"]
    public = {key for key in context if not key.startswith("_")}
    assert set(prompts) == public
    for choice in ("maturity_level", "license"):
        assert set(prompts[choice]) == {"__prompt__", *context[choice]}
    # Cookiecutter numbers the menu from 1: a label starting with a level's digit would read
    # "2 - 1 automation", and typing 2 would give level 1.
    labels = [label for key, label in prompts["maturity_level"].items() if key != "__prompt__"]
    assert not [label for label in labels if label[0].isdigit()]


@pytest.mark.parametrize("license_id", ["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"])
def test_the_license_is_the_one_chosen(bake: Bake, license_id: str) -> None:
    project = bake(license=license_id, author_name="Ada Lovelace")

    text = (project / "LICENSE").read_text()
    first_line = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Proprietary": "Copyright (c)",
    }[license_id]
    assert text.lstrip().startswith(first_line)
    assert license_id == "Apache-2.0" or "Ada Lovelace" in text
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["license"]
    assert declared == ("LicenseRef-Proprietary" if license_id == "Proprietary" else license_id)


@pytest.mark.slow
@pytest.mark.parametrize(
    "context",
    [
        {"maturity_level": "0"},
        {"maturity_level": "1", "python_version": "3.10", "project_name": "Prévision Clients"},
    ],
    # Level 2's gate runs at the end of test_upgrade.py, on a project that climbed there.
    ids=["level-0", "level-1-py310"],
)
def test_baked_project_passes_its_own_quality_gate(bake: Bake, context: dict[str, str]) -> None:
    """`make install`, `make lint` and `make test`, exactly as the generated README says."""
    project = bake(**context)
    env = project_env()

    for target in ("install", "lint", "test"):
        run(["make", target], cwd=project, env=env)
        if target == "install":
            locked = tomllib.loads((project / "uv.lock").read_text())["package"]
            new = {p["name"] for p in locked} - PRE_GEN.DEPENDENCY_DISTRIBUTIONS - {project.name}
            assert not new, f"add to LOCKED_NAMES in hooks/pre_gen_project.py: {sorted(new)}"
    run([".venv/bin/pre-commit", "validate-config"], cwd=project, env=env)
    if context["maturity_level"] != "0":
        run_local_hooks(project, env)


@pytest.mark.slow
def test_make_demo_ends_with_predictions_of_the_champion(bake: Bake) -> None:
    """On a machine without uv: `make install` bootstraps its own copy with pip. A newcomer's
    first command says what it does, in a few lines, and none of them is a warning."""
    project = bake()
    env = project_env() | {"UV": ".tools/bin/uv"}

    done = subprocess.run(
        ["make", "install", "demo"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    assert done.returncode == 0, done.stdout
    lines = done.stdout.strip().splitlines()
    assert len(lines) <= 40, done.stdout
    assert not [line for line in lines if re.search(r"warn|%\|", line, re.IGNORECASE)], done.stdout
    (start,) = [i for i, line in enumerate(lines) if "proba_Adelie" in line]
    header, *rows = lines[start:]
    assert header.split()[-4:] == ["prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert len(rows) == 5, "`make demo` ends with the predictions, nothing after"
    assert {row.split()[-4] for row in rows} <= {"Adelie", "Chinstrap", "Gentoo"}
    assert (project / "mlruns.db").is_file()
    assert (project / ".tools/bin/uv").is_file()


def test_the_template_workflows_are_clean() -> None:
    workflows = sorted(str(p) for p in (TEMPLATE / ".github/workflows").glob("*.yml"))
    run([str(RUFF.with_name("actionlint")), *workflows], cwd=TEMPLATE)
    run([str(RUFF.with_name("zizmor")), "--offline", *workflows], cwd=TEMPLATE)


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    readme = (TEMPLATE / "README.md").read_text()
    ci = (TEMPLATE / ".ci/run").read_text()
    assert "make test" in readme.split("## ")[0], "the README leads with the test command"
    assert re.search(r"^make test$", ci, re.MULTILINE)


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's import contracts (pyproject.toml), read from its sources: no install."""
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=project,
        env=os.environ | {"PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/settings.py", "from ..serving import app", "Entry points -> stages -> core"),
        ("training/train.py", "from ..serving import batch", "Entry points -> stages -> core"),
        ("data/split.py", "from . import prepare", "No import cycles"),
        (
            "core/files.py",
            "def hidden() -> None:\n    from ..training import model",
            "Entry points -> stages -> core",
        ),
    ],
    ids=["upward", "between siblings", "cycle", "hidden in a function"],
)
def test_the_import_contracts_catch_a_wrong_import(
    bake_once: Bake, tmp_path: Path, module: str, line: str, broken: str
) -> None:
    project = Path(shutil.copytree(bake_once(maturity_level="2"), tmp_path / "project"))
    assert lint_imports(project).returncode == 0, "the project as generated keeps them"

    path = project / "src" / DEFAULT_NAME / module
    path.write_text(f"{path.read_text()}\n{line}\n")
    result = lint_imports(project)

    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout
