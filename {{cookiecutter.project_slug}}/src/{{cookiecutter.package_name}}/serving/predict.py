"""Predictions with class probabilities, from the model a URI names."""

import pandas as pd
from sklearn.pipeline import Pipeline

from ..data.ingest import validate
from ..data.schemas import FEATURES, Features


def predict(model: Pipeline, records: pd.DataFrame) -> pd.DataFrame:
    """One row per record: the predicted class and the probability of each class.

    Records are held to the same schema as training data, so a typo fails loudly here rather
    than becoming a silent missing value inside the model.
    """
    features = validate(records[[c for c in records.columns if c in FEATURES]], Features, "input")
    proba = model.predict_proba(features)
    result = pd.DataFrame(
        proba, columns=[f"proba_{c}" for c in model.classes_], index=records.index
    )
    result.insert(0, "prediction", model.classes_[proba.argmax(axis=1)])
    return result
