"""scripts/bootstrap.py as a user runs it: the plan of a dry run, its checks of the input, and
{%- if cookiecutter.ci_platform == "github" %}
real runs against stand-ins for `az` and `gh`, so nothing here needs Azure, GitHub or a login."""
{%- else %}
real runs against a stand-in for `az`, so nothing here needs Azure, Azure DevOps or a login."""
{%- endif %}

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
{%- if cookiecutter.python_version != "3.10" %}
import tomllib
{%- endif %}
from pathlib import Path

import pytest
{%- if cookiecutter.python_version == "3.10" %}

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib
{%- endif %}

PROJECT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT / "scripts" / "bootstrap.py"
TOML = PROJECT / "infra" / "environments.toml"
CONFIG = tomllib.loads(TOML.read_text(encoding="utf-8"))
SHARED = CONFIG["shared"]
ENVIRONMENTS = CONFIG["environments"]
{%- if cookiecutter.ci_platform == "github" %}
REPO = "acme-labs/fraud-radar"
{%- else %}
DEVOPS = CONFIG["azure_devops"]
TARGET = f"https://dev.azure.com/{DEVOPS['organization']}/{DEVOPS['project']}"
{%- endif %}
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
CONTAINER_REGISTRIES = "Microsoft.ContainerRegistry/registries"
ML_REGISTRIES = "Microsoft.MachineLearningServices/registries"


def bootstrap(
    *args: str, script: Path = SCRIPT, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the script from the project root as a user would, optionally with another PATH."""
    env = os.environ | ({"PATH": path} if path is not None else {})
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dry_run(*args: str, script: Path = SCRIPT) -> list[str]:
{%- if cookiecutter.ci_platform == "github" %}
    result = bootstrap("--dry-run", "--repo", REPO, *args, script=script)
{%- else %}
    result = bootstrap("--dry-run", *args, script=script)
{%- endif %}
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def with_toml(folder: Path, text: str) -> Path:
{%- if cookiecutter.ci_platform == "github" %}
    """A copy of the script beside its own infra/environments.toml holding `text`."""
    (folder / "scripts").mkdir(parents=True)
    (folder / "infra").mkdir()
{%- else %}
    """A copy of the script and the pipelines beside an infra/environments.toml holding `text`."""
    (folder / "scripts").mkdir(parents=True)
    (folder / "infra").mkdir()
    shutil.copytree(PROJECT / ".azure-pipelines", folder / ".azure-pipelines")
{%- endif %}
    (folder / "infra" / "environments.toml").write_text(text, encoding="utf-8")
    return Path(shutil.copy(SCRIPT, folder / "scripts"))


WITHOUT_MONITORING = TOML.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The dry run for every environment, one command a line (the drift check's own identity
    of level 2 is tested apart)."""
    return dry_run(script=with_toml(tmp_path_factory.mktemp("plan"), WITHOUT_MONITORING))


def commands(lines: list[str], *prefix: str) -> list[list[str]]:
    """The commands that start with `prefix`, split as a shell would."""
    split = [shlex.split(line) for line in lines if line and not line.startswith("#")]
    return [command for command in split if command[: len(prefix)] == list(prefix)]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def scope(table: dict[str, str], kind: str, name: str) -> str:
    subscription = table["subscription_id"] or "<subscription id>"
    group = table["resource_group"]
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{kind}/{name}"


def container_registry(table: dict[str, str]) -> str:
    return scope(table, CONTAINER_REGISTRIES, table["container_registry"])


def test_dry_run_deploys_the_registry_then_each_environment_with_the_toml_names(
    plan: list[str],
) -> None:
    groups = [option(command, "-n") for command in commands(plan, "az", "group", "create")]
    assert groups == [
        SHARED["resource_group"],
        *(e["resource_group"] for e in ENVIRONMENTS.values()),
    ]

    deployments = commands(plan, "az", "deployment", "group", "create")
    location = f"location={CONFIG['location']}"
    expected: list[tuple[str, ...]] = [
        (SHARED["resource_group"], "infra/registry.bicep", f"registryName={SHARED['registry']}")
    ]
    expected += [
        (
            environment["resource_group"],
            "infra/main.bicep",
            f"workspaceName={environment['workspace']}",
            f"storageAccountName={environment['storage_account']}",
            f"containerRegistryName={environment['container_registry']}",
        )
        for environment in ENVIRONMENTS.values()
    ]
    assert [
        (option(command, "-g"), option(command, "-f"), *command[command.index(location) + 1 :])
        for command in deployments
    ] == expected
{%- if cookiecutter.ci_platform == "github" %}


def test_each_identity_trusts_only_its_github_environment(plan: list[str]) -> None:
    apps = [option(c, "--display-name") for c in commands(plan, "az", "ad", "app", "create")]
    assert apps == [f"github-fraud-radar-{name}" for name in ENVIRONMENTS]
{%- else %}


def app(environment: str) -> str:
    return f"azdo-{DEVOPS['repository']}-{environment}"


def test_each_identity_trusts_only_its_service_connection(plan: list[str]) -> None:
    apps = [option(c, "--display-name") for c in commands(plan, "az", "ad", "app", "create")]
    assert apps == [app(name) for name in ENVIRONMENTS]
{%- endif %}
    credentials = [
        json.loads(option(command, "--parameters"))
        for command in commands(plan, "az", "ad", "app", "federated-credential", "create")
    ]
{%- if cookiecutter.ci_platform == "github" %}
    assert credentials == [
        {
            "name": f"github-{name}",
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": f"repo:{REPO}:environment:{name}",
            "description": f"GitHub Actions jobs of environment {name} in {REPO}",
            "audiences": ["api://AzureADTokenExchange"],
        }
        for name in ENVIRONMENTS
{%- else %}
    # Issuer and subject are the ones Azure DevOps reports for the connection it just made.
    assert credentials == [
        {
            "name": f"azure-devops-azureml-{name}",
            "issuer": f"<issuer of azureml-{name}>",
            "subject": f"<subject of azureml-{name}>",
            "description": f"Azure Pipelines jobs using service connection azureml-{name}",
            "audiences": ["api://AzureADTokenExchange"],
        }
        for name in ENVIRONMENTS
    ]
    connections = [json.loads(option(c, "--body")) for c in rest_calls(plan, "post", "endpoints")]
    assert [c["name"] for c in connections] == [f"azureml-{name}" for name in ENVIRONMENTS]
    for name, connection in zip(ENVIRONMENTS, connections, strict=True):
        assert connection["authorization"] == {
            "scheme": "WorkloadIdentityFederation",
            "parameters": {
                "tenantid": "<tenant id>",
                "serviceprincipalid": f"<appId of {app(name)}>",
            },
        }
        assert connection["data"]["creationMode"] == "Manual"


def rest_calls(lines: list[str], method: str, path: str) -> list[list[str]]:
    """The `az rest` calls of `method` whose URL path has `path` before its query string."""
    return [
        command
        for command in commands(lines, "az", "rest", "--method", method)
        if option(command, "--url").partition("?")[0].endswith(path)
{%- endif %}
    ]


def test_roles_are_least_privilege_and_each_environment_pulls_from_the_one_before(
    plan: list[str],
) -> None:
{%- if cookiecutter.ci_platform == "github" %}
    owners = {f"<object id of github-fraud-radar-{name}>": name for name in ENVIRONMENTS}
{%- else %}
    owners = {f"<object id of {app(name)}>": name for name in ENVIRONMENTS}
{%- endif %}
    granted: dict[str, set[tuple[str, str]]] = {}
    for command in commands(plan, "az", "role", "assignment", "create"):
        assert option(command, "--assignee-principal-type") == "ServicePrincipal"
        roles = granted.setdefault(owners[option(command, "--assignee-object-id")], set())
        roles.add((option(command, "--role"), option(command, "--scope")))
    expected = {}
    before = None
    for name, environment in ENVIRONMENTS.items():
        registry = container_registry(environment)
        expected[name] = {
            ("AzureML Data Scientist", scope(environment, WORKSPACES, environment["workspace"])),
            ("AcrPush", registry),
            ("Contributor", registry),
            ("AzureML Registry User", scope(SHARED, ML_REGISTRIES, SHARED["registry"])),
        } | ({("AcrPull", container_registry(before))} if before else set())
        before = environment
    assert granted == expected
    assert ("AcrPull", container_registry(ENVIRONMENTS["dev"])) in granted["uat"]
    assert "AcrPull" not in {role for role, _ in granted["dev"]}


def test_only_environments_with_required_reviewers_wait_for_an_approval(plan: list[str]) -> None:
{%- if cookiecutter.ci_platform == "github" %}
    bodies = {}
    for command in commands(plan, "gh", "api", "-X", "PUT") + commands(plan, "echo"):
        path = option(command, "PUT")
        bodies[path] = json.loads(command[1]) if command[0] == "echo" else None
        assert ("--input" in command) == (command[0] == "echo")
    you = {"reviewers": [{"type": "User", "id": "<your GitHub user id>"}]}
    assert bodies == {
        f"repos/{REPO}/environments/{name}": you if environment["required_reviewers"] else None
        for name, environment in ENVIRONMENTS.items()
    }
    assert [n for n, e in ENVIRONMENTS.items() if e["required_reviewers"]] == ["prod"]


def test_reviewers_are_looked_up_by_login() -> None:
    lines = dry_run("--environment", "prod", "--reviewer", "octocat", "--reviewer", "hubot")
    assert commands(lines, "gh", "api", "users/octocat", "--jq", ".id")
    (put,) = commands(lines, "echo")
    reviewers = json.loads(put[1])["reviewers"]
    assert [reviewer["id"] for reviewer in reviewers] == ["<id of octocat>", "<id of hubot>"]


def test_each_github_environment_gets_the_nine_variables_the_workflows_read(
    plan: list[str],
) -> None:
    found: dict[str, dict[str, str]] = {}
    for command in commands(plan, "gh", "variable", "set"):
        assert option(command, "--repo") == REPO
        found.setdefault(option(command, "--env"), {})[command[3]] = option(command, "--body")
    assert list(found) == list(ENVIRONMENTS)
    for name, environment in ENVIRONMENTS.items():
        assert found[name] == {
            "AZURE_CLIENT_ID": f"<appId of github-fraud-radar-{name}>",
            "AZURE_TENANT_ID": "<tenant id>",
{%- else %}
    created = [json.loads(option(c, "--body")) for c in rest_calls(plan, "post", "environments")]
    assert [body["name"] for body in created] == list(ENVIRONMENTS)
    approvals = [
        json.loads(option(c, "--body")) for c in rest_calls(plan, "post", "configurations")
    ]
    waiting = [n for n, e in ENVIRONMENTS.items() if e["required_reviewers"]]
    assert [a["resource"] for a in approvals] == [
        {"type": "environment", "id": f"<id of environment {name}>", "name": name}
        for name in waiting
    ]
    for approval in approvals:
        assert approval["type"]["name"] == "Approval"
        assert approval["settings"]["approvers"] == [
            {"id": "<Azure DevOps id of <your sign-in name>>"}
        ]
    assert waiting == ["prod"]


def test_approvers_are_looked_up_by_e_mail() -> None:
    lines = dry_run(
        "--environment", "prod", "--approver", "ada@acme.dev", "--approver", "al@acme.dev"
    )
    assert commands(lines, "az", "devops", "user", "show", "--user", "ada@acme.dev")
    (approval,) = rest_calls(lines, "post", "configurations")
    approvers = json.loads(option(approval, "--body"))["settings"]["approvers"]
    assert approvers == [
        {"id": "<Azure DevOps id of ada@acme.dev>"},
        {"id": "<Azure DevOps id of al@acme.dev>"},
    ]


def variable_groups(lines: list[str]) -> dict[str, dict[str, str]]:
    """The variable groups the plan creates, by name."""
    found = {}
    for command in commands(lines, "az", "pipelines", "variable-group", "create"):
        start = command.index("--variables") + 1
        pairs = command[start : command.index("--org")]
        found[option(command, "--name")] = dict(pair.split("=", 1) for pair in pairs)
    return found


def test_each_environment_gets_the_variable_group_the_pipelines_read(plan: list[str]) -> None:
    found = variable_groups(plan)
    assert list(found) == ["azureml-ci", *(f"azureml-{name}" for name in ENVIRONMENTS)]
    assert found["azureml-ci"] == {"ARTIFACTS_FEED": DEVOPS["feed"]}
    before = None
    for name, environment in ENVIRONMENTS.items():
        assert found[f"azureml-{name}"] == {
{%- endif %}
            "AZURE_SUBSCRIPTION_ID": environment["subscription_id"] or "<subscription id>",
            "AZURE_RESOURCE_GROUP": environment["resource_group"],
            "AZUREML_WORKSPACE": environment["workspace"],
            "AZUREML_REGISTRY": SHARED["registry"],
            "AZURE_CONTAINER_REGISTRY": environment["container_registry"],
            "AZUREML_ONLINE_ENDPOINT": environment["online_endpoint"],
            "AZUREML_BATCH_ENDPOINT": environment["batch_endpoint"],
{%- if cookiecutter.ci_platform == "github" %}
        }
{%- else %}
        } | ({"SOURCE_REGISTRY": before["container_registry"]} if before else {})
        before = environment


def test_the_pipelines_are_made_from_their_files_and_use_only_what_they_need(
    plan: list[str],
) -> None:
    created = {
        option(c, "--name"): option(c, "--yaml-path")
        for c in commands(plan, "az", "pipelines", "create")
    }
    assert created == {
        name: f".azure-pipelines/{name}.yml"
        for name in ("ci", "release", "drift")
        if (PROJECT / f".azure-pipelines/{name}.yml").is_file()
    }
    folder = {option(c, "--folder-path") for c in commands(plan, "az", "pipelines", "create")}
    release = (PROJECT / ".azure-pipelines/release.yml").read_text(encoding="utf-8")
    (source,) = re.findall(r"source: '(.*)'", release)
    assert {source} == {f"{f}\\ci" for f in folder}, "release.yml follows the CI pipeline"
    authorized: dict[str, list[object]] = {}
    for command in commands(plan, "az", "rest", "--method", "patch"):
        url = option(command, "--url").partition("?")[0]
        if "/pipelinepermissions/" in url:
            kind, resource = url.split("/")[-2:]
            ids = [p["id"] for p in json.loads(option(command, "--body"))["pipelines"]]
            authorized[f"{kind} {resource}"] = ids
    ci, release_id = "<id of pipeline ci>", "<id of pipeline release>"
    first = next(iter(ENVIRONMENTS))
    expected = {"variablegroup <id of variable group azureml-ci>": [ci]}
    for name in ENVIRONMENTS:
        users = [release_id, ci] if name == first else [release_id]
        expected |= {
            f"endpoint <id of service connection azureml-{name}>": users,
            f"variablegroup <id of variable group azureml-{name}>": users,
            f"environment <id of environment {name}>": [release_id],
        }
    assert authorized == expected
    (policy,) = commands(plan, "az", "repos", "policy", "build", "create")
    assert option(policy, "--build-definition-id") == ci
    assert option(policy, "--blocking") == "true"


def test_the_feed_is_made_once_and_the_build_service_may_publish(plan: list[str]) -> None:
    (feed,) = rest_calls(plan, "post", "feeds")
    assert json.loads(option(feed, "--body"))["name"] == DEVOPS["feed"]
    (grant,) = rest_calls(plan, "patch", "permissions")
    assert json.loads(option(grant, "--body")) == [
        {"role": "contributor", "identityDescriptor": "<descriptor-of-the-build-service>"}
    ]
{%- endif %}


def test_one_environment_touches_only_itself_and_the_shared_registry() -> None:
    lines = dry_run("--environment", "uat")
    groups = [option(command, "-n") for command in commands(lines, "az", "group", "create")]
    assert groups == [SHARED["resource_group"], ENVIRONMENTS["uat"]["resource_group"]]
{%- if cookiecutter.ci_platform == "github" %}
    assert {option(c, "--env") for c in commands(lines, "gh", "variable", "set")} == {"uat"}
    assert not commands(lines, "gh", "api", "user")  # uat needs no reviewer
{%- else %}
    assert set(variable_groups(lines)) == {"azureml-ci", "azureml-uat"}
    assert not commands(lines, "az", "devops", "user", "show")  # uat needs no approver
{%- endif %}
    (pull,) = [line for line in lines if "--role AcrPull" in line]
    assert option(shlex.split(pull), "--scope") == container_registry(ENVIRONMENTS["dev"])
    others = {name: table for name, table in ENVIRONMENTS.items() if name != "uat"}
    names = {v for table in others.values() for v in table.values() if isinstance(v, str) and v}
    for name in others:
{%- if cookiecutter.ci_platform == "github" %}
        names |= {f"github-{name}", f"-{name}>", f"environments/{name}", f"environment:{name}"}
    unrelated = [line for line in lines if line != pull]
{%- else %}
        names |= {f"-{name}>", f"azureml-{name}", f"environment {name}>", f'"name": "{name}"'}
    (group,) = [line for line in lines if "SOURCE_REGISTRY=" in line]
    assert f"SOURCE_REGISTRY={ENVIRONMENTS['dev']['container_registry']} " in group
    unrelated = [line for line in lines if line not in (pull, group)]
{%- endif %}
    assert [line for line in unrelated if any(name in line for name in names)] == []


def test_no_command_creates_a_secret_or_a_password(plan: list[str]) -> None:
    assert [
        line for line in plan if re.search(r"secret|password|credential reset", line, re.I)
    ] == []


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--environment", "qa"], "unknown environment 'qa'"),
{%- if cookiecutter.ci_platform == "github" %}
        (["--repo", "fraud-radar"], "repository 'fraud-radar' is not a GitHub owner/name"),
        (["--repo", "acme labs/fraud-radar"], "is not a GitHub owner/name"),
        (["--reviewer", "not/a-login"], "reviewer 'not/a-login' is not a GitHub login"),
{%- else %}
        (["--approver", "ada"], "approver 'ada' is not an e-mail address"),
        (["--approver", "ada lovelace@acme.dev"], "is not an e-mail address"),
{%- endif %}
    ],
)
def test_bad_input_stops_before_any_command(tmp_path: Path, args: list[str], problem: str) -> None:
    result = bootstrap(*args, path=str(tmp_path))  # a real run: the input is checked first
    assert result.returncode == 2
    assert problem in result.stderr
    assert result.stdout == ""


def test_a_toml_without_a_name_stops_with_the_key(tmp_path: Path) -> None:
    broken = re.sub(r"(?m)^workspace = .*\n", "", TOML.read_text(encoding="utf-8"), count=1)
    result = bootstrap("--dry-run", script=with_toml(tmp_path, broken))
    assert result.returncode == 2
    first = next(iter(ENVIRONMENTS))
    assert f"[environments.{first}] has no `workspace`" in result.stderr
    assert result.stdout == ""
{%- if cookiecutter.ci_platform == "github" %}


def test_a_real_run_needs_az_and_gh_on_path(tmp_path: Path) -> None:
    result = bootstrap(path=str(tmp_path))
    assert result.returncode == 2
    assert "not on PATH: `az`" in result.stderr
    assert "`gh`" in result.stderr
{%- else %}


def test_a_real_run_needs_az_on_path(tmp_path: Path) -> None:
    result = bootstrap(path=str(tmp_path))
    assert result.returncode == 2
    assert "not on PATH: `az`" in result.stderr
{%- endif %}
    assert result.stdout == ""


def test_the_dry_run_says_what_it_shows_in_sections_and_what_is_missing(tmp_path: Path) -> None:
    script = with_toml(tmp_path / "project", WITHOUT_MONITORING)
{%- if cookiecutter.ci_platform == "github" %}
    result = bootstrap("--dry-run", "--repo", REPO, script=script, path=str(tmp_path))  # no az, gh
    assert result.returncode == 0, result.stderr
    banner, *rest = result.stdout.splitlines()
    assert banner.startswith(f"# Dry run for {REPO}, environments {', '.join(ENVIRONMENTS)}:")
    assert "# Not on PATH, needed by a real run: `az`" in result.stdout
    assert "# Not on PATH, needed by a real run: `gh`" in result.stdout
    sections = [line for line in rest if line.startswith("# --- ")]
    assert [s.split()[2] for s in sections] == ["who", "shared:", *(f"{e}:" for e in ENVIRONMENTS)]


# Stand-ins for az and gh: each appends its command line (and any stdin) to a log, fails on a
{%- else %}
    result = bootstrap("--dry-run", script=script, path=str(tmp_path))  # no az on PATH
    assert result.returncode == 0, result.stderr
    banner, *rest = result.stdout.splitlines()
    assert banner.startswith(f"# Dry run for {TARGET}, environments {', '.join(ENVIRONMENTS)}:")
    assert "# Not on PATH, needed by a real run: `az`" in result.stdout
    sections = [line for line in rest if line.startswith("# --- ")]
    first_words = [s.split()[2] for s in sections]
    assert first_words == ["who", "Azure", "shared:", *(f"{e}:" for e in ENVIRONMENTS)]


# A stand-in for az: it appends its command line (and any stdin) to a log, fails on a
{%- endif %}
# command containing @FAIL@, and prints the answer of the first prefix its command starts with.
FAKE = """#!/bin/sh
line="${0##*/} $*"
printf '%s\\n' "$line" >> @LOG@
case "$line" in
  *@FAIL@*) echo "simulated failure" >&2; exit 3 ;;
  *"--input -")
    while IFS= read -r body || [ -n "$body" ]; do printf 'stdin %s\\n' "$body" >> @LOG@; done ;;
@ANSWERS@
esac
"""


def fake_clis(folder: Path, answers: dict[str, str], fail: str = "@never@") -> Path:
    """Write the stand-ins into `folder` and return the path of their log."""
    log = folder / "calls.log"
    cases = "\n".join(
        f"  {shlex.quote(prefix)}*) printf '%s\\n' {shlex.quote(answer)} ;;"
        for prefix, answer in answers.items()
    )
    script = FAKE.replace("@LOG@", shlex.quote(str(log))).replace("@FAIL@", shlex.quote(fail))
{%- if cookiecutter.ci_platform == "github" %}
    for tool in ("az", "gh"):
{%- else %}
    for tool in ("az",):
{%- endif %}
        (folder / tool).write_text(script.replace("@ANSWERS@", cases), encoding="utf-8")
        (folder / tool).chmod(0o755)
    return log


def first_on_path(folder: Path) -> str:
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def logged(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()


posix_only = pytest.mark.skipif(os.name == "nt", reason="the stand-ins are shell scripts")


@posix_only
def test_a_real_run_creates_what_is_missing_and_stores_real_ids(tmp_path: Path) -> None:
    log = fake_clis(
        tmp_path,
        {
            "az account show --query id": "sub-1",
            "az account show --query tenantId": "tenant-1",
{%- if cookiecutter.ci_platform == "github" %}
            "az ad app list --display-name github-fraud-radar-dev": "github-fraud-radar-dev-old\tx",
            "az ad app create": "app-1",
            "az ad sp create": "sp-1",
            "gh api user": "583231",
        },
    )
    result = bootstrap("--repo", REPO, path=first_on_path(tmp_path))
    assert result.returncode == 0, result.stderr
    *printed, done = result.stdout.splitlines()
    assert done == f"Done: {REPO} can deploy to {', '.join(ENVIRONMENTS)}."
    calls = [line for line in logged(log) if not line.startswith("stdin ")]
    checks = ["az version --output json", "gh variable set --help"]
    assert calls[:2] == checks, "CLIs too old for the bootstrap stop it before any change"
    run = [line for line in printed if line and not line.startswith("#")]
    assert len(calls[2:]) == len(run)  # every command printed, then run
    assert "az ad app create --display-name github-fraud-radar-dev --query appId -o tsv" in calls
    assert 'stdin {"reviewers": [{"type": "User", "id": 583231}]}' in logged(log)
    first = next(iter(ENVIRONMENTS))
    target = f"--env {first} --repo {REPO} --body"
    assert f"gh variable set AZURE_SUBSCRIPTION_ID {target} sub-1" in calls
    assert f"gh variable set AZURE_CLIENT_ID {target} app-1" in calls
    assert f"gh variable set AZURE_TENANT_ID {target} tenant-1" in calls


@posix_only
def test_a_second_run_reuses_the_identity_and_fixes_a_stale_credential(tmp_path: Path) -> None:
    log = fake_clis(
        tmp_path,
        {
            "az ad app list --display-name github-fraud-radar-uat": "github-fraud-radar-uat\tapp-9",
            "az ad sp list --spn app-9": "sp-9",
            "az ad app federated-credential list": "github-uat\trepo:acme-labs/old-name:environment:uat",
        },
    )
    result = bootstrap("--repo", REPO, "--environment", "uat", path=first_on_path(tmp_path))
    assert result.returncode == 0, result.stderr
    calls = logged(log)
    assert not [call for call in calls if re.search(r"(app|sp|federated-credential) create", call)]
    (update,) = [call for call in calls if "federated-credential update" in call]
    assert f'"subject": "repo:{REPO}:environment:uat"' in update
    assert all("--assignee-object-id sp-9 " in c for c in calls if "role assignment" in c)
    assert f"gh variable set AZURE_CLIENT_ID --env uat --repo {REPO} --body app-9" in calls
{%- else %}
            "az account show --query user.name": "ada@acme.dev",
            "az devops user show --user ada@acme.dev": "user-7",
            "az devops project show": "project-1",
            "az pipelines create --name ci ": "11",
            "az pipelines create --name release ": "12",
            "az ad app create": "app-1",
            "az ad sp create": "sp-1",
            "az devops service-endpoint show": "https://issuer.example",
        },
    )
    result = bootstrap(path=first_on_path(tmp_path))
    assert result.returncode == 0, result.stderr
    *printed, done = result.stdout.splitlines()
    assert done == f"Done: {TARGET} can deploy to {', '.join(ENVIRONMENTS)}."
    calls = logged(log)
    assert calls[0] == "az version --output json", "an old CLI stops it before any change"
    run = [line for line in printed if line and not line.startswith("#")]
    assert len(calls[1:]) == len(run)  # every command printed, then run
    assert f"az ad app create --display-name {app('dev')} --query appId -o tsv" in calls
    credential = next(c for c in calls if "federated-credential create" in c)
    assert '"issuer": "https://issuer.example"' in credential
    assert '"id": "user-7"' in next(c for c in calls if "checks/configurations?api" in c)
    assert '{"pipelines": [{"id": 12, "authorized": true}, {"id": 11, "authorized": true}]}' in (
        "\n".join(calls)
    )
    dev_group = next(c for c in calls if "variable-group create --name azureml-dev" in c)
    assert "AZURE_SUBSCRIPTION_ID=sub-1" in dev_group


@posix_only
def test_a_second_run_reuses_what_exists_and_updates_the_variables(tmp_path: Path) -> None:
    log = fake_clis(
        tmp_path,
        {
            f"az ad app list --display-name {app('uat')}": f"{app('uat')}\tapp-9",
            "az ad sp list --spn app-9": "sp-9",
            "az devops service-endpoint list": "endpoint-3",
            "az devops service-endpoint show": "https://issuer.example",
            "az ad app federated-credential list": "azure-devops-azureml-uat\thttps://issuer.example",
            "az rest --method get --url https://dev.azure.com/": "5",
            "az pipelines variable-group list": "8",
            "az pipelines variable-group variable list": "AZUREML_WORKSPACE\tAZURE_RESOURCE_GROUP",
            "az pipelines list": "21",
            "az rest --method get --url https://feeds.dev.azure.com/": "feed-1",
            "az repos show": "repo-1",
            "az repos policy list": "21",
        },
    )
    result = bootstrap("--environment", "uat", path=first_on_path(tmp_path))
    assert result.returncode == 0, result.stderr
    calls = logged(log)
    created = [
        call
        for call in calls
        if re.search(r" create |--method post", call) and "group variable create" not in call
    ]
    assert [c for c in created if "role assignment" not in c and "federated" not in c] == [
        c for c in created if "az group create" in c or "az deployment" in c
    ], "only the idempotent Azure deployments run again"
    assert all("--assignee-object-id sp-9 " in c for c in calls if "role assignment" in c)
    variables = [c for c in calls if "variable-group variable" in c and "--name" in c]
    assert (
        f"update --group-id 8 --name AZUREML_WORKSPACE --value {ENVIRONMENTS['uat']['workspace']}"
        in ("\n".join(variables))
    )
    assert "create --group-id 8 --name AZUREML_REGISTRY" in "\n".join(variables)
{%- endif %}


@posix_only
def test_a_real_run_stops_at_the_first_failure(tmp_path: Path) -> None:
    failing = f"az deployment group create -g {SHARED['resource_group']}"
    log = fake_clis(tmp_path, {}, fail=failing)
    result = bootstrap(path=first_on_path(tmp_path))
    assert result.returncode == 1
    assert "simulated failure" in result.stderr
    assert failing in result.stderr
    assert logged(log)[-1].startswith(failing)
{%- if cookiecutter.ci_platform == "github" %}


@posix_only
def test_a_gh_without_variables_is_refused_before_any_change(tmp_path: Path) -> None:
    log = fake_clis(tmp_path, {}, fail="gh variable set --help")
    result = bootstrap(path=first_on_path(tmp_path))
    assert result.returncode == 2
    assert "install GitHub CLI 2.32 or newer" in result.stderr
    assert logged(log) == ["az version --output json", "gh variable set --help"]
{%- endif %}


@posix_only
def test_an_old_azure_cli_is_refused_before_any_change(tmp_path: Path) -> None:
    log = fake_clis(tmp_path, {"az version": '{"azure-cli": "2.40.0"}'})
    result = bootstrap(path=first_on_path(tmp_path))
    assert result.returncode == 2
    assert "Azure CLI 2.40; the bootstrap needs 2.50 or newer" in result.stderr
    assert logged(log) == ["az version --output json"]


MONITORING = """
[monitoring]
environment = "prod"
ci_environment = "prod-monitoring"
"""


def test_the_drift_check_gets_an_identity_that_can_only_run_jobs_in_prod(tmp_path: Path) -> None:
    lines = dry_run(script=with_toml(tmp_path, WITHOUT_MONITORING + MONITORING))
{%- if cookiecutter.ci_platform == "github" %}
    start = lines.index(
        "az ad app list --display-name github-fraud-radar-prod-monitoring"
        " --query '[].[displayName, appId]' -o tsv"
{%- else %}
    identity = app("prod-monitoring")
    start = lines.index(
        f"az ad app list --display-name {identity} --query '[].[displayName, appId]' -o tsv"
{%- endif %}
    )
    monitoring = lines[start:]
    roles = commands(monitoring, "az", "role", "assignment", "create")
    prod = ENVIRONMENTS["prod"]
    assert [(option(c, "--role"), option(c, "--scope")) for c in roles] == [
        (
            "AzureML Data Scientist",
            f"/subscriptions/<subscription id>/resourceGroups/{prod['resource_group']}"
            f"/providers/{WORKSPACES}/{prod['workspace']}",
        )
    ]
    (credential,) = commands(monitoring, "az", "ad", "app", "federated-credential", "create")
{%- if cookiecutter.ci_platform == "github" %}
    subject = json.loads(option(credential, "--parameters"))["subject"]
    assert subject == f"repo:{REPO}:environment:prod-monitoring"
    assert f"gh api -X PUT repos/{REPO}/environments/prod-monitoring" in monitoring, "no reviewers"
    variables = {c[3]: option(c, "--body") for c in commands(monitoring, "gh", "variable", "set")}
    assert variables["AZUREML_WORKSPACE"] == prod["workspace"]
    assert variables["AZURE_CLIENT_ID"] == "<appId of github-fraud-radar-prod-monitoring>"
{%- else %}
    assert json.loads(option(credential, "--parameters"))["subject"] == (
        "<subject of azureml-prod-monitoring>"
    )
    assert not rest_calls(monitoring, "post", "environments"), "no environment, no approval"
    variables = variable_groups(monitoring)["azureml-prod-monitoring"]
    assert variables["AZUREML_WORKSPACE"] == prod["workspace"]
    assert variables["RELEASE_PIPELINE_ID"] == "<id of pipeline release>"
{%- endif %}


def test_a_monitoring_table_must_watch_a_known_environment(tmp_path: Path) -> None:
    text = WITHOUT_MONITORING + MONITORING.replace('"prod"', '"staging"')
    result = bootstrap("--dry-run", script=with_toml(tmp_path, text))
    assert result.returncode == 2
    assert "watches 'staging'" in result.stderr
