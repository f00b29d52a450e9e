"""Helpers of the template's tests: run commands as a user would, in a baked project."""

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import yaml

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the template's venv: ruff, uv, cookiecutter
RUFF = BIN / "ruff"

Bake = Callable[..., Path]  # the `bake` fixtures: answers in, the project's folder out


def load_hook(name: str) -> ModuleType:
    """Import a hook, unrendered, by file path: hooks/ is not a package."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE / "hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files_of(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `command`, failing the test with its output if it fails."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def check(command: list[str], cwd: Path) -> None:
    """Run a checker of the template's venv (actionlint, zizmor, check-jsonschema, shellcheck:
    wheels that bundle the binaries) with only that venv and the system on PATH."""
    run(command, cwd=cwd, env={"PATH": f"{BIN}:/usr/bin:/bin"})


def bootstrap_dry_run(project: Path) -> str:
    """The commands `make bootstrap` would run: it reads infra/environments.toml, runs nothing."""
    return run([sys.executable, "scripts/bootstrap.py", "--dry-run"], cwd=project)


def project_env() -> dict[str, str]:
    """A user's shell: not inside the template's venv or its `make test` (uv's cache is shared)."""
    outer = {"VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    env = {k: v for k, v in os.environ.items() if k not in outer}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    # uv on PATH, as on most developer machines (the template's venv has it).
    env["PATH"] = f"{RUFF.parent}{os.pathsep}{env['PATH']}"
    return env


def run_local_hooks(project: Path, env: dict[str, str]) -> None:
    """Run the project's own workflow hooks, as `git commit` would: they install from PyPI.

    pre-commit clones every repository of a config before it runs any hook, and GitHub is out
    of reach here, so the `local` hooks run from a copy of the config that holds only them.
    """
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    local = [repo for repo in config["repos"] if repo["repo"] == "local"]
    hooks = {hook["id"] for repo in local for hook in repo["hooks"]}
    assert {"actionlint", "zizmor", "check-github-workflows", "check-dependabot"} <= hooks
    only_local = project.parent / "pre-commit-local.yaml"
    only_local.write_text(yaml.safe_dump({**config, "repos": local}))
    run(["git", "init", "-q"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    command = [".venv/bin/pre-commit", "run", "--config", str(only_local), "--all-files"]
    output = run(command, cwd=project, env=env)
    results = [line for line in output.splitlines() if line.endswith(("Passed", "Skipped"))]
    assert len(results) == len(hooks), output
    # An Azure DevOps project has no GitHub files: the hooks for them have nothing to check.
    github_only = [
        hook
        for repo in local
        for hook in repo["hooks"]
        if hook.get("files", "").startswith("^\\.github/")
    ]
    skipped = [line for line in results if line.endswith("Skipped")]
    assert all("(no files to check)" in line for line in skipped), output
    assert len(skipped) == (0 if (project / ".github").is_dir() else len(github_only)), output


# The phases of scripts/release/deploy.sh, in the order each CI platform must run them: the
# smoke test before any traffic moves, the rollback after the steps it undoes.
DEPLOY_ORDER = [
    "prepare",
    "import-image",
    "endpoint",
    "create",
    "smoke",
    "canary",
    "traffic",
    "cleanup",
    "rollback",
    "monitor",
    "batch",
]
