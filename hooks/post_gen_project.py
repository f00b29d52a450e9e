"""Finish the generated project: prune what the chosen level and CI platform do not need, and
link the project to its template in .cruft.json.

Cookiecutter renders this file with Jinja and runs it inside the generated project. It deletes
only the paths listed below and writes only .cruft.json, so update tools can re-run it safely:
no installs, no network, no git other than reading the template's commit.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# The whole context as one JSON literal (escaped by jsonify), as in the pre-gen hook.
RENDERED_CONTEXT = r"""{{ cookiecutter | jsonify }}"""

# Paths (files or folders) that exist only from this level upwards; `{package}` is the import
# name. A level only adds files: nothing a lower level has is different at a higher one (the
# template's tests check it). Paths that do not exist are skipped, so re-running is safe.
LEVEL_PATHS: dict[int, tuple[str, ...]] = {
    1: (
        ".azure-pipelines",
        ".github",
        "azureml/deploy",
        "docs/automation.md",
        "infra",
        "make/automation.mk",
        "scripts/bootstrap.py",
        "scripts/release",
        "src/{package}/serving/azureml_batch.py",
        "tests/test_bootstrap.py",
        "tests/test_release.py",
    ),
    2: (
        ".azure-pipelines/drift.yml",
        ".github/workflows/drift.yml",
        "azureml/monitoring",
        "docs/monitoring.md",
        "infra/monitoring.toml",
        "make/monitoring.mk",
        "scripts/drift_bench.py",
        "scripts/release/drift.sh",
        "src/{package}/monitoring",
        "tests/test_collector.py",
        "tests/test_feedback_loop.py",
        "tests/test_monitoring.py",
    ),
}
# Folders that hold only higher levels' files: removed when pruning leaves them empty.
LEVEL_FOLDERS = ("docs", "make")
# Each CI platform's files (from level 1 upwards, so in LEVEL_PATHS too): those of the platforms
# not chosen are never generated.
PLATFORM_PATHS: dict[str, tuple[str, ...]] = {
    "github": (".github",),
    "azure_devops": (".azure-pipelines",),
}

CRUFT_FILE = ".cruft.json"
# Where the template was rendered on this machine: not answers, and meaningless elsewhere.
MACHINE_SPECIFIC = ("_output_dir", "_repo_dir", "_checkout", "__prompts__")
ABBREVIATIONS = {
    "gh": "https://github.com/{0}.git",
    "gl": "https://gitlab.com/{0}.git",
    "bb": "https://bitbucket.org/{0}",
}


def paths_to_prune(level: int, package: str, platform: str) -> list[str]:
    """Return the relative paths that belong to levels above `level`, then those of the CI
    platforms other than `platform`."""
    above = [
        path.format(package=package)
        for path_level, paths in sorted(LEVEL_PATHS.items())
        if path_level > level
        for path in paths
    ]
    others = [path for name, paths in PLATFORM_PATHS.items() if name != platform for path in paths]
    return above + others


def prune(root: Path, level: int, package: str, platform: str) -> list[Path]:
    """Delete the paths above `level` and of other CI platforms that exist under `root` and
    return them."""
    removed = []
    for relative in paths_to_prune(level, package, platform):
        path = root / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(path)
    for folder in LEVEL_FOLDERS:
        if (root / folder).is_dir() and not any((root / folder).iterdir()):
            (root / folder).rmdir()
    return removed


def launch_folder() -> str | None:
    """The folder cookiecutter was started in, which a relative template path is relative to:
    this hook runs inside the project. Linux shows the parent process's folder; elsewhere,
    the shell's $PWD is the best guess."""
    try:
        return os.readlink(f"/proc/{os.getppid()}/cwd")
    except OSError:
        return os.environ.get("PWD")


def template_location(template: str, repo_dir: str) -> str:
    """Where cruft can find the template again: an abbreviation expanded (gh:org/name), a URL
    as given, a local folder as an absolute path."""
    prefix, colon, rest = template.partition(":")
    if colon and prefix in ABBREVIATIONS:
        return ABBREVIATIONS[prefix].format(rest)
    if "://" in template or template.startswith("git@"):
        return template
    return str(Path(repo_dir).resolve())


def template_commit(repo_dir: str) -> str | None:
    """The commit the template was rendered from, or None when it is not a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", repo_dir, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def cruft_state(context: dict[str, Any], launched_from: str | None) -> dict[str, Any] | None:
    """What `cruft create` records, for a project that plain cookiecutter generated; None when
    cruft itself is rendering (it adds `_commit`, and writes .cruft.json itself)."""
    if "_commit" in context:
        return None
    repo_dir = context.get("_repo_dir") or "."
    if not Path(repo_dir).is_absolute() and launched_from:
        repo_dir = str(Path(launched_from) / repo_dir)
    template = template_location(context["_template"], repo_dir)
    commit = template_commit(repo_dir)
    answers = {k: v for k, v in context.items() if k not in MACHINE_SPECIFIC}
    answers |= {"_template": template, "_commit": commit}
    return {
        "template": template,
        "commit": commit,
        "checkout": context.get("_checkout"),
        "context": {"cookiecutter": answers},
        "directory": None,
    }


def link_to_template(root: Path, context: dict[str, Any]) -> None:
    state = cruft_state(context, launch_folder())
    if state is None:
        return
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    (root / CRUFT_FILE).write_text(text, encoding="utf-8")
    if state["commit"] is None:
        print(
            f"warning: the template at {state['template']} is not a git checkout, so"
            f" {CRUFT_FILE} records no commit: `make climb` and `make update` need one"
            " (generate from the template's git URL).",
            file=sys.stderr,
        )


def forget_rendered_copy() -> None:
    """Cookiecutter runs this hook from a rendered copy in the temporary folder and leaves it
    there, every answer inside: delete it. (The template's own file is never in that folder.)"""
    path = Path(__file__).resolve()
    if path.parent == Path(tempfile.gettempdir()).resolve():
        path.unlink(missing_ok=True)


def main() -> None:
    forget_rendered_copy()
    context = json.loads(RENDERED_CONTEXT)
    root = Path.cwd()
    level, platform = int(context["maturity_level"]), context["ci_platform"]
    prune(root, level, context["package_name"], platform)
    link_to_template(root, context)


if __name__ == "__main__":
    main()
