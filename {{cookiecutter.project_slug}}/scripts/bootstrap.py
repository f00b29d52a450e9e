{% if cookiecutter.ci_platform == "github" -%}
"""Set up Azure and GitHub for the workflows, once per project.

Run it from the project root with the Azure CLI and the GitHub CLI logged in (`az login`,
`gh auth login`): `python scripts/bootstrap.py --dry-run` prints every command it would run and
runs none; without `--dry-run` it runs them, printing each first. `--help` lists the options.

Every name comes from infra/environments.toml. The shared Azure ML registry is deployed once
(infra/registry.bicep); then, per environment: its resources (infra/main.bicep), an Entra ID app
whose only credential is a federated one for the GitHub environment of the same name (so there
is no secret to leak or rotate), the roles in ROLES and nothing more, the GitHub environment,
and the GitHub environment variables the workflows read.
{%- else -%}
"""Set up Azure and Azure DevOps for the pipelines, once per project.

Run it from the project root with the Azure CLI logged in (`az login`, as a user of the Azure
DevOps organization): `python scripts/bootstrap.py --dry-run` prints every command it would run
and runs none; without `--dry-run` it runs them, printing each first. `--help` lists the options.

Every name comes from infra/environments.toml. In Azure DevOps: the Azure Artifacts feed the CI
publishes the wheel to, the pipelines of .azure-pipelines/ and a build policy that runs CI on
pull requests to main. In Azure: the shared Azure ML registry (infra/registry.bicep); then, per
environment, its resources (infra/main.bicep), an Entra ID app whose only credential is a
federated one for the environment's service connection (workload identity federation: no
secret, no PAT, nothing to rotate), the roles in ROLES and nothing more; and back in Azure
DevOps, the service connection, the environment (prod with an approval) and the variable group
the pipelines read, each usable by the pipelines that need it and no other.
{%- endif %}

Each step looks up before it creates, or is idempotent itself: after a failure, fix the cause
and run it again. Standard library only, so any Python 3.10+ runs it before `make install`.
"""

import argparse
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
{%- if cookiecutter.ci_platform == "azure_devops" %}
import urllib.parse
{%- endif %}
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
{%- if cookiecutter.python_version == "3.10" %}

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib
{%- endif %}

# Least privilege at a glance: each environment's deployment identity gets exactly these roles,
# each on one resource. Scopes: the environment's own `workspace` and `container_registry`, the
# container registry of the environment before it in infra/environments.toml (uat pulls from
# dev, prod from uat; none for the first), and the shared Azure ML `registry`.
ROLES: tuple[tuple[str, str, str], ...] = (
    # (role, scope, why)
    ("AzureML Data Scientist", "workspace", "run jobs, register models, deploy endpoints"),
    ("AcrPush", "container_registry", "push the serving image"),
    ("Contributor", "container_registry", "`az acr import` needs importImage"),
    ("AcrPull", "previous_container_registry", "import the image the environment before tested"),
    ("AzureML Registry User", "registry", "share one model version across environments"),
)
{%- if cookiecutter.ci_platform == "github" %}
# The scheduled drift check (level 2) signs in as an identity of its own, bound to a GitHub
# environment without reviewers: it may run jobs in the watched environment's workspace, and
# nothing else (it cannot deploy: no registry, no image push).
{%- else %}
# The scheduled drift check (level 2) signs in as an identity of its own, through a service
# connection of its own: it may run jobs in the watched environment's workspace, and nothing
# else (it cannot deploy: no registry, no image push).
{%- endif %}
MONITORING_ROLES: tuple[tuple[str, str, str], ...] = (
    ("AzureML Data Scientist", "workspace", "run the drift job on the collected data"),
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path("infra/environments.toml")
MONITORING_CONFIG = Path("infra/monitoring.toml")
{%- if cookiecutter.ci_platform == "github" %}
TOOLS = {
    "az": "the Azure CLI (https://aka.ms/install-azure-cli)",
    "gh": "the GitHub CLI (https://cli.github.com)",
}
# The oldest Azure CLI with every command used here as used here (Bicep built in, federated
# credentials, --assignee-principal-type); `gh variable` came with GitHub CLI 2.32 (2023).
MIN_AZURE_CLI = (2, 50)
MIN_GH = "2.32"
OIDC_ISSUER = "https://token.actions.githubusercontent.com"
OIDC_AUDIENCE = "api://AzureADTokenExchange"
MAX_REVIEWERS = 6  # GitHub's limit per environment

# GitHub's naming rules: the federated credential's subject must match the repository exactly.
OWNER = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*")
REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
ENVIRONMENT = re.compile(r"[A-Za-z0-9_-]+")
{%- else %}
TOOLS = {"az": "the Azure CLI (https://aka.ms/install-azure-cli)"}
# The oldest Azure CLI with every command used here as used here (Bicep built in, federated
# credentials, --assignee-principal-type); the bootstrap adds its azure-devops extension.
MIN_AZURE_CLI = (2, 50)
# Azure DevOps' application id: `az rest` asks Entra ID for a token to its REST API with it, so
# the calls the azure-devops extension has no command for use your `az login` too (no PAT).
AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
APPROVAL_CHECK = {"id": "8c6f20a7-a545-4486-9777-f762fafe0d4d", "name": "Approval"}
OIDC_AUDIENCE = "api://AzureADTokenExchange"
# The pipelines of .azure-pipelines/, in this folder of the project's pipelines; release.yml and
# drift.yml name it (`resources.pipelines`, `az pipelines run`).
PIPELINES_FOLDER = "\\{{ cookiecutter.project_slug }}"
PIPELINES = {
    "ci": ".azure-pipelines/ci.yml",
    "release": ".azure-pipelines/release.yml",
    "drift": ".azure-pipelines/drift.yml",  # level 2
}
CI_GROUP = "azureml-ci"  # the CI's variable group: ARTIFACTS_FEED
ENVIRONMENT = re.compile(r"[A-Za-z0-9_-]+")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
{%- endif %}

Command = list[str]


class UsageError(Exception):
    """Bad input: reported before any command runs."""


class CommandError(Exception):
    """A command exited non-zero: the run stops there."""


@dataclass(frozen=True)
class Shared:
    """The resources every environment uses: the Azure ML registry and its resource group."""

    subscription_id: str
    resource_group: str
    registry: str


@dataclass(frozen=True)
{%- if cookiecutter.ci_platform == "github" %}
class Environment:
    """One deployment target: its Azure resources and its GitHub environment of the same name."""
{%- else %}
class AzureDevOps:
    """Where the pipelines run: the [azure_devops] table of infra/environments.toml."""

    organization: str
    project: str
    repository: str
    feed: str

    @property
    def url(self) -> str:
        return f"https://dev.azure.com/{self.organization}"

    def rest(self, path: str, *, feeds: bool = False) -> str:
        """The REST URL of `path` in this project (feeds live on feeds.dev.azure.com)."""
        host = "https://feeds.dev.azure.com" if feeds else "https://dev.azure.com"
        project = urllib.parse.quote(self.project)
        return f"{host}/{self.organization}/{project}/_apis/{path}"


@dataclass(frozen=True)
class Environment:
    """One deployment target: its Azure resources, and its Azure DevOps environment, service
    connection and variable group (azureml-<name>)."""
{%- endif %}

    name: str
    subscription_id: str
    resource_group: str
    workspace: str
    storage_account: str
    container_registry: str
    online_endpoint: str
    batch_endpoint: str
    required_reviewers: bool


@dataclass(frozen=True)
class Monitoring:
    """The [monitoring] table of level 2 (infra/monitoring.toml): which environment the drift
{%- if cookiecutter.ci_platform == "github" %}
    check watches, and the GitHub environment its workflow runs in."""
{%- else %}
    check watches, and the name of its own service connection and variable group."""
{%- endif %}

    environment: str
    ci_environment: str


@dataclass(frozen=True)
class Config:
    """infra/environments.toml, checked: environments keep the file's order, the promotion order."""

    location: str
{%- if cookiecutter.ci_platform == "github" %}
    github_repository: str
{%- else %}
    azure_devops: AzureDevOps
{%- endif %}
    shared: Shared
    environments: tuple[Environment, ...]
    monitoring: Monitoring | None = None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(ROOT / CONFIG)
        names = select(config, args.environment)
{%- if cookiecutter.ci_platform == "github" %}
        repository = check_repository(args.repo or config.github_repository)
        reviewers = check_reviewers(args.reviewer)
{%- else %}
        approvers = check_approvers(args.approver)
{%- endif %}
        tools = {} if args.dry_run else find_tools()
    except UsageError as error:
        print(f"bootstrap: {error}", file=sys.stderr)
        return 2
{%- if cookiecutter.ci_platform == "github" %}
    if args.dry_run:
        print(dry_run_banner(repository, names))
    try:
        bootstrap(Runner(args.dry_run, tools), config, names, repository, reviewers)
{%- else %}
    target = f"{config.azure_devops.url}/{config.azure_devops.project}"
    if args.dry_run:
        print(dry_run_banner(target, names))
    try:
        bootstrap(Runner(args.dry_run, tools), config, names, approvers)
{%- endif %}
    except CommandError as error:
        print(f"bootstrap: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `--dry-run | head`: the reader has stopped, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # quiet at exit too
        return 1
    if not args.dry_run:
{%- if cookiecutter.ci_platform == "github" %}
        print(f"Done: {repository} can deploy to {', '.join(names)}.")
{%- else %}
        print(f"Done: {target} can deploy to {', '.join(names)}.")
{%- endif %}
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bootstrap.py",
{%- if cookiecutter.ci_platform == "github" %}
        description="Set up Azure and GitHub for the workflows, from infra/environments.toml.",
{%- else %}
        description="Set up Azure and Azure DevOps for the pipelines, from infra/environments.toml.",
{%- endif %}
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the commands, run none (not even lookups)"
    )
    parser.add_argument(
        "--environment",
        action="append",
        default=[],
        metavar="NAME",
        help="set up only this environment (repeat for more; default: all, in file order)",
    )
    parser.add_argument(
{%- if cookiecutter.ci_platform == "github" %}
        "--repo", metavar="OWNER/NAME", help="GitHub repository (default: github_repository)"
    )
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="LOGIN",
        help="GitHub user who approves deployments where required_reviewers (default: you)",
{%- else %}
        "--approver",
        action="append",
        default=[],
        metavar="EMAIL",
        help="Azure DevOps user who approves deployments where required_reviewers (default: you)",
{%- endif %}
    )
    return parser.parse_args(argv)


def load_config(path: Path) -> Config:
    """Read and check the whole file first, so a typo stops the run before anything changes."""
    data = _load_toml(path)
    # Level 2 adds the drift check's [monitoring] table in a file of its own.
    if (extra := path.with_name(MONITORING_CONFIG.name)).is_file():
        data |= _load_toml(extra)
    tables = _table(data, "environments", "the top level")
    if not tables:
        raise UsageError(f"{CONFIG} has no [environments.<name>] table")
    environments = []
    for name in tables:
        if not ENVIRONMENT.fullmatch(name):
            raise UsageError(f"{CONFIG}: environment name {name!r} must be letters, digits, - or _")
        where = f"[environments.{name}]"
        environments.append(_read(Environment, _table(tables, name, where), where, name=name))
    monitoring = None
    if "monitoring" in data:
        monitoring = _read(Monitoring, _table(data, "monitoring", "the top level"), "[monitoring]")
        if monitoring.environment not in tables:
            raise UsageError(
                f"[monitoring] watches {monitoring.environment!r}, which is not one of"
                f" the environments ({', '.join(tables)})"
            )
        if monitoring.ci_environment in tables or not ENVIRONMENT.fullmatch(
            monitoring.ci_environment
        ):
            raise UsageError(
                f"[monitoring] ci_environment {monitoring.ci_environment!r}"
                " must be a new name of letters, digits, - or _"
            )
    return Config(
        location=_value(data, "location", str, "the top level"),
{%- if cookiecutter.ci_platform == "github" %}
        github_repository=_value(data, "github_repository", str, "the top level"),
{%- else %}
        azure_devops=_read(
            AzureDevOps, _table(data, "azure_devops", "the top level"), "[azure_devops]"
        ),
{%- endif %}
        shared=_read(Shared, _table(data, "shared", "the top level"), "[shared]"),
        environments=tuple(environments),
        monitoring=monitoring,
    )


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error


def _read(cls: Any, table: dict[str, Any], where: str, **known: Any) -> Any:
    """Build the dataclass `cls` from its TOML table: every field present, with its type."""
    values = {
        field.name: _value(table, field.name, _python_type(field.type), where)
        for field in fields(cls)
        if field.name not in known
    }
    return cls(**known, **values)


def _python_type(annotation: object) -> type:
    """The class a dataclass field holds (`from __future__ import annotations` is not used)."""
    if not isinstance(annotation, type):
        raise TypeError(f"a config field must be annotated with a class, not {annotation!r}")
    return annotation


def _value(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """Return table[key], which must have type `kind` and, for a name, not be empty."""
    if key not in table:
        raise UsageError(f"{CONFIG}: {where} has no `{key}`")
    value = table[key]
    if not isinstance(value, kind):
        raise UsageError(f"{CONFIG}: `{key}` in {where} must be a {kind.__name__}")
    if kind is str and not value and key != "subscription_id":
        raise UsageError(f"{CONFIG}: `{key}` in {where} is empty")
    return value


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    table: dict[str, Any] = _value(data, key, dict, where)
    return table


def select(config: Config, names: Sequence[str]) -> tuple[str, ...]:
    """Return the named environments (all when none is named) in file order, which is the
    promotion order: an environment's identity needs the registry of the one before."""
    known = [environment.name for environment in config.environments]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"unknown environment {unknown[0]!r}: {CONFIG} defines {', '.join(known)}")
    return tuple(name for name in known if not names or name in names)
{%- if cookiecutter.ci_platform == "github" %}


def check_repository(value: str) -> str:
    """Return `value` if it is a GitHub owner/name: the OIDC subject must match it exactly."""
    owner, _, name = value.partition("/")
    valid_owner = len(owner) <= 39 and OWNER.fullmatch(owner)
    valid_name = REPOSITORY.fullmatch(name) and name not in {".", ".."}
    if not (valid_owner and valid_name):
        raise UsageError(f"repository {value!r} is not a GitHub owner/name, e.g. my-org/my-repo")
    return value


def check_reviewers(logins: Sequence[str]) -> list[str]:
    """Return the reviewer logins if GitHub could accept them (valid names, at most six)."""
    for login in logins:
        if len(login) > 39 or not OWNER.fullmatch(login):
            raise UsageError(f"reviewer {login!r} is not a GitHub login")
    if len(logins) > MAX_REVIEWERS:
        raise UsageError(f"GitHub accepts at most {MAX_REVIEWERS} reviewers per environment")
    return list(logins)
{%- else %}


def check_approvers(emails: Sequence[str]) -> list[str]:
    """Return the approvers if they look like the e-mail addresses Azure DevOps knows users by."""
    for email in emails:
        if not EMAIL.fullmatch(email):
            raise UsageError(f"approver {email!r} is not an e-mail address")
    return list(emails)
{%- endif %}


def find_tools() -> dict[str, str]:
    """Return the full path of each CLI: found up front, rather than after half the steps."""
    paths = {tool: shutil.which(tool) for tool in TOOLS}
    missing = [f"`{tool}`, {TOOLS[tool]}" for tool, path in paths.items() if path is None]
    if missing:
        raise UsageError(f"not on PATH: {'; '.join(missing)} (install, log in, then run again)")
    found = {tool: path for tool, path in paths.items() if path is not None}
    version = _azure_cli_version(found["az"])
    if version is not None and version < MIN_AZURE_CLI:
        raise UsageError(
            f"{found['az']} is Azure CLI {'.'.join(map(str, version))}; the bootstrap needs"
            f" {'.'.join(map(str, MIN_AZURE_CLI))} or newer: `az upgrade`, then run again"
{%- if cookiecutter.ci_platform == "github" %}
        )
    # Feature, not version: Debian 12's packaged gh (2.23) has no `gh variable`.
    check = subprocess.run(
        [found["gh"], "variable", "set", "--help"], capture_output=True, text=True, check=False
    )
    if check.returncode:
        raise UsageError(
            f"{found['gh']} has no `gh variable` command, which sets the workflows' variables:"
            f" install GitHub CLI {MIN_GH} or newer (https://cli.github.com), then run again"
{%- endif %}
        )
    return found


def _azure_cli_version(az: str) -> tuple[int, ...] | None:
    """The version `az version` reports; None when it says nothing readable (the check is
    then left to the commands themselves)."""
    done = subprocess.run([az, "version", "--output", "json"], capture_output=True, text=True)
    try:
        return tuple(int(part) for part in json.loads(done.stdout)["azure-cli"].split(".")[:2])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def dry_run_banner(target: str, names: Sequence[str]) -> str:
    """What a dry run prints first: what follows, and which tools a real run would miss."""
    lines = [
        f"# Dry run for {target}, environments {', '.join(names)}: the commands a real run",
        "# would run, in order. Nothing is run or looked up: <...> stands for a value a real run",
        "# looks up. Every step is safe to repeat.",
    ]
    lines += [
        f"# Not on PATH, needed by a real run: `{tool}`, {TOOLS[tool]}."
        for tool in TOOLS
        if shutil.which(tool) is None
    ]
    return "\n".join(lines)


def show(command: Command, stdin: str | None = None) -> str:
    """The command as one shell line, so a dry run can be read, reviewed or pasted."""
    line = shlex.join(command)
    return f"echo {shlex.quote(stdin)} | {line}" if stdin is not None else line


class Runner:
    """Prints each command, then runs it; a dry run prints only and answers every lookup with a
    readable placeholder, so the plan shows without touching Azure or GitHub."""

    def __init__(self, dry_run: bool, tools: dict[str, str]) -> None:
        self.dry_run = dry_run
        self.tools = tools

    def run(self, command: Command, stdin: str | None = None) -> None:
        self.output(command, "", stdin)

    def section(self, title: str) -> None:
        """A heading between the commands, as a shell comment: the plan stays pasteable."""
        print(f"\n# --- {title}", flush=True)

    def output(self, command: Command, placeholder: str, stdin: str | None = None) -> str:
        """Return what the command prints, stripped (a dry run returns `placeholder`)."""
        print(show(command, stdin), flush=True)
        if self.dry_run:
            return placeholder
        executable = self.tools.get(command[0], command[0])  # a full path works on Windows too
        result = subprocess.run(
            [executable, *command[1:]],
            input=stdin or "",  # never the terminal: a prompt would wait, unseen
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if result.returncode:
            raise CommandError(
                f"this command failed with exit code {result.returncode}:\n"
                f"  {show(command, stdin)}\n{result.stderr.strip()}\n"
                "Fix the cause and run the bootstrap again: every step is safe to repeat."
            )
        return result.stdout.strip()


def bootstrap(
{%- if cookiecutter.ci_platform == "github" %}
    runner: Runner,
    config: Config,
    names: Sequence[str],
    repository: str,
    reviewers: Sequence[str],
) -> None:
    """Look everything up first (a wrong login fails before any change), then set up the shared
    registry and the named environments in promotion order."""
    runner.section("who you are: subscription, tenant and GitHub user ids")
{%- else %}
    runner: Runner, config: Config, names: Sequence[str], approvers: Sequence[str]
) -> None:
    """Look everything up first (a wrong login fails before any change), then set up the feed
    and the pipelines, the shared registry and the named environments in promotion order."""
    devops = config.azure_devops
    runner.section("who you are: subscription, tenant, the Azure DevOps project and approvers")
{%- endif %}
    config = with_subscriptions(runner, config)
    tenant_id = runner.output(
        ["az", "account", "show", "--query", "tenantId", "-o", "tsv"], "<tenant id>"
    )
{%- if cookiecutter.ci_platform == "github" %}
    environments = [e for e in config.environments if e.name in names]
    needs_reviewers = any(e.required_reviewers for e in environments)
    reviewer_ids = user_ids(runner, reviewers) if needs_reviewers else []
{%- else %}
    runner.run(["az", "extension", "add", "--name", "azure-devops", "--upgrade", "--yes"])
    project_id = runner.output(
        [*in_project(devops, "devops", "project", "show"), *tsv("id")],
        "<project id>",
    )
    environments = [e for e in config.environments if e.name in names]
    needs_approval = any(e.required_reviewers for e in environments)
    approver_ids = user_ids(runner, devops, approvers) if needs_approval else []
    runner.section(f"Azure DevOps: the feed {devops.feed}, the pipelines, CI on pull requests")
    ensure_feed(runner, devops)
    pipelines = ensure_pipelines(runner, devops)
    ensure_build_policy(runner, devops, pipelines["ci"])
    ci_group = ensure_variable_group(runner, devops, CI_GROUP, {"ARTIFACTS_FEED": devops.feed})
    authorize(runner, devops, "variablegroup", ci_group, [pipelines["ci"]])
    context = Context(project_id, tenant_id, pipelines)
{%- endif %}
    shared = config.shared
    registry = {"registryName": shared.registry}
    runner.section(f"shared: the Azure ML registry {shared.registry} (infra/registry.bicep)")
    deploy(runner, config.location, shared, "infra/registry.bicep", registry)
    for environment in environments:
        runner.section(
{%- if cookiecutter.ci_platform == "github" %}
            f"{environment.name}: resources (infra/main.bicep), its GitHub identity and roles,"
            " its GitHub environment and variables"
        )
        deploy(runner, config.location, environment, "infra/main.bicep", resources(environment))
        app_id = setup_identity(runner, config, environment, repository)
        create_github_environment(runner, repository, environment, reviewer_ids)
        values = variables(environment, shared, tenant_id, app_id)
        set_variables(runner, repository, environment.name, values)
    if config.monitoring and config.monitoring.environment in names:
        runner.section(f"{config.monitoring.ci_environment}: the drift check's identity")
        setup_monitoring(runner, config, config.monitoring, repository, tenant_id)


def setup_monitoring(
    runner: Runner, config: Config, monitoring: Monitoring, repository: str, tenant_id: str
) -> None:
    """The drift check's identity, GitHub environment and variables: those of the watched
    environment, except the client id, so its workflow reads the same names."""
    watched = next(e for e in config.environments if e.name == monitoring.environment)
    ci_environment = monitoring.ci_environment
    name = f"github-{repository.partition('/')[2]}-{ci_environment}"
    app_id, principal_id = ensure_identity(runner, name)
    ensure_federated_credential(runner, app_id, github_credential(repository, ci_environment))
    assign_roles(runner, principal_id, role_scopes(config, watched), MONITORING_ROLES)
    runner.run(["gh", "api", "-X", "PUT", f"repos/{repository}/environments/{ci_environment}"])
    values = variables(watched, config.shared, tenant_id, app_id)
    set_variables(runner, repository, ci_environment, values)
{%- else %}
            f"{environment.name}: resources (infra/main.bicep), its identity and roles, its"
            " service connection, environment and variable group"
        )
        deploy(runner, config.location, environment, "infra/main.bicep", resources(environment))
        setup_environment(runner, config, environment, context, approver_ids)
    if config.monitoring and config.monitoring.environment in names:
        runner.section(f"{config.monitoring.ci_environment}: the drift check's identity")
        setup_monitoring(runner, config, config.monitoring, context)


@dataclass(frozen=True)
class Context:
    """What every environment's set-up needs from the lookups: ids in Azure DevOps and Entra."""

    project_id: str
    tenant_id: str
    pipelines: dict[str, str]  # name in PIPELINES -> pipeline id


def setup_environment(
    runner: Runner,
    config: Config,
    environment: Environment,
    context: Context,
    approver_ids: Sequence[str],
) -> None:
    """The environment's identity and roles, its service connection (trusted by the identity),
    its Azure DevOps environment (with an approval where required_reviewers) and its variable
    group; the release may use all three, and the CI the first environment's connection and
    group (it pushes the image there)."""
    devops = config.azure_devops
    name = f"azureml-{environment.name}"
    app_id, principal_id = ensure_identity(runner, f"azdo-{devops.repository}-{environment.name}")
    connection_id = ensure_service_connection(
        runner, devops, environment.subscription_id, name, app_id, context
    )
    ensure_federated_credential(runner, app_id, federation(runner, devops, connection_id, name))
    assign_roles(runner, principal_id, role_scopes(config, environment))
    environment_id = ensure_environment(runner, devops, environment.name)
    if environment.required_reviewers:
        ensure_approval(runner, devops, environment_id, environment.name, approver_ids)
    values = variables(environment, config.shared) | previous_registry(config, environment)
    group_id = ensure_variable_group(runner, devops, name, values)
    users = [context.pipelines["release"]]
    if environment == config.environments[0]:
        users.append(context.pipelines["ci"])
    authorize(runner, devops, "endpoint", connection_id, users)
    authorize(runner, devops, "variablegroup", group_id, users)
    authorize(runner, devops, "environment", environment_id, [context.pipelines["release"]])


def setup_monitoring(
    runner: Runner, config: Config, monitoring: Monitoring, context: Context
) -> None:
    """The drift check's identity, service connection and variable group: those of the watched
    environment, except the identity, so its pipeline reads the same names."""
    devops = config.azure_devops
    watched = next(e for e in config.environments if e.name == monitoring.environment)
    name = f"azureml-{monitoring.ci_environment}"
    app_id, principal_id = ensure_identity(
        runner, f"azdo-{devops.repository}-{monitoring.ci_environment}"
    )
    connection_id = ensure_service_connection(
        runner, devops, watched.subscription_id, name, app_id, context
    )
    ensure_federated_credential(runner, app_id, federation(runner, devops, connection_id, name))
    assign_roles(runner, principal_id, role_scopes(config, watched), MONITORING_ROLES)
    # The release the drift pipeline starts when the policy says retrain.
    values = variables(watched, config.shared) | {
        "RELEASE_PIPELINE_ID": context.pipelines["release"]
    }
    group_id = ensure_variable_group(runner, devops, name, values)
    users = [context.pipelines["drift"]] if "drift" in context.pipelines else []
    authorize(runner, devops, "endpoint", connection_id, users)
    authorize(runner, devops, "variablegroup", group_id, users)
{%- endif %}


def with_subscriptions(runner: Runner, config: Config) -> Config:
    """Fill each empty subscription_id with the one `az account show` reports, asked once."""
    if config.shared.subscription_id and all(e.subscription_id for e in config.environments):
        return config
    default = runner.output(
        ["az", "account", "show", "--query", "id", "-o", "tsv"], "<subscription id>"
    )
    return replace(
        config,
        shared=replace(config.shared, subscription_id=config.shared.subscription_id or default),
        environments=tuple(
            replace(e, subscription_id=e.subscription_id or default) for e in config.environments
        ),
    )
{%- if cookiecutter.ci_platform == "github" %}


def user_ids(runner: Runner, logins: Sequence[str]) -> list[int | str]:
    """Return the numeric GitHub ids of the reviewers (yours by default): the API wants ids."""
    if not logins:
        you = runner.output(["gh", "api", "user", "--jq", ".id"], "<your GitHub user id>")
        return [_number(you)]
    return [
        _number(runner.output(["gh", "api", f"users/{login}", "--jq", ".id"], f"<id of {login}>"))
        for login in logins
{%- else %}


def user_ids(runner: Runner, devops: AzureDevOps, emails: Sequence[str]) -> list[str]:
    """Return the Azure DevOps ids of the approvers (you by default): checks want ids."""
    if not emails:
        you = runner.output(
            ["az", "account", "show", "--query", "user.name", "-o", "tsv"], "<your sign-in name>"
        )
        emails = [you]
    return [
        runner.output(
            ["az", "devops", "user", "show", "--user", email, "--org", devops.url, *tsv("id")],
            f"<Azure DevOps id of {email}>",
        )
        for email in emails
{%- endif %}
    ]


def resources(environment: Environment) -> dict[str, str]:
    """The parameters of infra/main.bicep: the names from the TOML, which the workflows get too."""
    return {
        "workspaceName": environment.workspace,
        "storageAccountName": environment.storage_account,
        "containerRegistryName": environment.container_registry,
    }


def deploy(
    runner: Runner,
    location: str,
    place: Shared | Environment,
    template: str,
    parameters: dict[str, str],
) -> None:
    """Create the resource group, then deploy the Bicep template into it: both are idempotent,
    so a second run only changes what the template changed."""
    subscription = ["--subscription", place.subscription_id]
    group = place.resource_group
    runner.run(["az", "group", "create", "-n", group, "-l", location, *subscription])
    values = [f"{key}={value}" for key, value in {"location": location, **parameters}.items()]
    deployment = ["az", "deployment", "group", "create", "-g", group, *subscription]
    runner.run([*deployment, "-f", template, "-p", *values])
{%- if cookiecutter.ci_platform == "github" %}


def setup_identity(
    runner: Runner, config: Config, environment: Environment, repository: str
) -> str:
    """Return the appId of the identity the environment's workflow jobs sign in as, after
    binding it to the GitHub environment and granting it the roles of ROLES."""
    name = f"github-{repository.partition('/')[2]}-{environment.name}"
    app_id, principal_id = ensure_identity(runner, name)
    ensure_federated_credential(runner, app_id, github_credential(repository, environment.name))
    assign_roles(runner, principal_id, role_scopes(config, environment))
    return app_id
{%- endif %}


def ensure_identity(runner: Runner, name: str) -> tuple[str, str]:
    """Return the appId and service principal object id of the app registration `name`, each
    created if missing."""
    app_id = ensure_app(runner, name)
    return app_id, ensure_service_principal(runner, app_id, name)


def ensure_app(runner: Runner, name: str) -> str:
    """Return the appId of the app registration `name`, created if missing. `--display-name`
    matches prefixes, so the exact name is compared here."""
    query = ["--query", "[].[displayName, appId]", "-o", "tsv"]
    listed = runner.output(["az", "ad", "app", "list", "--display-name", name, *query], "")
    found = _columns(listed).get(name)
    return found or runner.output(
        ["az", "ad", "app", "create", "--display-name", name, "--query", "appId", "-o", "tsv"],
        f"<appId of {name}>",
    )


def _columns(tsv: str) -> dict[str, str]:
    """Read the two columns of `-o tsv` output as a mapping from the first to the second."""
    rows = (line.split("\t", 1) for line in tsv.splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2}


def _number(text: str) -> int | str:
    return int(text) if text.isdigit() else text  # a dry run's placeholder stays text


def ensure_service_principal(runner: Runner, app_id: str, name: str) -> str:
    """Return the object id of the app's service principal, created if missing: roles are
    granted to it. A list answers empty when it is missing, where `show` would fail."""
    query = ["--query", "[0].id", "-o", "tsv"]
    found = runner.output(["az", "ad", "sp", "list", "--spn", app_id, *query], "")
    return found or runner.output(
        ["az", "ad", "sp", "create", "--id", app_id, "--query", "id", "-o", "tsv"],
        f"<object id of {name}>",
    )
{%- if cookiecutter.ci_platform == "github" %}


def github_credential(repository: str, environment: str) -> dict[str, Any]:
    """Trust GitHub's OIDC tokens for jobs of this GitHub environment only: a job signs in as
    the app by declaring `environment: <name>`, and no other job of any repository can."""
    return {
        "name": f"github-{environment}",
        "issuer": OIDC_ISSUER,
        "subject": f"repo:{repository}:environment:{environment}",
        "description": f"GitHub Actions jobs of environment {environment} in {repository}",
        "audiences": [OIDC_AUDIENCE],
    }
{%- endif %}


def ensure_federated_credential(runner: Runner, app_id: str, credential: dict[str, Any]) -> None:
    """Give the app this federated credential, or correct the one of the same name when its
    subject differs: the app then trusts tokens of that issuer and subject, and no others."""
    name = credential["name"]
    command = ["az", "ad", "app", "federated-credential"]
    query = ["--query", "[].[name, subject]", "-o", "tsv"]
    listed = runner.output([*command, "list", "--id", app_id, *query], "")
    subjects = _columns(listed)
    if subjects.get(name) == credential["subject"]:
        return
    action = ["update", "--federated-credential-id", name] if name in subjects else ["create"]
    runner.run([*command, *action, "--id", app_id, "--parameters", json.dumps(credential)])


def previous(config: Config, environment: Environment) -> Environment | None:
    """The environment before this one in the promotion order (None for the first): the one
    whose tested image it imports."""
    index = config.environments.index(environment)
    return config.environments[index - 1] if index else None


def role_scopes(config: Config, environment: Environment) -> dict[str, str | None]:
    """The resource id of each scope named in ROLES (None: no environment before this one)."""
    before = previous(config, environment)
    workspaces = "Microsoft.MachineLearningServices/workspaces"
    registries = "Microsoft.ContainerRegistry/registries"
    ml_registries = "Microsoft.MachineLearningServices/registries"
    shared = config.shared
    return {
        "workspace": resource_id(environment, workspaces, environment.workspace),
        "container_registry": resource_id(environment, registries, environment.container_registry),
        "previous_container_registry": (
            resource_id(before, registries, before.container_registry) if before else None
        ),
        "registry": resource_id(shared, ml_registries, shared.registry),
    }


def resource_id(place: Shared | Environment, kind: str, name: str) -> str:
    return (
        f"/subscriptions/{place.subscription_id}/resourceGroups/{place.resource_group}"
        f"/providers/{kind}/{name}"
    )


def assign_roles(
    runner: Runner,
    principal_id: str,
    scopes: dict[str, str | None],
    roles: tuple[tuple[str, str, str], ...] = ROLES,
) -> None:
    """Grant `roles` (ROLES by default). The object id and principal type skip a Graph lookup
    that fails while a new service principal is still replicating."""
    assignee = ["--assignee-object-id", principal_id]
    assignee += ["--assignee-principal-type", "ServicePrincipal"]
    for role, scope, _why in roles:
        resource = scopes[scope]
        if resource is not None:
            command = ["az", "role", "assignment", "create", *assignee]
            runner.run([*command, "--role", role, "--scope", resource])
{%- if cookiecutter.ci_platform == "github" %}


def create_github_environment(
    runner: Runner, repository: str, environment: Environment, reviewer_ids: Sequence[int | str]
) -> None:
    """Create the GitHub environment the federated credential names; where required_reviewers,
    each deployment job waits until one of the reviewers approves it."""
    command = ["gh", "api", "-X", "PUT", f"repos/{repository}/environments/{environment.name}"]
    if not environment.required_reviewers:
        runner.run(command)
        return
    body = {"reviewers": [{"type": "User", "id": user_id} for user_id in reviewer_ids]}
    runner.run([*command, "--input", "-"], stdin=json.dumps(body))


def variables(
    environment: Environment, shared: Shared, tenant_id: str, client_id: str
) -> dict[str, str]:
    """The GitHub environment variables the workflows read: ids and names, never a secret."""
    return {
        "AZURE_CLIENT_ID": client_id,
        "AZURE_TENANT_ID": tenant_id,
{%- else %}


def in_project(devops: AzureDevOps, *arguments: str) -> Command:
    """An `az devops|pipelines|repos` command in the project: the organization and project on
    each command, rather than with `az devops configure`, which would change your defaults."""
    return ["az", *arguments, "--org", devops.url, "--project", devops.project]


def tsv(query: str) -> Command:
    """The options that print the `query`'s answer as plain text."""
    return ["--query", query, "-o", "tsv"]


def rest(method: str, url: str, body: Any = None, query: str | None = None) -> Command:
    """`az rest` on Azure DevOps' REST API, signed in as you (an Entra ID token for Azure
    DevOps): for what the azure-devops extension has no command for."""
    command = ["az", "rest", "--method", method, "--url", url]
    command += ["--resource", AZURE_DEVOPS_RESOURCE]
    if body is not None:
        command += ["--body", json.dumps(body)]
    if query is not None:
        command += ["--query", query, "-o", "tsv"]
    return command


def ensure_feed(runner: Runner, devops: AzureDevOps) -> None:
    """The project's Azure Artifacts feed, with PyPI as its upstream source; the project's
    build service, which only reads a new feed, may then publish to it (Feed Publisher)."""
    feeds = devops.rest("packaging/feeds", feeds=True)
    query = f"value[?name=='{devops.feed}'].id | [0]"
    feed_id = runner.output(rest("get", f"{feeds}?api-version=7.1", query=query), "")
    if not feed_id:
        pypi = {"name": "PyPI", "protocol": "pypi", "location": "https://pypi.org/"}
        body = {
            "name": devops.feed,
            "upstreamEnabled": True,
            "upstreamSources": [pypi | {"upstreamSourceType": "public"}],
        }
        feed_id = runner.output(
            rest("post", f"{feeds}?api-version=7.1", body, query="id"),
            f"<id of feed {devops.feed}>",
        )
    permissions = devops.rest(f"packaging/feeds/{feed_id}/permissions", feeds=True)
    readers = runner.output(
        rest(
            "get",
            f"{permissions}?api-version=7.1",
            query="value[?role=='collaborator'].identityDescriptor",
        ),
        "<descriptor-of-the-build-service>",
    )
    publishers = [
        {"role": "contributor", "identityDescriptor": descriptor} for descriptor in readers.split()
    ]
    if publishers:
        runner.run(rest("patch", f"{permissions}?api-version=7.1", publishers))


def ensure_pipelines(runner: Runner, devops: AzureDevOps) -> dict[str, str]:
    """Return the id of each pipeline of PIPELINES whose YAML file this level has, created in
    PIPELINES_FOLDER if missing (without a first run: pushing to main starts CI)."""
    ids = {}
    folder = ["--folder-path", PIPELINES_FOLDER]
    for name, path in PIPELINES.items():
        if not (ROOT / path).is_file():
            continue
        found = runner.output(
            [*in_project(devops, "pipelines", "list", "--name", name), *folder, *tsv("[0].id")],
            "",
        )
        ids[name] = found or runner.output(
            [
                *in_project(devops, "pipelines", "create", "--name", name, *folder),
                *("--yaml-path", path, "--repository", devops.repository),
                *("--repository-type", "tfsgit", "--branch", "main", "--skip-first-run", "true"),
                *tsv("id"),
            ],
            f"<id of pipeline {name}>",
        )
    return ids


def ensure_build_policy(runner: Runner, devops: AzureDevOps, ci_id: str) -> None:
    """Pull requests to main run CI, and merge only when it passes (Azure Repos ignores a
    pipeline's `pr:` trigger: a branch policy is what runs it)."""
    repository_id = runner.output(
        [*in_project(devops, "repos", "show", "--repository", devops.repository), *tsv("id")],
        f"<id of repository {devops.repository}>",
    )
    query = "[?type.displayName=='Build'].settings.buildDefinitionId"
    on_main = ["--repository-id", repository_id, "--branch", "main"]
    listed = runner.output(
        [*in_project(devops, "repos", "policy", "list"), *on_main, *tsv(query)],
        "",
    )
    if ci_id in listed.split():
        return
    runner.run(
        [
            *in_project(devops, "repos", "policy", "build", "create"),
            *on_main,
            *("--build-definition-id", ci_id, "--display-name", "CI"),
            *("--blocking", "true", "--enabled", "true", "--manual-queue-only", "false"),
            *("--queue-on-source-update-only", "false", "--valid-duration", "0"),
        ]
    )


def ensure_variable_group(
    runner: Runner, devops: AzureDevOps, name: str, values: dict[str, str]
) -> str:
    """Return the id of the variable group `name` holding `values` (ids and names, never a
    secret), created if missing, its variables set otherwise."""
    group = ("pipelines", "variable-group")
    found = runner.output(
        [*in_project(devops, *group, "list", "--group-name", name), *tsv("[0].id")], ""
    )
    if not found:
        pairs = [f"{key}={value}" for key, value in values.items()]
        created = in_project(devops, *group, "create", "--name", name, "--variables", *pairs)
        return runner.output(
            [*created, *tsv("id")],
            f"<id of variable group {name}>",
        )
    listed = in_project(devops, *group, "variable", "list", "--group-id", found)
    present = runner.output([*listed, *tsv("keys(@)")], "").split()
    for key, value in values.items():
        verb = "update" if key in present else "create"
        variable = ["--group-id", found, "--name", key, "--value", value]
        runner.run(in_project(devops, *group, "variable", verb, *variable))
    return found


def authorize(
    runner: Runner, devops: AzureDevOps, kind: str, resource_id: str, pipeline_ids: Sequence[str]
) -> None:
    """Let these pipelines, and no others, use the resource (`kind`: endpoint, environment or
    variablegroup) without asking on their first run."""
    if not pipeline_ids:
        return
    url = devops.rest(f"pipelines/pipelinepermissions/{kind}/{resource_id}")
    body = {"pipelines": [{"id": _number(i), "authorized": True} for i in pipeline_ids]}
    runner.run(rest("patch", f"{url}?api-version=7.1-preview.1", body))


def ensure_service_connection(
    runner: Runner,
    devops: AzureDevOps,
    subscription_id: str,
    name: str,
    app_id: str,
    context: Context,
) -> str:
    """Return the id of the Azure Resource Manager service connection `name`: workload
    identity federation with the app (no secret), on the subscription, created if missing."""
    query = f"[?name=='{name}'].id | [0]"
    found = runner.output(
        [*in_project(devops, "devops", "service-endpoint", "list"), *tsv(query)], ""
    )
    if found:
        return found
    subscription_name = runner.output(
        ["az", "account", "show", "--subscription", subscription_id, *tsv("name")],
        "<subscription name>",
    )
    body = {
        "name": name,
        "type": "AzureRM",
        "url": "https://management.azure.com/",
        "description": f"Azure ML {name}, for .azure-pipelines/: workload identity federation",
        "data": {
            "environment": "AzureCloud",
            "scopeLevel": "Subscription",
            "subscriptionId": subscription_id,
            "subscriptionName": subscription_name,
            "creationMode": "Manual",
        },
        "authorization": {
            "scheme": "WorkloadIdentityFederation",
            "parameters": {"tenantid": context.tenant_id, "serviceprincipalid": app_id},
        },
        "isShared": False,
        "serviceEndpointProjectReferences": [
            {"projectReference": {"id": context.project_id, "name": devops.project}, "name": name}
        ],
    }
    url = f"{devops.url}/_apis/serviceendpoint/endpoints?api-version=7.1"
    return runner.output(rest("post", url, body, query="id"), f"<id of service connection {name}>")


def federation(
    runner: Runner, devops: AzureDevOps, connection_id: str, name: str
) -> dict[str, Any]:
    """The federated credential that lets the service connection, and nothing else, sign in as
    the app: issuer and subject as Azure DevOps reports them for this connection."""
    show = in_project(devops, "devops", "service-endpoint", "show", "--id", connection_id)
    issuer, subject = (
        runner.output(
            [*show, *tsv(f"authorization.parameters.workloadIdentityFederation{key}")],
            f"<{key.lower()} of {name}>",
        )
        for key in ("Issuer", "Subject")
    )
    if not (issuer and subject):
        raise CommandError(
            f"service connection {name} reports no workload identity federation issuer and"
            " subject: is it an Azure Resource Manager connection with workload identity"
            " federation? Delete it in Azure DevOps and run the bootstrap again."
        )
    return {
        "name": f"azure-devops-{name}",
        "issuer": issuer,
        "subject": subject,
        "description": f"Azure Pipelines jobs using service connection {name}",
        "audiences": [OIDC_AUDIENCE],
    }


def ensure_environment(runner: Runner, devops: AzureDevOps, name: str) -> str:
    """Return the id of the Azure DevOps environment `name` (where deployment jobs run and
    approvals wait), created if missing."""
    url = devops.rest("pipelines/environments")
    found = runner.output(
        rest("get", f"{url}?name={urllib.parse.quote(name)}&api-version=7.1", query="value[0].id"),
        "",
    )
    body = {"name": name, "description": f"Deployments of the release to {name}"}
    return found or runner.output(
        rest("post", f"{url}?api-version=7.1", body, query="id"), f"<id of environment {name}>"
    )


def ensure_approval(
    runner: Runner, devops: AzureDevOps, environment_id: str, name: str, approver_ids: Sequence[str]
) -> None:
    """Make every deployment to the environment wait until one of the approvers approves it
    (30 days at most), unless it already has an approval check."""
    url = devops.rest("pipelines/checks/configurations")
    listed = runner.output(
        rest(
            "get",
            f"{url}?resourceType=environment&resourceId={environment_id}&api-version=7.1-preview.1",
            query="value[?type.name=='Approval'].id | [0]",
        ),
        "",
    )
    if listed:
        return
    body = {
        "type": APPROVAL_CHECK,
        "settings": {
            "approvers": [{"id": approver} for approver in approver_ids],
            "executionOrder": "anyOrder",
            "minRequiredApprovers": 1,
            "requesterCannotBeApprover": False,
            "instructions": f"Deploys the model and image that passed the environment before {name}.",
            "blockedApprovers": [],
        },
        "resource": {"type": "environment", "id": environment_id, "name": name},
        "timeout": 43200,
    }
    runner.run(rest("post", f"{url}?api-version=7.1-preview.1", body))


def variables(environment: Environment, shared: Shared) -> dict[str, str]:
    """The variables of the environment's group that the pipelines read: names, never a
    secret (the service connection signs in)."""
    return {
{%- endif %}
        "AZURE_SUBSCRIPTION_ID": environment.subscription_id,
        "AZURE_RESOURCE_GROUP": environment.resource_group,
        "AZUREML_WORKSPACE": environment.workspace,
        "AZUREML_REGISTRY": shared.registry,
        "AZURE_CONTAINER_REGISTRY": environment.container_registry,
        "AZUREML_ONLINE_ENDPOINT": environment.online_endpoint,
        "AZUREML_BATCH_ENDPOINT": environment.batch_endpoint,
    }
{%- if cookiecutter.ci_platform == "github" %}


def set_variables(
    runner: Runner, repository: str, environment: str, values: dict[str, str]
) -> None:
    target = ["--env", environment, "--repo", repository]
    for name, value in values.items():
        runner.run(["gh", "variable", "set", name, *target, "--body", value])
{%- else %}


def previous_registry(config: Config, environment: Environment) -> dict[str, str]:
    """SOURCE_REGISTRY: the container registry of the environment before this one, where the
    release imports the image it tested from (none for the first environment)."""
    before = previous(config, environment)
    return {"SOURCE_REGISTRY": before.container_registry} if before else {}
{%- endif %}


if __name__ == "__main__":
    sys.exit(main())
