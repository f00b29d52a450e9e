"""Unit tests for the Cookiecutter hooks, imported unrendered from hooks/."""

import copy
import importlib.util
import json
from pathlib import Path

import pytest
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

TEMPLATE = Path(__file__).resolve().parents[1]


def load_hook(name: str):
    """Import a hook by file path: hooks/ is not a package."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")


@pytest.fixture
def answers() -> dict:
    """A valid answer set that differs from the template defaults."""
    return {
        "project_name": "Fraud Radar",
        "description": "Flags odd payments.",
        "author_name": "Ada Lovelace",
        "project_slug": "fraud-radar",
        "package_name": "fraud_radar",
        "author_email": "ada@lovelace.dev",
        "python_version": "3.12",
        "maturity_level": "2",
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


def with_answer(answers: dict, path: str, value: str) -> dict:
    """Return a copy of `answers` with the dotted `path` (e.g. azure.dev.workspace) set."""
    changed = copy.deepcopy(answers)
    *parents, key = path.split(".")
    target = changed
    for parent in parents:
        target = target[parent]
    target[key] = value
    return changed


def test_valid_answers_have_no_problems(answers):
    assert pre_gen.validate(answers) == []


def test_template_defaults_are_valid():
    context = generate_context(context_file=str(TEMPLATE / "cookiecutter.json"))
    rendered = prompt_for_config(context, no_input=True)

    assert pre_gen.validate(pre_gen.answers_from(rendered)) == []


def test_every_rule_names_a_real_template_variable():
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
        ("python_version", "3.9", "one of"),
        ("maturity_level", "3", "one of"),
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
def test_rule_rejects_bad_value(answers, path, value, reason):
    label = path.replace("azure.", "__azure.", 1)

    (problem,) = pre_gen.validate(with_answer(answers, path, value))

    assert problem.startswith(f"{label} {value!r} ")
    assert reason in problem


def test_every_problem_is_reported_together(answers):
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


def test_missing_azure_environment_is_reported(answers):
    del answers["azure"]["uat"]

    problems = pre_gen.validate(answers)

    assert len(problems) == len(pre_gen.AZURE_RULES)
    assert all(problem.startswith("__azure.uat.") for problem in problems)


def test_main_prints_every_problem_and_exits_1(answers, capsys):
    answers = with_answer(answers, "package_name", "json")
    answers = with_answer(answers, "maturity_level", "9")

    with pytest.raises(SystemExit) as exit_info:
        pre_gen.main(answers)

    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err.splitlines()
    assert stderr[0] == "The template answers have 2 problem(s):"
    assert stderr[1].startswith("  - package_name 'json' ")
    assert stderr[2].startswith("  - maturity_level '9' ")


def test_main_is_silent_when_valid(answers, capsys):
    pre_gen.main(answers)

    assert capsys.readouterr() == ("", "")


LEVEL_1 = {".github", "infra", "azureml/deploy", "scripts/bootstrap.py"}
LEVEL_2 = {"src/fraud_radar/monitoring", "azureml/monitoring", "tests/test_monitoring.py"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A generated tree holding every level's paths, as files and folders, plus kept files."""
    for folder in (".github/workflows", "infra", "azureml/deploy", "azureml/monitoring"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").touch()
    (tmp_path / "src/fraud_radar/monitoring").mkdir(parents=True)
    (tmp_path / "src/fraud_radar/monitoring/drift.py").touch()
    for file in ("scripts/bootstrap.py", "tests/test_monitoring.py", "azureml/train.yml"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).touch()
    return tmp_path


@pytest.mark.parametrize(("level", "pruned"), [(0, LEVEL_1 | LEVEL_2), (1, LEVEL_2), (2, set())])
def test_prune_removes_paths_above_level(project, level, pruned):
    removed = post_gen.prune(project, level, "fraud_radar")

    assert {path.relative_to(project).as_posix() for path in removed} == pruned
    for relative in LEVEL_1 | LEVEL_2:
        assert (project / relative).exists() == (relative not in pruned)
    assert (project / "azureml/train.yml").exists()
    assert (project / "src/fraud_radar").is_dir()


def test_prune_is_idempotent(project):
    post_gen.prune(project, 0, "fraud_radar")

    assert post_gen.prune(project, 0, "fraud_radar") == []


def test_paths_to_prune_formats_package():
    assert "src/fraud_radar/monitoring" in post_gen.paths_to_prune(1, "fraud_radar")
    assert post_gen.paths_to_prune(2, "fraud_radar") == []
