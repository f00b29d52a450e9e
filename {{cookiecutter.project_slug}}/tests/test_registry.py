"""The gate and the aliases: only a model that earns it moves `champion`."""

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.training.register import (
    CHALLENGER,
    CHAMPION,
    GateFailedError,
    Registration,
    judge,
    register,
)
from {{ cookiecutter.package_name }}.training.train import (
    train,
)

from .conftest import cli_env, run_prepare

PACKAGE = "{{ cookiecutter.package_name }}"


@pytest.mark.parametrize(
    ("candidate", "baseline", "champion", "beats_baseline", "beats_champion"),
    [
        (0.95, 0.20, None, True, True),  # first model: only the baseline to beat
        (0.25, 0.20, None, False, False),  # better than naive, but not by the margin
        (0.30, 0.20, None, True, True),  # exactly the margin is enough
        (0.90, 0.20, 0.95, True, False),  # worse than the champion
        (0.95, 0.20, 0.95, True, True),  # as good as the champion
        (0.10, 0.20, 0.05, False, False),  # below the baseline never wins, whatever the champion
    ],
)
def test_judge(
    settings: Settings,
    candidate: float,
    baseline: float,
    champion: float | None,
    beats_baseline: bool,
    beats_champion: bool,
) -> None:
    verdict = judge(candidate, baseline, champion, settings)
    assert (verdict.beats_baseline, verdict.beats_champion) == (beats_baseline, beats_champion)


def test_the_champion_tolerance_forgives_small_losses(settings: Settings) -> None:
    lenient = settings.model_copy(update={"champion_tolerance": 0.02})
    assert judge(0.94, 0.2, 0.95, lenient).beats_champion
    assert not judge(0.92, 0.2, 0.95, lenient).beats_champion


def aliases(settings: Settings) -> dict[str, str]:
    model = MlflowClient().get_registered_model(settings.model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


def test_aliases_follow_the_gate(
    prepared: Settings, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    train(prepared, prepared.curated_dir, tmp_path / "good")
    first = register(prepared, prepared.curated_dir, tmp_path / "good")
    assert (first.version, first.champion_version) == ("1", "1")
    assert aliases(prepared) == {CHAMPION: "1", CHALLENGER: "1"}

    # The champion's own model again (a retraining on unchanged code, data and parameters)
    # is not a new version, and moves nothing.
    again = register(prepared, prepared.curated_dir, tmp_path / "good")
    assert (again.version, again.champion_version) == (None, "1")

    weak = make_settings(n_estimators=1, max_depth=1, min_gain_over_baseline=0.0)
    train(weak, weak.curated_dir, tmp_path / "weak")
    second = register(weak, weak.curated_dir, tmp_path / "weak")
    assert not second.verdict.beats_champion
    assert aliases(prepared) == {CHAMPION: "1", CHALLENGER: "2"}

    strict = prepared.model_copy(update={"min_gain_over_baseline": 1.0})
    with pytest.raises(GateFailedError, match="does not beat the naive baseline"):
        register(strict, strict.curated_dir, tmp_path / "good")
    versions = MlflowClient().search_model_versions(f"name='{prepared.model_name}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"], "nothing more registered"
    assert aliases(prepared) == {CHAMPION: "1", CHALLENGER: "2"}, "no alias moved"


def test_two_trainings_at_once_on_a_new_store_both_succeed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Both find no MLflow store, and both would create its tables: one at a time."""
    fresh = tmp_path / "fresh" / "mlruns.db"
    fresh.parent.mkdir()
    settings = make_settings(tracking_uri=f"sqlite:///{fresh}")
    run_prepare(settings)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", PACKAGE, "train", "--model-dir", str(tmp_path / name)],
            env=cli_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("first", "second")
    ]
    for process in processes:
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, output
    client = MlflowClient(settings.tracking_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [run.info.status for run in runs] == ["FINISHED", "FINISHED"]


def test_a_registration_waits_while_another_holds_the_store(
    prepared: Settings, tmp_path: Path
) -> None:
    """Comparing with the champion and moving the alias is one step per process, so two
    registrations close together cannot both beat the same old champion."""
    train(prepared, prepared.curated_dir, tmp_path / "candidate")
    database = prepared.tracking_uri.removeprefix("sqlite:///")
    done: list[Registration] = []
    waiting = threading.Thread(
        target=lambda: done.append(register(prepared, prepared.curated_dir, tmp_path / "candidate"))
    )
    with FileLock(f"{database}.lock"):  # another process registering
        waiting.start()
        waiting.join(timeout=3)
        assert waiting.is_alive(), "it went ahead while the store was held"
        assert not MlflowClient().search_registered_models()
    waiting.join(timeout=60)
    assert done[0].champion_version == "1"
