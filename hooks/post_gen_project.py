"""Prune what the chosen maturity level does not need from the generated project.

Cookiecutter renders this file with Jinja and runs it inside the generated project. It only
deletes paths listed below, so update tools can re-run it safely: no git, installs or network.
"""

import shutil
from pathlib import Path

# Paths (files or folders) that exist only from this level upwards; `{package}` is the import
# name. Later levels add their files here. Paths that do not exist are skipped, so re-running
# after an update is safe.
LEVEL_PATHS: dict[int, tuple[str, ...]] = {
    1: (
        ".github",
        "infra",
        "azureml/deploy",
        "scripts/bootstrap.py",
        "src/{package}/serving/azureml_batch.py",
        "tests/test_bootstrap.py",
        "tests/test_release.py",
    ),
    2: (
        ".github/workflows/drift.yml",
        "src/{package}/monitoring",
        "azureml/monitoring",
        "tests/test_collection.py",
        "tests/test_monitoring.py",
        "tests/test_feedback_loop.py",
    ),
}


def paths_to_prune(level: int, package: str) -> list[str]:
    """Return the relative paths that belong to levels above `level`."""
    return [
        path.format(package=package)
        for path_level, paths in sorted(LEVEL_PATHS.items())
        if path_level > level
        for path in paths
    ]


def prune(root: Path, level: int, package: str) -> list[Path]:
    """Delete the paths above `level` that exist under `root` and return them."""
    removed = []
    for relative in paths_to_prune(level, package):
        path = root / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


def main() -> None:
    prune(Path.cwd(), int("{{ cookiecutter.maturity_level }}"), "{{ cookiecutter.package_name }}")


if __name__ == "__main__":
    main()
