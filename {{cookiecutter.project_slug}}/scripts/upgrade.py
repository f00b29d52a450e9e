"""Climb a maturity level, or take a newer release of the template, keeping every edit.

    python scripts/upgrade.py climb LEVEL      # `make climb LEVEL=2`
    python scripts/upgrade.py update [VERSION] # `make update`, `make update VERSION=v1.4.0`

Both run `cruft update` (.cruft.json records the template, its commit and the answers). A climb
renders the same template commit at the new level: since a level only adds files, the change is
a set of new files and .cruft.json. An update renders the newer commit with the same answers and
merges the difference into the project (git's three-way merge, as `git apply -3`).

Before anything, the git tree must be clean, so that the change is one reviewable diff and a
failure can be undone: if cruft fails, the tree is put back as it was. A conflict (the template
changed lines you changed too) is left marked in the file for you to resolve, and listed.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cruft import update as cruft_update

CRUFT_FILE = Path(".cruft.json")
LEVELS = {"0": "tracking", "1": "automation", "2": "monitoring"}
RELEASE_TAG = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
CONFLICT = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


class UpgradeError(Exception):
    """Nothing was changed; the message says why and what to do."""


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise UpgradeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def read_state() -> dict[str, Any]:
    if not CRUFT_FILE.is_file():
        raise UpgradeError(
            f"no {CRUFT_FILE} here: run this from the project root. A project generated before"
            " the template wrote one can be linked with `cruft link <template URL>`."
        )
    state: dict[str, Any] = json.loads(CRUFT_FILE.read_text(encoding="utf-8"))
    return state


def require_clean_tree() -> None:
    """Refuse to start on uncommitted work: the upgrade must be one diff that can be undone."""
    if git("rev-parse", "--is-inside-work-tree").strip() != "true":
        raise UpgradeError("this is not a git repository: `git init`, then commit the project")
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()]
    if dirty:
        hint = ""
        if "uv.lock" in dirty:
            hint = " (uv.lock is written by `make install`: commit it, every machine then gets the same versions)"
        raise UpgradeError(
            f"the git tree has uncommitted changes: {', '.join(dirty)}{hint}. Commit them"
            " (`git add -A && git commit`) or stash them (`git stash -u`), then run this again."
        )


def undo() -> None:
    """Put the tree back as it was: it was clean, so HEAD is exactly what it held."""
    git("reset", "--quiet", "--hard", "HEAD")
    git("clean", "--quiet", "-fd")


def latest_release(template: str) -> str | None:
    """The highest vX.Y.Z tag of the template, or None (its default branch) when it has none."""
    tags = git("ls-remote", "--tags", "--refs", template).split()
    versions = [
        (tuple(map(int, match.groups())), match.group(0))
        for ref in tags
        if (match := RELEASE_TAG.fullmatch(ref.removeprefix("refs/tags/")))
    ]
    return max(versions)[1] if versions else None


def run_cruft(checkout: str | None, extra_context: dict[str, str] | None = None) -> None:
    """cruft update; any failure undoes whatever it had written."""
    try:
        applied = cruft_update(
            Path("."), checkout=checkout, extra_context=extra_context, skip_apply_ask=True
        )
    except Exception as err:  # cruft's, git's or the template's hooks' own errors
        undo()
        raise UpgradeError(f"cruft update failed, nothing was changed: {err}") from err
    if not applied:
        undo()
        raise UpgradeError("cruft update did not apply the change; nothing was changed")


def report(title: str) -> int:
    """List what changed, and the conflicts with how to resolve them; 1 when there are some."""
    changes = git("status", "--porcelain", "--untracked-files=all").splitlines()
    # The two status letters: ?? new and untracked, A new and staged (git apply -3), D deleted.
    added = sorted(line[3:] for line in changes if "?" in line[:2] or "A" in line[:2])
    deleted = sorted(line[3:] for line in changes if "D" in line[:2])
    changed = sorted(line[3:] for line in changes if line[3:] not in {*added, *deleted})
    conflicts = sorted(
        path
        for path in added + changed
        if path.endswith(".rej")
        or (Path(path).is_file() and CONFLICT.search(Path(path).read_text(errors="ignore")))
    )
    print(title)
    for label, paths in (("added", added), ("changed", changed), ("deleted", deleted)):
        for path in paths:
            print(f"  {label:<8} {path}")
    if not changes:
        print("  nothing to change")
    if conflicts:
        print(
            "\nThe template changed lines that you changed too, in:\n"
            + "".join(f"  {path}\n" for path in conflicts)
            + "Each holds both versions between <<<<<<< and >>>>>>> lines (a .rej file holds a"
            " change that could not be placed: apply it by hand, then delete it). Edit them to"
            " what you want, then `git add -A && git commit`. To abandon the whole upgrade:"
            " `git reset --hard && git clean -fd`."
        )
        return 1
    if changes:
        print("\nReview with `git status` and `git diff`, then `git add -A && git commit`.")
    return 0


def climb(level: str) -> int:
    state = read_state()
    answers = state["context"]["cookiecutter"]
    current = answers["maturity_level"]
    if level not in LEVELS:
        raise UpgradeError(f"LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    if level == current:
        raise UpgradeError(
            f"the project is already at level {level}; `make update` takes template changes"
        )
    if int(level) < int(current):
        raise UpgradeError(
            f"the project is at level {current}; a climb only goes up, since levels only add"
            " files. To do without a level's parts, delete their files (README, Maturity levels)."
        )
    require_clean_tree()
    # The same template commit, at the new level: the change is the level's files only.
    run_cruft(state["commit"], {"maturity_level": level})
    _keep_checkout(state.get("checkout"))
    return report(f"Climbed from level {current} to {level} ({LEVELS[level]}):")


def update(version: str | None) -> int:
    state = read_state()
    require_clean_tree()
    target = version or latest_release(state["template"])
    run_cruft(target)
    after = read_state()["commit"]
    if after == state["commit"]:
        print(f"Already at the template's {target or 'latest commit'} ({after[:12]}).")
        return 0
    _keep_checkout(target)
    return report(f"Updated the template from {state['commit'][:12]} to {target or after[:12]}:")


def _keep_checkout(checkout: str | None) -> None:
    """Record the release (or branch) the project follows, not a bare commit."""
    state = read_state()
    if state.get("checkout") != checkout:
        state["checkout"] = checkout
        CRUFT_FILE.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="upgrade.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    climb_parser = commands.add_parser("climb", help="add the files of a higher maturity level")
    climb_parser.add_argument("level", nargs="?", default="", help="the level to climb to")
    update_parser = commands.add_parser("update", help="take a newer release of the template")
    update_parser.add_argument("version", nargs="?", help="a tag or branch (default: latest)")
    args = parser.parse_args(argv)
    try:
        if args.command == "climb":
            return climb(args.level)
        return update(args.version)
    except UpgradeError as err:
        print(f"✗ {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
