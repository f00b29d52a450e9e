"""Every `az` and `gh` line of a level-1 and a level-2 project, on either CI platform, passes the
real CLIs: the command exists, its flags and `--set` paths are known (tests/cli_lines.py says
how lines are collected and checked). Skipped, with the reason, where the CLIs cannot be
installed (no network to PyPI, or neither the ml extension's wheel in ../shared/tools nor
Azure's extension index)."""

from pathlib import Path

import pytest
from baking import Bake
from cli_lines import (
    Clis,
    check_az,
    check_gh,
    document_lines,
    install_clis,
    never_ran,
    record_bootstrap,
    record_pipelines,
    record_workflows,
    split,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clis(tmp_path_factory: pytest.TempPathFactory) -> Clis:
    try:
        return install_clis(tmp_path_factory.mktemp("clis"))
    except RuntimeError as err:
        pytest.skip(f"the real az and gh cannot be installed here: {err}")


@pytest.mark.parametrize("level", ["1", "2"])
def test_every_az_and_gh_line_passes_the_real_clis(
    bake: Bake, clis: Clis, level: str, tmp_path: Path
) -> None:
    project = bake(maturity_level=level)
    workflows = record_workflows(project, tmp_path)
    assert never_ran(project, workflows) == [], "lines the recording did not reach"
    recorded = workflows.commands + record_bootstrap(project, tmp_path) + document_lines(project)
    commands = split(recorded)
    assert len(commands["az"]) > 20, commands
    assert commands["gh"], commands

    problems = check_az(clis, project, commands["az"], tmp_path) + check_gh(
        clis, commands["gh"], tmp_path
    )
    assert problems == [], "\n\n".join(problems)


@pytest.mark.parametrize("level", ["1", "2"])
def test_every_az_line_of_an_azure_devops_project_passes_the_real_cli(
    bake: Bake, clis: Clis, level: str, tmp_path: Path
) -> None:
    """The pipelines' steps, the bootstrap's Azure DevOps side (the azure-devops extension's
    commands and `az rest`) and the docs, through azure-cli with both extensions."""
    project = bake(
        maturity_level=level, ci_platform="azure_devops", azure_devops_project="Fraud Radar (ML)"
    )
    pipelines = record_pipelines(project, tmp_path)
    assert never_ran(project, pipelines) == [], "lines the recording did not reach"
    recorded = pipelines.commands + record_bootstrap(project, tmp_path) + document_lines(project)
    commands = split(recorded)
    assert commands["gh"] == []
    reached = {tuple(argv[:2]) for argv in commands["az"]}
    expected = {("pipelines", "create"), ("repos", "policy"), ("devops", "service-endpoint")}
    expected |= {("rest", "--method"), ("ml", "online-deployment"), ("acr", "import")}
    if level == "2":  # the drift pipeline's retraining
        expected |= {("pipelines", "run"), ("boards", "work-item")}
    assert expected <= reached, sorted(expected - reached)

    problems = check_az(clis, project, commands["az"], tmp_path) + check_gh(
        clis, commands["gh"], tmp_path
    )
    assert problems == [], "\n\n".join(problems)


def test_a_broken_line_is_caught(bake: Bake, clis: Clis, tmp_path: Path) -> None:
    """The check fails where the cloud would: an unknown command, flag or --set path."""
    project = bake(maturity_level="2")
    broken_az = [
        ["ml", "online-endpoint", "create", "--name", "e", "--no-such-flag"],
        ["ml", "job", "create", "--file", "azureml/pipeline.yml", "--set", "inputz.raw=1"],
        ["ml", "online-deployments", "list"],
    ]
    broken_az += [
        ["pipelines", "create", "--name", "ci", "--yaml-pathh", ".azure-pipelines/ci.yml"],
        ["repos", "policy", "build", "create", "--blocking", "maybe"],
    ]
    broken_gh = [["variable", "set", "A", "--envv", "dev", "--body", "1"]]
    assert len(check_az(clis, project, broken_az, tmp_path)) == len(broken_az)
    assert len(check_gh(clis, broken_gh, tmp_path)) == len(broken_gh)
