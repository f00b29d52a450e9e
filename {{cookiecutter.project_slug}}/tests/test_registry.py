"""The gate and the aliases: only a model that earns it moves `champion`."""

from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.core.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.training.register import (
    CHALLENGER,
    CHAMPION,
    GateFailedError,
    judge,
    register,
)
from {{ cookiecutter.package_name }}.training.train import (
    train,
)


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

    weak = make_settings(n_estimators=1, max_depth=1, min_gain_over_baseline=0.0)
    train(weak, weak.curated_dir, tmp_path / "weak")
    second = register(weak, weak.curated_dir, tmp_path / "weak")
    assert not second.verdict.beats_champion
    assert aliases(prepared) == {CHAMPION: "1", CHALLENGER: "2"}

    # The same model again ties the champion: as good is good enough to take over.
    third = register(prepared, prepared.curated_dir, tmp_path / "good")
    assert third.champion_version == "3"
    assert aliases(prepared) == {CHAMPION: "3", CHALLENGER: "3"}

    strict = prepared.model_copy(update={"min_gain_over_baseline": 1.0})
    with pytest.raises(GateFailedError, match="does not beat the naive baseline"):
        register(strict, strict.curated_dir, tmp_path / "good")
    versions = MlflowClient().search_model_versions(f"name='{prepared.model_name}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2", "3"], "nothing registered"
    assert aliases(prepared) == {CHAMPION: "3", CHALLENGER: "3"}, "no alias moved"
