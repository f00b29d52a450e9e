"""The automation of levels 1 and 2: GitHub workflows, Dependabot and their promises.

Real linters first (actionlint with shellcheck, zizmor, the JSON schemas GitHub publishes),
then what no linter knows: three environments in order, OIDC without secrets, one model trained
once and promoted unchanged, the smoke test before any traffic moves.
"""

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from baking import BIN, DEPLOY_ORDER, Bake, bootstrap_dry_run, check

ENVIRONMENTS = ["dev", "uat", "prod"]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def pushed(bake_once: Bake, level: str) -> Path:
    """A baked project in a git repository, as a user pushes it (actionlint needs the root).
    The tests only read it, so each level is baked once."""
    root = bake_once(maturity_level=level, project_name="Fraud Radar")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture(params=["1", "2"], ids=["level-1", "level-2"])
def project(bake_once: Bake, request: pytest.FixtureRequest) -> Path:
    return pushed(bake_once, request.param)


def workflow(project: Path, name: str) -> dict[str, Any]:
    text = (project / ".github/workflows" / name).read_text()
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    return {("on" if key is True else key): value for key, value in yaml.safe_load(text).items()}


def workflows(project: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: workflow(project, p.name) for p in (project / ".github/workflows").glob("*.yml")
    }


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = job.get("steps", [])
    return listed


def release_scripts(project: Path) -> list[Path]:
    """scripts/release/: the release's steps, which both CI platforms run."""
    return sorted((project / "scripts/release").glob("*.sh"))


def script(project: Path, name: str) -> str:
    return (project / "scripts/release" / name).read_text()


def phases(runs: list[str]) -> list[str]:
    """The `scripts/release/deploy.sh <phase>` calls of a job's steps, in order."""
    return [m.group(1) for run in runs for m in re.finditer(r"deploy\.sh ([a-z-]+)", run)]


def test_linters_and_schemas_report_nothing(project: Path) -> None:
    files = sorted(str(p) for p in (project / ".github/workflows").glob("*.yml"))
    check([str(BIN / "actionlint")], cwd=project)  # shellcheck runs on every `run:` too
    check([str(BIN / "zizmor"), "--offline", "--persona", "pedantic", ".github"], cwd=project)
    schema = [str(BIN / "check-jsonschema"), "--builtin-schema"]
    check([*schema, "vendor.github-workflows", *files], cwd=project)
    check([*schema, "vendor.dependabot", ".github/dependabot.yml"], cwd=project)
    scripts = sorted(str(p.relative_to(project)) for p in release_scripts(project))
    check([str(BIN / "shellcheck"), "-x", "--enable=all", *scripts], cwd=project)


def test_ci_runs_what_developers_run(project: Path) -> None:
    ci = workflow(project, "ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"}
    commands = [step.get("run", "") for step in steps(ci["jobs"]["test"])]
    for target in ("make install", "make lint", "make specs", "make test"):
        assert any(command.startswith(target) for command in commands), target
    assert any("pre-commit run --all-files" in command for command in commands)
    assert any("--cov" in command for command in commands)
    wheel = steps(ci["jobs"]["wheel"])
    assert any(s.get("run", "").startswith("uv build") for s in wheel)
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in wheel)


def test_the_image_is_built_with_a_cache_and_pushed_from_main_only(project: Path) -> None:
    ci = workflow(project, "ci.yml")
    build = next(s for s in steps(ci["jobs"]["image"]) if "build-push-action" in s.get("uses", ""))
    assert build["with"]["push"] is False
    assert build["with"]["target"] == "runtime"
    assert "type=gha" in build["with"]["cache-to"]
    publish = ci["jobs"]["publish"]
    assert publish["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    push = next(s for s in steps(publish) if "build-push-action" in s.get("uses", ""))
    assert push["with"]["push"] is True
    assert "github.sha" in publish["outputs"]["image-tag"]
    assert ci["jobs"]["release"]["needs"] == "publish"


def test_three_environments_in_order_and_only_prod_has_a_canary(project: Path) -> None:
    cd = workflow(project, "cd.yml")["jobs"]
    deploys = {name: job for name, job in cd.items() if job.get("uses", "").endswith("/deploy.yml")}
    assert [job["with"]["environment"] for job in deploys.values()] == ENVIRONMENTS
    assert "deploy-dev" in cd["deploy-uat"]["needs"]
    assert "deploy-uat" in cd["deploy-prod"]["needs"]
    canaries = {
        job["with"]["environment"]: job["with"].get("canary-percent", 0) for job in deploys.values()
    }
    assert canaries["prod"] > 0
    assert canaries["dev"] == canaries["uat"] == 0
    assert "source-registry" not in cd["deploy-dev"]["with"]
    assert "deploy-dev.outputs.container-registry" in cd["deploy-uat"]["with"]["source-registry"]
    assert "deploy-uat.outputs.container-registry" in cd["deploy-prod"]["with"]["source-registry"]


def test_the_model_is_trained_once_in_dev_and_promoted_unchanged(project: Path) -> None:
    everything = workflows(project)
    trainers = [
        (name, job_name)
        for name, flow in everything.items()
        for job_name, job in flow["jobs"].items()
        for step in steps(job)
        if "scripts/release/train.sh" in step.get("run", "")
    ]
    assert trainers == [("cd.yml", "train")], "training happens in one place"
    train = script(project, "train.sh")
    assert "az ml job create --file azureml/pipeline.yml" in train
    assert "azureml-wait.sh" in train, "the wait re-logs in, in short polls"
    cd = everything["cd.yml"]["jobs"]
    assert cd["train"]["environment"] == "dev"
    assert [s.get("run") for s in steps(cd["promote"]) if "run" in s] == [
        "scripts/release/promote.sh"
    ]
    share = script(project, "promote.sh")
    assert "az ml model share" in share
    assert '--share-with-name "${MODEL_NAME}" --share-with-version "${MODEL_VERSION}"' in share
    for name in ("deploy-dev", "deploy-uat", "deploy-prod"):
        assert cd[name]["with"]["model-version"] == "${{ needs.train.outputs.model-version }}"
    deploy = script(project, "deploy.sh")
    assert 'MODEL="azureml://registries/${AZUREML_REGISTRY}/models/' in deploy
    assert 'test "${source}" = "${here_digest}"' in deploy, "the digest is compared after import"


def test_the_smoke_test_gates_the_traffic(project: Path) -> None:
    deploy = steps(workflow(project, "deploy.yml")["jobs"]["deploy"])
    assert phases([s.get("run", "") for s in deploy]) == DEPLOY_ORDER
    rollback = next(s for s in deploy if s.get("run", "").endswith("deploy.sh rollback"))
    assert rollback["if"].startswith("failure()")
    code = script(project, "deploy.sh")
    create = code[code.index("create() {") : code.index("smoke() {")]
    assert "--all-traffic" not in create, "a new deployment starts with no traffic"
    assert "make smoke" in script(project, "smoke-test.sh"), "what `make smoke` checks locally"
    canary = code[code.index("canary() {") : code.index("traffic() {")]
    assert '--traffic "${current}=100 ${DEPLOYMENT}=0"' in canary, "a failed canary rolls back"


def test_oidc_only_least_privilege_and_pinned_actions(project: Path) -> None:
    for name, flow in workflows(project).items():
        text = (project / ".github/workflows" / name).read_text()
        assert flow["permissions"] == {}, f"{name}: nothing at workflow level"
        for secret_like in ("secrets.", "client-secret", "creds:"):
            assert secret_like not in text, f"{name}: OIDC only, no {secret_like}"
        for job_name, job in flow["jobs"].items():
            assert "permissions" in job, f"{name}/{job_name} states its permissions"
            uses_azure = any("azure/login@" in s.get("uses", "") for s in steps(job))
            reusable = job.get("uses", "").startswith("$/")
            if uses_azure or reusable:
                assert job["permissions"].get("id-token") == "write", f"{name}/{job_name}"
            else:
                assert "id-token" not in job["permissions"], f"{name}/{job_name}"
            for step in steps(job):
                if "uses" in step:
                    line = next(ln for ln in text.splitlines() if f"uses: {step['uses']}" in ln)
                    assert PINNED.match(line.split("uses: ", 1)[1]), line
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                assert "${{" not in step.get("run", ""), f"{name}/{job_name}: use env, not ${{}}"


def test_each_environment_deploys_alone(project: Path) -> None:
    job = workflow(project, "deploy.yml")["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }


def test_registrations_run_one_at_a_time(project: Path) -> None:
    """Two releases that register side by side could both see the old champion and the worse
    model could end as champion: every job that runs the pipeline (and so `register`) shares
    one concurrency group, whatever the commit."""
    registering = [
        (name, job_name, job)
        for name in ("cd.yml", "drift.yml", "ci.yml", "deploy.yml")
        if (project / ".github" / "workflows" / name).exists()
        for job_name, job in workflow(project, name)["jobs"].items()
        if "scripts/release/train.sh" in json.dumps(job)
    ]
    assert registering
    for name, job_name, job in registering:
        assert job.get("concurrency") == {"group": "train-dev", "cancel-in-progress": False}, (
            f"{name}/{job_name}"
        )


def test_settings_come_from_the_variables_the_bootstrap_sets(project: Path) -> None:
    text = "".join(p.read_text() for p in (project / ".github").rglob("*.y*ml"))
    used = set(re.findall(r"vars\.(\w+)", text))
    dry_run = bootstrap_dry_run(project)
    per_environment = {
        env: set(re.findall(rf"gh variable set (\w+) --env {env}\b", dry_run))
        for env in ENVIRONMENTS
    }
    for env, names in per_environment.items():
        assert used <= names, f"{env} lacks {sorted(used - names)}"
    names = tomllib.loads((project / "infra/environments.toml").read_text())["environments"]
    for settings in names.values():
        for value in settings.values():
            if isinstance(value, str) and value:
                assert value not in text, f"{value} is hard-coded in a workflow"


def test_dependabot_covers_python_actions_and_docker_with_a_cooldown(project: Path) -> None:
    config = yaml.safe_load((project / ".github/dependabot.yml").read_text())
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"uv", "github-actions", "docker"}
    assert all(update["cooldown"]["default-days"] >= 3 for update in updates.values())


def test_prod_waits_for_reviewers_and_the_others_do_not(project: Path) -> None:
    """Protection lives on the GitHub environment, which the bootstrap configures."""
    settings = tomllib.loads((project / "infra/environments.toml").read_text())["environments"]
    assert {env: s["required_reviewers"] for env, s in settings.items()} == {
        "dev": False,
        "uat": False,
        "prod": True,
    }
    dry_run = bootstrap_dry_run(project)
    protected = [line for line in dry_run.splitlines() if '"reviewers"' in line]
    assert len(protected) == 1
    assert "environments/prod --input -" in protected[0]


@pytest.fixture
def level_2(bake_once: Bake) -> Path:
    return pushed(bake_once, "2")


def test_drift_is_checked_weekly_and_retraining_goes_through_the_release(level_2: Path) -> None:
    drift = workflow(level_2, "drift.yml")
    assert set(drift["on"]) == {"schedule", "workflow_dispatch"}
    check, retrain = drift["jobs"]["check"], drift["jobs"]["retrain"]
    assert check["environment"] == "prod-monitoring", "no prod reviewers to wait for"
    assert any(step.get("run") == "scripts/release/drift.sh" for step in steps(check))
    code = script(level_2, "drift.sh")
    assert "az ml job create --file azureml/monitoring/drift-job.yml" in code
    assert "azureml-wait.sh" in code
    assert any("upload-artifact" in step.get("uses", "") for step in steps(check))
    assert retrain["if"] == "needs.check.outputs.retrain == 'true'"
    assert retrain["permissions"] == {"actions": "write", "issues": "write"}
    actions = " ".join(step.get("run", "") for step in steps(retrain))
    # Retraining is the release itself: the gate and the promotion path, nothing skipped.
    assert "gh workflow run cd.yml" in actions
    assert "gh issue create" in actions
    assert "az " not in actions, "the retrain job never touches Azure itself"


def test_the_prod_release_points_the_monitor_at_its_new_deployment(level_2: Path) -> None:
    cd = workflow(level_2, "cd.yml")["jobs"]
    assert cd["deploy-prod"]["with"]["monitor"] is True
    assert all("monitor" not in cd[f"deploy-{env}"]["with"] for env in ("dev", "uat"))
    deploy = steps(workflow(level_2, "deploy.yml")["jobs"]["deploy"])
    monitor = next(s for s in deploy if s.get("run", "").endswith("deploy.sh monitor"))
    assert monitor["if"] == "inputs.monitor"
    code = script(level_2, "deploy.sh")
    assert "azureml/monitoring/monitor.yml" in code
    assert 'endpoint_deployment_id="azureml:${endpoint}:${DEPLOYMENT}"' in code
    train = script(level_2, "train.sh")
    assert '--name "${reference}" --version "${version}"' in train, "versioned with the model"
    assert 'reference="${name}-reference"' in train, "named after it"


def test_the_drift_check_has_its_own_environment_in_the_bootstrap(level_2: Path) -> None:
    lines = bootstrap_dry_run(level_2).splitlines()
    assert any("environment:prod-monitoring" in line for line in lines)
    monitoring = [line for line in lines if "github-fraud-radar-prod-monitoring>" in line]
    roles = [line for line in monitoring if line.startswith("az role assignment create")]
    assert len(roles) == 1
    assert "'AzureML Data Scientist'" in roles[0]
