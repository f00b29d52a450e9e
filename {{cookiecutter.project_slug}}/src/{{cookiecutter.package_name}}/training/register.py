"""The quality gate and the registry: a model earns its version and its aliases.

Rules, in order:
1. The candidate must beat a naive baseline on the test set by `min_gain_over_baseline`
   (macro F1). If not, nothing is registered and no alias moves: the run says why.
2. Otherwise it is registered as a new version with the alias `challenger`.
3. It becomes `champion` only if it is not worse than the current champion scored on the same
   test set (within `champion_tolerance`); otherwise the champion stays where it was.
A candidate that answers exactly as the champion on the test set (a retraining on unchanged code,
data and parameters) is not registered at all: a new version of the same model is noise. On the
local store, registrations run one at a time (`tracking.exclusive`), so the champion compared
with is the one the alias still points to when it moves.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline

from ..core.errors import UserError
from ..core.files import replaced_atomically
from ..core.schemas import FEATURES
from ..core.settings import Settings
from ..core.tracking import configure_tracking, exclusive, load_model
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
    """What the registry looks like after the gate; `version` is None when the candidate was
    not registered because the champion already is that model."""

    verdict: Verdict
    version: str | None
    champion_version: str | None

    def write(self, path: Path, model_name: str) -> None:
        """Record the outcome for a release workflow: it deploys the champion, new or not."""
        outcome = {
            "model_name": model_name,
            "registered_version": self.version,
            "champion_version": self.champion_version,
            "new_champion": self.version is not None and self.champion_version == self.version,
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
    model = load_model(candidate.model_uri)
    candidate_score = score(model, test_df)[PRIMARY_METRIC]
    baseline = baseline_score(train_df, test_df)[PRIMARY_METRIC]

    with exclusive():  # from reading the champion to moving the alias: one process at a time
        champion_version = _alias_version(client, settings.model_name, CHAMPION)
        champion = None
        if champion_version is not None:
            champion = load_model(f"models:/{settings.model_name}@{CHAMPION}")
        champion_score = None if champion is None else score(champion, test_df)[PRIMARY_METRIC]
        verdict = judge(candidate_score, baseline, champion_score, settings)
        client.set_tag(candidate.run_id, "gate.verdict", verdict.explain())
        client.set_tag(candidate.run_id, "gate.beats_baseline", str(verdict.beats_baseline).lower())
        if not verdict.beats_baseline:
            raise GateFailedError(
                f"the candidate does not beat the naive baseline by"
                f" {settings.min_gain_over_baseline} ({verdict.explain()}): not registered,"
                " no alias changed"
            )
        if champion is not None and _same_answers(model, champion, test_df):
            client.set_tag(candidate.run_id, "gate.same_as_champion", champion_version)
            return Registration(verdict, None, champion_version)

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


def _same_answers(model: Pipeline, champion: Pipeline, test: pd.DataFrame) -> bool:
    """Whether two models give the same probabilities on every row of the test set."""
    x = test[list(FEATURES)]
    return bool(np.array_equal(model.predict_proba(x), champion.predict_proba(x)))


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
