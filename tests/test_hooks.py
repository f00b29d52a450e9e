"""Unit tests for the Cookiecutter hooks, imported unrendered from hooks/."""

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from baking import load_hook
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

TEMPLATE = Path(__file__).resolve().parents[1]


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")


@pytest.fixture
def answers() -> dict[str, Any]:
    """A valid answer set that differs from the template defaults."""
    return {
        "project_name": "Fraud Radar",
        "description": "Flags odd payments.",
        "author_name": "Ada Lovelace",
        "project_slug": "fraud-radar",
        "package_name": "fraud_radar",
        "author_email": "ada@lovelace.dev",
        "license": "Apache-2.0",
        "python_version": "3.12",
        "maturity_level": "2",
        "ci_platform": "github",
        "azure_devops_organization": "acme-labs",
        "azure_devops_project": "Fraud Radar (ML)",
        "azure_location": "eastus2",
        "azure_resource_prefix": "fraudradar",
        "github_repository": "acme-labs/fraud-radar",
        "azure": {
            "shared": {"resource_group": "rg-fraudradar-shared", "registry": "mlr-fraudradar"},
        }
        | {
            env: {
                "resource_group": f"rg-fraudradar-{env}",
                "workspace": f"mlw-fraudradar-{env}",
                "container_registry": f"crfraudradar{env}",
                "storage_account": f"stfraudradar{env}",
                "online_endpoint": f"online-fraudradar-{env}",
                "batch_endpoint": f"batch-fraudradar-{env}",
            }
            for env in ("dev", "uat", "prod")
        },
    }


def with_answer(answers: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """Return a copy of `answers` with the dotted `path` (e.g. azure.dev.workspace) set."""
    changed = copy.deepcopy(answers)
    *parents, key = path.split(".")
    target = changed
    for parent in parents:
        target = target[parent]
    target[key] = value
    return changed


def test_valid_answers_have_no_problems(answers: dict[str, Any]) -> None:
    assert pre_gen.validate(answers) == []


def test_template_defaults_are_valid() -> None:
    context = generate_context(context_file=str(TEMPLATE / "cookiecutter.json"))
    rendered = prompt_for_config(context, no_input=True)

    assert pre_gen.validate(pre_gen.answers_from(rendered)) == []


def test_every_rule_names_a_real_template_variable() -> None:
    variables = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    assert set(pre_gen.ANSWER_RULES) <= set(variables)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("project_name", " ", "empty"),
        ("project_name", 'The "Radar"', "double quotes"),
        ("description", "C:\\path", "backslashes"),
        ("project_slug", "Fraud-Radar", "lowercase"),
        ("project_slug", "fraud radar", "lowercase"),
        ("project_slug", "-fraud-radar", "starting and ending"),
        ("package_name", "class", "keyword"),
        ("package_name", "match", "soft keyword"),
        ("package_name", "json", "standard-library"),
        ("package_name", "test", "standard-library"),
        ("package_name", "mlflow", "dependency"),
        ("package_name", "2fast", "identifier"),
        ("package_name", "My_Pkg", "lowercase"),
        ("author_email", "ada.lovelace.dev", "e-mail"),
        ("author_email", '"ada"@lovelace.dev', "e-mail"),
        ("author_email", "*ada@lovelace.dev", "e-mail"),
        ("author_email", "ada@[10.0.0.1]", "e-mail"),
        ("project_name", "Fraud\nRadar", "one line"),
        ("description", "Flags\todd payments.", "control characters"),
        ("author_name", "Ada\r\nLovelace", "one line"),
        ("project_slug", "uvicorn", "depends on"),
        ("project_slug", "scikit-learn", "depends on"),
        ("project_slug", "pydantic-settings", "depends on"),
        ("project_slug", "requests", "depends on"),
        ("license", "GPL-3.0", "one of"),
        ("python_version", "3.9", "one of"),
        ("maturity_level", "3", "one of"),
        ("ci_platform", "gitlab", "one of"),
        ("azure_devops_organization", "https://dev.azure.com/acme", "1-50 letters"),
        ("azure_devops_organization", "-acme", "starting and ending"),
        ("azure_devops_organization", "a" * 51, "1-50"),
        ("azure_devops_project", "Fraud/Radar", "must not contain"),
        ("azure_devops_project", "Fraud Radar.", "end with ."),
        ("azure_devops_project", "_fraud", "start with _"),
        ("azure_devops_project", " Fraud", "space"),
        ("azure_devops_project", "p" * 65, "1-64"),
        ("azure_location", "west europe", "region"),
        ("azure_resource_prefix", "a", "2-12"),
        ("azure_resource_prefix", "Bad-Prefix", "lowercase"),
        ("azure_resource_prefix", "fraudradarxyz", "2-12"),
        ("github_repository", "noslash", "owner/name"),
        ("github_repository", "a/b/c", "owner/name"),
        ("github_repository", "-org/x", "owner/name"),
        ("azure.uat.resource_group", "rg-fraudradar.", "not ending in '.'"),
        ("azure.dev.workspace", "mlw-" + "x" * 30, "3-33"),
        ("azure.prod.container_registry", "cr-fraudradar", "letters and digits"),
        ("azure.dev.storage_account", "stFraudradar", "lowercase"),
        ("azure.uat.storage_account", "s" * 25, "3-24"),
        ("azure.prod.online_endpoint", "7-online", "starting with a letter"),
        ("azure.dev.batch_endpoint", "batch-" + "x" * 30, "3-32"),
        ("azure.shared.registry", "mlr fraudradar", "3-33"),
        ("azure.shared.resource_group", "", "1-90"),
    ],
)
def test_rule_rejects_bad_value(
    answers: dict[str, Any], path: str, value: str, reason: str
) -> None:
    label = path.replace("azure.", "__azure.", 1)
    if path.startswith("azure_devops_"):  # checked when Azure DevOps is the platform only
        answers["ci_platform"] = "azure_devops"

    (problem,) = pre_gen.validate(with_answer(answers, path, value))

    assert problem.startswith(f"{label} {value!r} ")
    assert reason in problem


def test_each_platform_checks_its_own_answers_only(answers: dict[str, Any]) -> None:
    odd = with_answer(answers, "azure_devops_project", "a/b")
    odd = with_answer(odd, "github_repository", "noslash")

    (github_problem,) = pre_gen.validate(odd)
    (azure_devops_problem,) = pre_gen.validate(with_answer(odd, "ci_platform", "azure_devops"))

    assert github_problem.startswith("github_repository")
    assert azure_devops_problem.startswith("azure_devops_project")


def test_every_problem_is_reported_together(answers: dict[str, Any]) -> None:
    for path, value in [
        ("project_slug", "Bad Slug"),
        ("author_email", "nobody"),
        ("python_version", "2.7"),
        ("azure.prod.storage_account", "ST"),
    ]:
        answers = with_answer(answers, path, value)

    problems = pre_gen.validate(answers)

    assert [problem.split()[0] for problem in problems] == [
        "project_slug",
        "author_email",
        "python_version",
        "__azure.prod.storage_account",
    ]


def test_missing_azure_environment_is_reported(answers: dict[str, Any]) -> None:
    del answers["azure"]["uat"]

    problems = pre_gen.validate(answers)

    assert len(problems) == len(pre_gen.AZURE_RULES)
    assert all(problem.startswith("__azure.uat.") for problem in problems)


def test_main_prints_every_problem_and_exits_1(
    answers: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    answers = with_answer(answers, "package_name", "json")
    answers = with_answer(answers, "maturity_level", "9")

    with pytest.raises(SystemExit) as exit_info:
        pre_gen.main(answers)

    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err.splitlines()
    assert stderr[0] == "The template answers have 2 problem(s):"
    assert stderr[1].startswith("  - package_name 'json' ")
    assert stderr[2].startswith("  - maturity_level '9' ")


def test_main_is_silent_when_valid(
    answers: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    pre_gen.main(answers)

    assert capsys.readouterr() == ("", "")


LEVEL_1 = {
    ".github",
    ".azure-pipelines",
    "infra",
    "azureml/deploy",
    "scripts/bootstrap.py",
    "make/automation.mk",
}
LEVEL_2 = {"src/fraud_radar/monitoring", "azureml/monitoring", "tests/test_monitoring.py"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A generated tree holding every level's paths, as files and folders, plus kept files."""
    folders = (".github/workflows", ".azure-pipelines", "infra", "azureml/deploy", "make")
    for folder in (*folders, "azureml/monitoring"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").touch()
    (tmp_path / ".azure-pipelines/ci.yml").touch()
    (tmp_path / "src/fraud_radar/monitoring").mkdir(parents=True)
    (tmp_path / "src/fraud_radar/monitoring/drift.py").touch()
    for file in (
        "scripts/bootstrap.py",
        "tests/test_monitoring.py",
        "azureml/train.yml",
        "make/automation.mk",
    ):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).touch()
    return tmp_path


@pytest.mark.parametrize(
    ("level", "platform", "pruned"),
    [
        (0, "github", LEVEL_1 | LEVEL_2),
        (1, "github", LEVEL_2 | {".azure-pipelines"}),
        (2, "github", {".azure-pipelines"}),
        (1, "azure_devops", LEVEL_2 | {".github"}),
        (2, "azure_devops", {".github"}),
    ],
)
def test_prune_removes_paths_above_level_and_of_the_other_platform(
    project: Path, level: int, platform: str, pruned: set[str]
) -> None:
    removed = post_gen.prune(project, level, "fraud_radar", platform)

    assert {path.relative_to(project).as_posix() for path in removed} == pruned
    for relative in LEVEL_1 | LEVEL_2:
        assert (project / relative).exists() == (relative not in pruned)
    assert (project / "azureml/train.yml").exists()
    assert (project / "src/fraud_radar").is_dir()
    assert (project / "make").is_dir() == (level >= 1), "a level's folder goes when emptied"


def test_prune_is_idempotent(project: Path) -> None:
    post_gen.prune(project, 0, "fraud_radar", "github")

    assert post_gen.prune(project, 0, "fraud_radar", "github") == []


def test_paths_to_prune_formats_package() -> None:
    assert "src/fraud_radar/monitoring" in post_gen.paths_to_prune(1, "fraud_radar", "github")
    assert post_gen.paths_to_prune(2, "fraud_radar", "github") == [".azure-pipelines"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("gh:org/azure-mlops-template", "https://github.com/org/azure-mlops-template.git"),
        ("gl:team/tpl", "https://gitlab.com/team/tpl.git"),
        ("https://github.com/org/tpl", "https://github.com/org/tpl"),
        ("git@github.com:org/tpl.git", "git@github.com:org/tpl.git"),
    ],
)
def test_the_template_is_recorded_where_cruft_can_clone_it(typed: str, expected: str) -> None:
    assert post_gen.template_location(typed, "/home/me/.cookiecutters/tpl") == expected


def cookiecutter_context(template: str, repo_dir: str) -> dict[str, Any]:
    """What cookiecutter passes to the hooks: the answers and its own `_` keys."""
    return {
        "project_name": "Fraud Radar",
        "maturity_level": "1",
        "__azure": {"dev": {"workspace": "mlw-x-dev"}},
        "__prompts__": {"project_name": "Project name"},
        "_copy_without_render": [".github/*"],
        "_template": template,
        "_output_dir": "/home/me/projects",
        "_repo_dir": repo_dir,
        "_checkout": None,
    }


def test_a_local_template_is_recorded_with_its_commit_and_the_answers(tmp_path: Path) -> None:
    template = tmp_path / "tpl"
    template.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(template)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "v1"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    # Started in tmp_path as `cookiecutter tpl`: the path is relative to there.
    state = post_gen.cruft_state(cookiecutter_context("tpl", "tpl"), str(tmp_path))

    assert state["template"] == str(template)
    assert state["commit"] == head
    answers = state["context"]["cookiecutter"]
    assert (answers["_template"], answers["_commit"]) == (str(template), head)
    assert answers["maturity_level"] == "1"
    assert answers["__azure"] == {"dev": {"workspace": "mlw-x-dev"}}
    for machine_specific in ("_output_dir", "_repo_dir", "_checkout", "__prompts__"):
        assert machine_specific not in answers


def test_a_template_that_is_not_a_git_checkout_has_no_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    context = cookiecutter_context(str(tmp_path), str(tmp_path))
    post_gen.link_to_template(tmp_path, context)

    state = json.loads((tmp_path / ".cruft.json").read_text())
    assert state["commit"] is None
    assert "not a git checkout" in capsys.readouterr().err


def test_cruft_writes_its_own_file(tmp_path: Path) -> None:
    context = cookiecutter_context("gh:org/tpl", str(tmp_path)) | {"_commit": "abc"}
    post_gen.link_to_template(tmp_path, context)

    assert not (tmp_path / ".cruft.json").exists()
