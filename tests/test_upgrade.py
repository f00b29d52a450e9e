"""Climbing a maturity level, and taking a template update, as a team does: after making the
project its own. Generated with plain cookiecutter from a git clone of the template, as the
README says; climbed with `make climb`, updated with `make update`.

Each step is timed and printed (`pytest -s` shows it).
"""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from baking import BIN, TEMPLATE, project_env, run, run_local_hooks

ANSWERS = ["project_name=Fraud Radar", "author_name=Ada Lovelace"]
PACKAGE = "fraud_radar"
GIT = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]

# What a data team does to a level-0 project before it climbs: its own data, model and code.
NEW_ROWS = (
    "Gentoo,Biscoe,48.2,15.1,221,5350,male,2009\n"
    "Adelie,Dream,37.9,18.4,190,3700,female,2008\n"
    "Chinstrap,Dream,49.8,18.9,199,3800,male,2009\n"
)
TEAM_TEST = f'''"""The team's own tests."""

import pandas as pd

from {PACKAGE}.core.settings import Settings
from {PACKAGE}.data.wrangle import body_mass_kg
from {PACKAGE}.training.model import describe


def test_body_mass_in_kilograms() -> None:
    assert body_mass_kg(pd.DataFrame({{"body_mass_g": [4200.0]}})).tolist() == [4.2]


def test_the_model_is_described() -> None:
    assert "trees" in describe(Settings())
'''
MODEL_FUNCTION = '''

def describe(settings: Settings) -> str:
    """One line for the team's reports."""
    return f"a balanced random forest of {settings.n_estimators} trees"
'''
DATA_FUNCTION = '''

def body_mass_kg(refined: pd.DataFrame) -> "pd.Series[float]":
    """The body mass in kilograms, for the team's reports."""
    return refined["body_mass_g"] / 1000
'''
README_PARAGRAPH = "Owned by the fraud team: ask in #fraud-radar before changing the gate.\n\n"
MAKE_TARGET = "\n.PHONY: report\nreport: ## The team's weekly report\n\t@echo report\n"


def step(title: str) -> None:
    print(f"\n--- {title}", flush=True)


def timed(command: list[str], cwd: Path) -> str:
    start = time.perf_counter()
    output = run(command, cwd=cwd, env=project_env())
    print(f"$ {' '.join(command)}  ({time.perf_counter() - start:.1f} s)\n{output}", flush=True)
    return output


def refused(command: list[str], cwd: Path) -> str:
    """Run a command that must fail, leaving the tree as it was; return its message."""
    before = git_state(cwd)
    done = subprocess.run(command, cwd=cwd, env=project_env(), capture_output=True, text=True)
    assert done.returncode != 0, f"{' '.join(command)} should have been refused"
    assert git_state(cwd) == before, "a refused command changed nothing"
    print(f"$ {' '.join(command)}  (refused)\n{done.stderr.strip()}", flush=True)
    return done.stdout + done.stderr


def git_state(cwd: Path) -> tuple[str, str, str]:
    status = run(["git", "status", "--porcelain"], cwd=cwd)
    head = run(["git", "rev-parse", "HEAD"], cwd=cwd)
    return status, head, (cwd / ".cruft.json").read_text()


def commit(cwd: Path, message: str) -> None:
    run([*GIT, "add", "-A"], cwd=cwd)
    run([*GIT, "commit", "-qm", message, "--no-verify"], cwd=cwd)


def tracked(project: Path) -> set[str]:
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=project)
    return {line for line in listed.splitlines() if (project / line).is_file()}


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """The template as a user's cookiecutter clones it: a git repository tagged v0.1.0, holding
    the template's files as they are now (uncommitted changes included)."""
    repo = tmp_path / "azure-mlops-template"
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=TEMPLATE)
    for name in listed.splitlines():
        if (TEMPLATE / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, repo / name)
    run([*GIT, "init", "-q", "-b", "main"], cwd=repo)
    commit(repo, "The template")
    run([*GIT, "tag", "v0.1.0"], cwd=repo)
    return repo


def generate(template: Path, where: Path, level: str, platform: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    command = [str(BIN / "cookiecutter"), "--no-input", "-o", str(where), str(template)]
    answers = [f"maturity_level={level}", f"ci_platform={platform}", *ANSWERS]
    run([*command, *answers], cwd=where)
    return where / "fraud-radar"


def make_it_our_own(project: Path) -> dict[str, str]:
    """The edits of a data team; returns the edited files' content by path."""
    source = project / "src" / PACKAGE
    model = source / "training" / "model.py"
    text = model.read_text()
    balanced = '        n_jobs=1,\n        class_weight="balanced",\n    )'
    assert "        n_jobs=1,\n    )" in text
    model.write_text(text.replace("        n_jobs=1,\n    )", balanced) + MODEL_FUNCTION)
    wrangle = source / "data" / "wrangle.py"
    wrangle.write_text(wrangle.read_text() + DATA_FUNCTION)
    raw = project / "data" / "raw" / "penguins.csv"
    raw.write_text(raw.read_text() + NEW_ROWS)
    (project / "tests" / "test_team.py").write_text(TEAM_TEST)
    readme = project / "README.md"
    first, rest = readme.read_text().split("\n\n", 1)
    readme.write_text(f"{first}\n\n{README_PARAGRAPH}{rest}")
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + MAKE_TARGET)
    timed(["uv", "add", "tabulate>=0.9"], cwd=project)
    conda = project / "azureml" / "conda.yml"  # the README: Azure ML jobs need it too
    conda.write_text(
        conda.read_text().replace("      - skops", "      - tabulate>=0.9\n      - skops")
    )
    edited = ["pyproject.toml", "uv.lock", "README.md", "Makefile", "data/raw/penguins.csv"]
    edited += ["azureml/conda.yml"]
    edited += [f"src/{PACKAGE}/training/model.py", f"src/{PACKAGE}/data/wrangle.py"]
    edited += ["tests/test_team.py"]
    return {name: (project / name).read_text() for name in edited}


# The CI platform answered when the project was generated at level 0: a climb brings its files.
PLATFORMS = ["github", "azure_devops"]
PLATFORM_CI = {"github": ".github/workflows/ci.yml", "azure_devops": ".azure-pipelines/ci.yml"}


@pytest.fixture
def our_project(template_repo: Path, tmp_path: Path, platform: str) -> tuple[Path, dict[str, str]]:
    """A level-0 project as a team has it before climbing: installed, edited, committed."""
    step(f"generate at level 0 (CI platform: {platform}), commit, install")
    project = generate(template_repo, tmp_path / "work", "0", platform)
    run([*GIT, "init", "-q", "-b", "main"], cwd=project)
    commit(project, "Generated at level 0")
    timed(["make", "install"], cwd=project)

    step("a tree with uncommitted work (here uv.lock, which `make install` wrote) is refused")
    message = refused(["make", "climb", "LEVEL=1"], cwd=project)
    assert "uv.lock" in message
    assert "git add -A && git commit" in message
    commit(project, "Lock the dependencies")

    step("the team makes the project its own")
    edited = make_it_our_own(project)
    commit(project, "Our data, our model, a dependency, a test, a report")
    return project, edited


def assert_fresh_render_plus_edits(
    project: Path, template: Path, level: str, edited: dict[str, str], tmp_path: Path
) -> None:
    """The tree is what a new project at `level` would be, with the team's edits on top."""
    state = json.loads((project / ".cruft.json").read_text())
    platform = state["context"]["cookiecutter"]["ci_platform"]
    where = tmp_path / f"fresh-{level}-{time.monotonic_ns()}"
    fresh = generate(template, where, level, platform)
    expected = {p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file()}
    assert tracked(project) == (expected | set(edited)), "no file lost, none left over"
    for name in sorted(expected | set(edited)):
        if name == ".cruft.json":
            continue
        want = edited.get(name) or (fresh / name).read_text()
        assert (project / name).read_text() == want, f"{name} differs"
    assert state["context"]["cookiecutter"]["maturity_level"] == level
    assert not list(project.rglob("*.rej"))


@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_team_climbs_from_0_to_1_to_2_keeping_every_edit(
    our_project: tuple[Path, dict[str, str]], template_repo: Path, tmp_path: Path, platform: str
) -> None:
    project, edited = our_project
    generated_from = json.loads((project / ".cruft.json").read_text())["commit"]

    step("climb to level 1")
    output = timed(["make", "climb", "LEVEL=1"], cwd=project)
    assert "Climbed from level 0 to 1 (automation)" in output
    assert f"added    {PLATFORM_CI[platform]}" in output
    others = set(PLATFORM_CI.values()) - {PLATFORM_CI[platform]}
    assert not [name for name in others if name in output], "only the chosen platform's files"
    assert "changed  .cruft.json" in output
    assert "<<<<<<<" not in output
    assert_fresh_render_plus_edits(project, template_repo, "1", edited, tmp_path)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == generated_from
    commit(project, "Climb to level 1")

    step("a climb down is refused")
    assert "only goes up" in refused(["make", "climb", "LEVEL=0"], cwd=project)

    step("climb to level 2, then the project's own gate")
    output = timed(["make", "climb", "LEVEL=2"], cwd=project)
    assert "Climbed from level 1 to 2 (monitoring)" in output
    assert_fresh_render_plus_edits(project, template_repo, "2", edited, tmp_path)
    commit(project, "Climb to level 2")
    timed(["make", "lint", "test"], cwd=project)
    run([".venv/bin/pre-commit", "validate-config"], cwd=project, env=project_env())
    run_local_hooks(project, project_env())


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["github"])
def test_a_team_climbs_from_0_to_2_then_takes_a_template_release(
    our_project: tuple[Path, dict[str, str]], template_repo: Path, tmp_path: Path
) -> None:
    project, edited = our_project

    step("climb from level 0 to 2 at once")
    output = timed(["make", "climb", "LEVEL=2"], cwd=project)
    assert "Climbed from level 0 to 2 (monitoring)" in output
    assert_fresh_render_plus_edits(project, template_repo, "2", edited, tmp_path)
    commit(project, "Climb to level 2")

    step("the template releases v0.2.0: a new file, and changes to files the team edited too")
    inner = template_repo / "{{cookiecutter.project_slug}}"
    (inner / ".editorconfig").write_text("root = true\n\n[*]\nend_of_line = lf\n")
    readme = inner / "README.md"
    readme.write_text(readme.read_text().rstrip("\n") + "\n\nSee CHANGELOG.md for changes.\n")
    makefile = inner / "Makefile"
    text = makefile.read_text()
    makefile.write_text(text.replace("# One task runner", "# The one task runner", 1))
    commit(template_repo, "v0.2.0")
    run([*GIT, "tag", "v0.2.0"], cwd=template_repo)
    release = run(["git", "rev-parse", "HEAD"], cwd=template_repo).strip()

    step("make update takes the latest release and keeps every edit")
    output = timed(["make", "update"], cwd=project)
    assert "to v0.2.0" in output
    assert "added    .editorconfig" in output
    assert "<<<<<<<" not in output
    readme_now = (project / "README.md").read_text()
    assert README_PARAGRAPH in readme_now, "the team's paragraph is kept"
    assert readme_now.rstrip().endswith("See CHANGELOG.md for changes."), "the template's too"
    makefile_now = (project / "Makefile").read_text()
    assert makefile_now.startswith("# The one task runner")
    assert makefile_now.endswith(MAKE_TARGET)
    for name in ("pyproject.toml", "data/raw/penguins.csv", "tests/test_team.py"):
        assert (project / name).read_text() == edited[name]
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["commit"], state["checkout"]) == (release, "v0.2.0")
    assert state["context"]["cookiecutter"]["maturity_level"] == "2"
    assert not list(project.rglob("*.rej"))
    commit(project, "Template v0.2.0")

    step("nothing more to take")
    assert "Already at the template's v0.2.0" in timed(["make", "update"], cwd=project)
