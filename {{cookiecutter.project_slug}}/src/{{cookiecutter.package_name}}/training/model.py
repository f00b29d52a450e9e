"""The model: one scikit-learn Pipeline, preprocessing included, so it serves raw features."""

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..core.schemas import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from ..core.settings import Settings


def build_model(settings: Settings) -> Pipeline:
    """Impute, scale and encode, then a random forest.

    The scaler does nothing for trees; it is there so that a linear model can be swapped in by
    changing the last step only.
    """
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", numeric, list(NUMERIC_FEATURES)),
            ("categorical", categorical, list(CATEGORICAL_FEATURES)),
        ]
    )
    classifier = RandomForestClassifier(
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        min_samples_leaf=settings.min_samples_leaf,
        random_state=settings.seed,
        n_jobs=1,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def model_params(settings: Settings) -> dict[str, object]:
    """The parameters that define a training run, as logged to MLflow."""
    return {
        "model": "RandomForestClassifier",
        "n_estimators": settings.n_estimators,
        "max_depth": settings.max_depth,
        "min_samples_leaf": settings.min_samples_leaf,
        "seed": settings.seed,
        "test_size": settings.test_size,
    }
