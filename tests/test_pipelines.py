"""The automation of levels 1 and 2 on Azure DevOps: .azure-pipelines/ and its promises.

The real checks first (Azure Pipelines' JSON schema, as check-jsonschema vendors it, on the
pipelines as Azure DevOps expands them; each task and input against the tasks' own task.json;
shellcheck on every script), then the release promises the GitHub workflows keep too: three
environments in order, one training, the model promoted unchanged, the smoke test before any
traffic, rollback, no secret, the names the bootstrap sets, prod alone waiting for approval.
"""

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from baking import BIN, DEPLOY_ORDER, Bake, bootstrap_dry_run, check
from pipelines import EXPRESSION, TASKS, expand, for_schema, jobs, steps

ENVIRONMENTS = ["dev", "uat", "prod"]
# Answers Azure DevOps accepts that are awkward in a URL, TOML, YAML or a shell line.
ANSWERS = {
    "ci_platform": "azure_devops",
    "project_name": "Fraud Radar",
    "azure_devops_organization": "contoso-ml",
    "azure_devops_project": "Fraud Radar (ML) & Co",
}


@pytest.fixture(params=["1", "2"], ids=["level-1", "level-2"])
def project(bake_once: Bake, request: pytest.FixtureRequest) -> Path:
    return bake_once(maturity_level=request.param, **ANSWERS)


@pytest.fixture
def level_2(bake_once: Bake) -> Path:
    return bake_once(maturity_level="2", **ANSWERS)


def pipelines(project: Path) -> dict[str, dict[str, Any]]:
    """Each pipeline of the project (not its templates), expanded as Azure DevOps runs it."""
    return {p.stem: expand(p) for p in sorted((project / ".azure-pipelines").glob("*.yml"))}


def all_steps(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in jobs(pipeline).values() for step in steps(job)]


def scripts_run(job: dict[str, Any]) -> list[str]:
    """What each step of the job runs: a scripts/release/ file with its arguments, or a script."""
    run = []
    for step in steps(job):
        inputs = step.get("inputs", {})
        if step.get("task") == "AzureCLI@2" and inputs["scriptLocation"] == "scriptPath":
            run.append(f"{inputs['scriptPath']} {inputs.get('arguments', '')}".strip())
        else:
            run.append(step.get("script") or inputs.get("inlineScript") or "")
    return run


def bootstrap_plan(project: Path) -> list[list[str]]:
    """The commands `make bootstrap` would run, split as a shell would."""
    lines = bootstrap_dry_run(project).splitlines()
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_pipelines_pass_the_azure_pipelines_schema(project: Path, tmp_path: Path) -> None:
    files = []
    for name, pipeline in pipelines(project).items():
        (tmp_path / f"{name}.yml").write_text(yaml.safe_dump(for_schema(pipeline)))
        files.append(str(tmp_path / f"{name}.yml"))
    assert len(files) == (3 if (project / "azureml/monitoring").is_dir() else 2)
    schema = ["--builtin-schema", "vendor.azure-pipelines", "--regex-variant", "nonunicode"]
    check([str(BIN / "check-jsonschema"), *schema, *files], cwd=project)


def test_only_parameters_are_templated(project: Path) -> None:
    """The expansion the tests rely on covers every template expression the files use."""
    for path in (project / ".azure-pipelines").rglob("*.yml"):
        for line in path.read_text().splitlines():
            for found in EXPRESSION.finditer(line):
                assert line[found.start() :].startswith("${{ parameters."), f"{path.name}: {line}"


def test_every_task_and_input_is_a_real_one(project: Path) -> None:
    for name, pipeline in pipelines(project).items():
        for step in all_steps(pipeline):
            if "task" in step:
                assert step["task"] in TASKS, f"{name}: unknown task {step['task']}"
                unknown = set(step.get("inputs", {})) - TASKS[step["task"]]
                assert not unknown, f"{name}: {step['task']} has no input {sorted(unknown)}"


def test_every_script_passes_shellcheck(project: Path, tmp_path: Path) -> None:
    """The release scripts, and each inline script with Azure DevOps' $(Macro) syntax read as
    the environment variable it becomes before the shell starts."""
    files = [
        str(p.relative_to(project)) for p in sorted((project / "scripts/release").glob("*.sh"))
    ]
    for name, pipeline in pipelines(project).items():
        for index, step in enumerate(all_steps(pipeline)):
            text = step.get("script") or step.get("inputs", {}).get("inlineScript")
            if text:
                text = re.sub(
                    r"\$\(([A-Za-z_][\w.]*)\)",
                    lambda m: "${" + m.group(1).replace(".", "_").upper() + "}",
                    text,
                )
                inline = tmp_path / f"{name}-{index}.sh"
                inline.write_text(f"#!/usr/bin/env bash\n{text}")
                files.append(str(inline))
    check([str(BIN / "shellcheck"), "-x", "--enable=all", "--exclude=SC2154", *files], cwd=project)


def test_ci_runs_what_developers_run_and_publishes_from_main_only(project: Path) -> None:
    ci = pipelines(project)["ci"]
    assert ci["trigger"] == {"branches": {"include": ["main"]}}
    found = jobs(ci)
    run = scripts_run(found["test.test"])
    for target in ("make install", "make lint", "make specs", "make test"):
        assert any(command.startswith(target) for command in run), target
    assert any("pre-commit run --all-files" in command for command in run)
    tests = next(command for command in run if command.startswith("make test"))
    assert "--cov-report=xml" in tests
    assert "--junitxml=test-results.xml" in tests
    published = {s["task"]: s for s in steps(found["test.test"]) if "task" in s}
    assert published["PublishTestResults@2"]["condition"] == "succeededOrFailed()"
    assert published["PublishTestResults@2"]["inputs"]["testResultsFiles"] == "test-results.xml"
    assert published["PublishCodeCoverageResults@2"]["inputs"]["summaryFileLocation"] == (
        "coverage.xml"
    )
    wheel = "\n".join(scripts_run(found["test.wheel"]))
    assert 'version="$(uv version --short).dev$(Build.BuildId)"' in wheel
    assert "##vso[build.updatebuildnumber]${version}" in wheel, "the run is named after it"
    publish = next(stage for stage in ci["stages"] if stage["stage"] == "publish")
    assert publish["condition"] == "and(succeeded(), eq(variables.isMain, true))"
    assert ci["variables"]["isMain"] == "$[eq(variables['Build.SourceBranch'], 'refs/heads/main')]"
    upload = steps(found["publish.wheel"])
    tasks = [s.get("task") for s in upload]
    assert tasks.index("TwineAuthenticate@1") < next(
        i for i, s in enumerate(upload) if "twine upload" in s.get("script", "")
    )
    twine = next(s for s in upload if "twine upload" in s.get("script", ""))["script"]
    assert '--repository "$(ARTIFACTS_FEED)"' in twine
    assert '--config-file "$(PYPIRC_PATH)"' in twine
    image = "\n".join(scripts_run(found["publish.image"]))
    assert ':$(Build.SourceVersion)"' in image
    assert "docker push" in image


def test_three_environments_in_order_as_deployment_jobs(project: Path) -> None:
    release = pipelines(project)["release"]
    stages = {stage["stage"]: stage for stage in release["stages"]}
    assert list(stages) == ["train", "promote", *ENVIRONMENTS]
    assert stages["promote"]["dependsOn"] == "train"
    previous = "promote"
    for name in ENVIRONMENTS:
        assert stages[name]["dependsOn"] == ["train", previous]
        (job,) = stages[name]["jobs"]
        assert job["deployment"] == "deploy"
        assert job["environment"] == name, "the environment's checks gate the job"
        previous = name
    resource = release["resources"]["pipelines"][0]
    assert resource["pipeline"] == "ci"
    assert resource["trigger"] == {"branches": {"include": ["main"]}}
    assert release["trigger"] == "none"


def test_the_model_is_trained_once_in_dev_and_promoted_unchanged(project: Path) -> None:
    everything = pipelines(project)
    training = [
        (name, job_name)
        for name, pipeline in everything.items()
        for job_name, job in jobs(pipeline).items()
        if any(command.startswith("scripts/release/train.sh") for command in scripts_run(job))
    ]
    assert training == [("release", "train.train")], "training happens in one place"
    release = everything["release"]
    found = jobs(release)
    (train_step,) = [s for s in steps(found["train.train"]) if s.get("task") == "AzureCLI@2"]
    assert train_step["name"] == "train", "later stages read train.model_name and model_version"
    assert train_step["inputs"]["azureSubscription"] == "azureml-dev"
    assert scripts_run(found["promote.promote"])[-1] == "scripts/release/promote.sh"
    for job_name in ("promote.promote", *(f"{e}.deploy" for e in ENVIRONMENTS)):
        variables = {v["name"]: v["value"] for v in found[job_name]["variables"] if "name" in v}
        assert variables["MODEL_NAME"] == (
            "$[ stageDependencies.train.train.outputs['train.model_name'] ]"
        )
        assert variables["MODEL_VERSION"] == (
            "$[ stageDependencies.train.train.outputs['train.model_version'] ]"
        )
    assert release["variables"]["IMAGE_TAG"] == "$(resources.pipeline.ci.sourceCommit)"
    assert release["variables"]["CODE_VERSION"] == "$(resources.pipeline.ci.runName)", (
        "each model's code_version is the wheel version CI published"
    )
    assert "--set tags.code_version=" in (project / "scripts/release/train.sh").read_text()


def test_the_smoke_test_gates_the_traffic_and_a_failure_rolls_back(project: Path) -> None:
    found = jobs(pipelines(project)["release"])
    canaries = {}
    for name in ENVIRONMENTS:
        job = found[f"{name}.deploy"]
        phases = [
            command.split()[1]
            for command in scripts_run(job)
            if command.startswith("scripts/release/deploy.sh")
        ]
        assert phases == DEPLOY_ORDER, name
        rollback = next(s for s in steps(job) if s.get("name") == "rollback")
        assert rollback["condition"] == "and(failed(), ne(variables['DEPLOYMENT'], ''))"
        monitor = next(s for s in steps(job) if s.get("name") == "monitor")
        assert ("'True'" in monitor["condition"]) == (name == "prod"), "prod alone is monitored"
        variables = {v["name"]: v["value"] for v in job["variables"] if "name" in v}
        canaries[name] = int(variables["CANARY_PERCENT"])
    assert canaries == {"dev": 0, "uat": 0, "prod": 10}


def test_azure_access_is_the_environments_service_connection_and_no_secret(
    project: Path,
) -> None:
    for name, pipeline in pipelines(project).items():
        text = json.dumps(pipeline)
        assert not re.search(r"secret|password|client.?secret", text, re.I), name
        for job_name, job in jobs(pipeline).items():
            for step in steps(job):
                if step.get("task") != "AzureCLI@2":
                    continue
                connection = step["inputs"]["azureSubscription"]
                assert re.fullmatch(r"azureml-[a-z-]+", connection), (name, job_name)
                if job_name.endswith(".deploy"):
                    assert connection == f"azureml-{job['environment']}"
                if step["inputs"]["scriptLocation"] == "scriptPath":
                    # a fresh federated token for long steps, from the run's own token
                    assert step["env"] == {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"}
        tokens = re.findall(r'"(\w*PAT\w*)": "([^"]*)"', text)
        assert all(value == "$(System.AccessToken)" for _, value in tokens), tokens


def test_settings_come_from_the_groups_and_connections_the_bootstrap_makes(
    project: Path,
) -> None:
    """Each job reads variables from its group only: every name the job's scripts need is in
    it, as the bootstrap's dry run sets it; every group and connection is one it makes."""
    plan = bootstrap_plan(project)
    made: dict[str, set[str]] = {}
    for command in plan:
        if command[:4] == ["az", "pipelines", "variable-group", "create"]:
            pairs = command[command.index("--variables") + 1 : command.index("--org")]
            made[option(command, "--name")] = {pair.split("=", 1)[0] for pair in pairs}
    connections = {
        json.loads(option(c, "--body"))["name"]
        for c in plan
        if c[:4] == ["az", "rest", "--method", "post"] and "/serviceendpoint/" in option(c, "--url")
    }
    scripts = {p.name: p.read_text() for p in (project / "scripts/release").glob("*.sh")}
    ours = re.compile(
        r"\b(AZURE_[A-Z_]+|AZUREML_[A-Z_]+|SOURCE_REGISTRY|ARTIFACTS_FEED|RELEASE_PIPELINE_ID)\b"
    )
    for name, pipeline in pipelines(project).items():
        for job_name, job in jobs(pipeline).items():
            variables = job.get("variables", [])
            groups = [v["group"] for v in variables if "group" in v]
            assert set(groups) <= set(made), f"{name}/{job_name}: {groups}"
            available = set().union(*(made[g] for g in groups)) if groups else set()
            available |= {v["name"] for v in variables if "name" in v}
            needed = set()
            for step in steps(job):
                inputs = step.get("inputs", {})
                if "azureSubscription" in inputs:
                    assert inputs["azureSubscription"] in connections, (name, job_name)
                if inputs.get("scriptPath"):
                    needed |= set(ours.findall(scripts[Path(inputs["scriptPath"]).name]))
                    needed |= set(ours.findall(scripts["lib.sh"]))
                needed |= set(ours.findall(json.dumps(step)))
            # AZURE_DEVOPS_EXT_PAT is set by the step itself; SOURCE_REGISTRY is absent in the
            # first environment, where deploy.sh reads it as empty.
            needed -= {"AZURE_DEVOPS_EXT_PAT", "AZURE_CONFIG_DIR"}
            if job_name == "dev.deploy" or "deploy.sh" not in json.dumps(steps(job)):
                needed.discard("SOURCE_REGISTRY")
            assert needed <= available, f"{name}/{job_name} lacks {sorted(needed - available)}"


def test_prod_alone_waits_for_an_approval(project: Path) -> None:
    plan = bootstrap_plan(project)
    approvals = [
        json.loads(option(c, "--body"))["resource"]["name"]
        for c in plan
        if c[:4] == ["az", "rest", "--method", "post"]
        and "/checks/configurations?" in option(c, "--url")
    ]
    assert approvals == ["prod"]
    toml = (project / "infra/environments.toml").read_text()
    assert toml.count("required_reviewers = true") == 1


def test_the_bootstrap_dry_run_shows_the_whole_azure_devops_set_up(level_2: Path) -> None:
    plan = bootstrap_plan(level_2)
    lines = [shlex.join(c) for c in plan]
    expected = [
        "az extension add --name azure-devops",
        "az devops project show",
        "packaging/feeds?api-version",
        "az pipelines create --name ci ",
        "az pipelines create --name release ",
        "az pipelines create --name drift ",
        "az repos policy build create",
        "az pipelines variable-group create --name azureml-ci ",
        "pipelines/environments?api-version",
        "checks/configurations?api-version",
        "az pipelines variable-group create --name azureml-prod-monitoring ",
    ]
    for fragment in expected:
        assert any(fragment in line for line in lines), fragment
    assert len([line for line in lines if "/serviceendpoint/endpoints" in line]) == 4
    assert not [line for line in lines if re.search(r"\bPAT\b|--token|secret", line, re.I)]


def test_drift_is_checked_weekly_and_retraining_goes_through_the_release(level_2: Path) -> None:
    drift = pipelines(level_2)["drift"]
    (schedule,) = drift["schedules"]
    assert schedule["cron"] == "17 5 * * 1"
    assert schedule["branches"] == {"include": ["main"]}
    found = jobs(drift)
    check_step = next(s for s in steps(found["check.check"]) if s.get("task") == "AzureCLI@2")
    assert check_step["inputs"]["azureSubscription"] == "azureml-prod-monitoring"
    assert check_step["inputs"]["scriptPath"] == "scripts/release/drift.sh"
    assert check_step["name"] == "check"
    retrain = next(stage for stage in drift["stages"] if stage["stage"] == "retrain")
    assert retrain["condition"] == "eq(dependencies.check.outputs['check.check.retrain'], 'true')"
    (script,) = [s for s in steps(found["retrain.retrain"]) if "script" in s]
    assert 'az pipelines run --id "$(RELEASE_PIPELINE_ID)" --branch main' in script["script"]
    assert "az boards work-item create --type Task" in script["script"]
    assert script["env"] == {"AZURE_DEVOPS_EXT_PAT": "$(System.AccessToken)"}
