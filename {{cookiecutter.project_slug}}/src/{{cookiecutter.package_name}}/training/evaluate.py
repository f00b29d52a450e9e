"""Evaluation on the held-out test set: the metrics the gate reads, and plots for people."""

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # no display in CI or on a compute cluster

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from sklearn.dummy import DummyClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    accuracy_score,
    f1_score,
    log_loss,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from ..core.schemas import FEATURES, TARGET

PRIMARY_METRIC = "f1_macro"


@dataclass
class Evaluation:
    """Metrics by name, figures by file name."""

    metrics: dict[str, float]
    figures: dict[str, Figure] = field(default_factory=dict)


def score(model: Pipeline | DummyClassifier, test: pd.DataFrame) -> dict[str, float]:
    """Classification metrics of `model` on `test`; `f1_macro` is the one the gate reads."""
    x, y = test[list(FEATURES)], test[TARGET]
    proba = model.predict_proba(x)
    predicted = model.classes_[proba.argmax(axis=1)]
    return {
        "accuracy": accuracy_score(y, predicted),
        PRIMARY_METRIC: f1_score(y, predicted, average="macro"),
        "log_loss": log_loss(y, proba, labels=model.classes_),
        "roc_auc_ovr": roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_),
    }


def baseline_score(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """A naive model that always predicts the most frequent class: the bar to beat."""
    naive = DummyClassifier(strategy="prior").fit(train[list(FEATURES)], train[TARGET])
    return score(naive, test)


def evaluate(model: Pipeline, test: pd.DataFrame, seed: int, repeats: int = 5) -> Evaluation:
    """Metrics plus a confusion matrix, precision-recall curves and feature importance."""
    x, y = test[list(FEATURES)], test[TARGET]
    evaluation = Evaluation(metrics=score(model, test))

    display = ConfusionMatrixDisplay.from_estimator(model, x, y, colorbar=False)
    display.ax_.set_title("Confusion matrix (test set)")
    evaluation.figures["confusion_matrix.png"] = display.figure_

    fig, ax = plt.subplots(figsize=(6, 5))
    proba = model.predict_proba(x)
    for i, label in enumerate(model.classes_):
        PrecisionRecallDisplay.from_predictions(y == label, proba[:, i], name=str(label), ax=ax)
    ax.set_title("Precision-recall, one class vs the rest")
    evaluation.figures["precision_recall.png"] = fig

    importance = permutation_importance(
        model, x, y, scoring="f1_macro", n_repeats=repeats, random_state=seed, n_jobs=1
    )
    ranked = pd.DataFrame(
        {"mean": importance.importances_mean, "std": importance.importances_std},
        index=x.columns,
    ).sort_values("mean")
    fig, ax = plt.subplots(figsize=(6, 4))
    ranked["mean"].plot.barh(ax=ax, xerr=ranked["std"])
    ax.set_xlabel("drop in macro F1 when the feature is shuffled")
    ax.set_title("Permutation feature importance (test set)")
    fig.tight_layout()
    evaluation.figures["feature_importance.png"] = fig
    evaluation.metrics |= {f"importance_{name}": float(v) for name, v in ranked["mean"].items()}
    return evaluation
