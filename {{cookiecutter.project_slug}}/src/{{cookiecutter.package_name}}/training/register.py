"""The quality gate and the registry: a model earns its version and its aliases.

Rules, in order:
1. The candidate must beat a naive baseline on the test set by `min_gain_over_baseline`
   (macro F1). If not, nothing is registered and no alias moves: the run says why.
2. Otherwise it is registered as a new version with the alias `challenger`.
3. It becomes `champion` only if it is not worse than the current champion scored on the same
   test set (within `champion_tolerance`); otherwise the champion stays where it was.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ..core.errors import UserError
from ..core.files import replaced_atomically
from ..core.settings import Settings
from ..core.tracking import configure_tracking, load_model
from ..data.prepare import read_curated
from .evaluate import PRIMARY_METRIC, baseline_score, score
from .train import Candidate

CHAMPION = "champion"
CHALLENGER = "challenger"
FLOAT_NOISE = 1e-9  # scores are ratios: 0.3 - 0.2 must count as a gain of 0.1


class GateFailedError(UserError):
    """The candidate did not clear the gate; the message says which rule and by how much."""


@dataclass(frozen=True)
class Verdict:
    """The gate's reading of three scores of the same metric on the same test set."""

    candidate: float
    baseline: float
    champion: float | None
    beats_baseline: bool
    beats_champion: bool

    def explain(self) -> str:
        """One sentence a person can act on."""
        parts = [f"{PRIMARY_METRIC} {self.candidate:.4f} vs baseline {self.baseline:.4f}"]
        if self.champion is not None:
            parts.append(f"vs champion {self.champion:.4f}")
        return ", ".join(parts)


def judge(candidate: float, baseline: float, champion: float | None, settings: Settings) -> Verdict:
    """Apply the gate's rules; pure, so that every edge case is tested without MLflow."""
    beats_baseline = candidate - baseline >= settings.min_gain_over_baseline - FLOAT_NOISE
    beats_champion = (
        champion is None or champion - candidate <= settings.champion_tolerance + FLOAT_NOISE
    )
    return Verdict(candidate, baseline, champion, beats_baseline, beats_baseline and beats_champion)


@dataclass(frozen=True)
class Registration:
    """What the registry looks like after the gate."""

    verdict: Verdict
    version: str
    champion_version: str | None

    def write(self, path: Path, model_name: str) -> None:
        """Record the outcome for a release workflow: it deploys the champion, new or not."""
        outcome = {
            "model_name": model_name,
            "registered_version": self.version,
            "champion_version": self.champion_version,
            "new_champion": self.champion_version == self.version,
            "verdict": self.verdict.explain(),
        }
        with replaced_atomically(path) as partial:
            partial.write_text(json.dumps(outcome, indent=2) + "\n")


def register(settings: Settings, curated_dir: Path, model_dir: Path) -> Registration:
    """Score the candidate, baseline and champion on one test set; register behind the gate."""
    candidate = Candidate.load(model_dir)
    train_df, test_df = read_curated(curated_dir)
    configure_tracking(settings)
    client = MlflowClient()

    champion_version = _alias_version(client, settings.model_name, CHAMPION)
    champion_score = None
    if champion_version is not None:
        champion = load_model(f"models:/{settings.model_name}@{CHAMPION}")
        champion_score = score(champion, test_df)[PRIMARY_METRIC]
    verdict = judge(
        score(load_model(candidate.model_uri), test_df)[PRIMARY_METRIC],
        baseline_score(train_df, test_df)[PRIMARY_METRIC],
        champion_score,
        settings,
    )
    client.set_tag(candidate.run_id, "gate.verdict", verdict.explain())
    client.set_tag(candidate.run_id, "gate.beats_baseline", str(verdict.beats_baseline).lower())
    if not verdict.beats_baseline:
        raise GateFailedError(
            f"the candidate does not beat the naive baseline by {settings.min_gain_over_baseline}"
            f" ({verdict.explain()}): not registered, no alias changed"
        )

    version = str(
        mlflow.register_model(
            candidate.model_uri,
            settings.model_name,
            tags={"run_id": candidate.run_id, "gate.verdict": verdict.explain()},
        ).version
    )
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version)
    if verdict.beats_champion:
        client.set_registered_model_alias(settings.model_name, CHAMPION, version)
        champion_version = version
    return Registration(verdict, version, champion_version)


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
