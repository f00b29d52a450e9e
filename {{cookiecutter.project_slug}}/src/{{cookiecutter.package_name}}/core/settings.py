"""Typed settings of the pipeline and of serving, each overridable from the environment.

`Settings` drives data preparation, training and the quality gate; `ServingSettings` the API and
batch scoring. The model itself is in training/model.py, the data contract in core/schemas.py.
Each field of `Settings` can be set with an environment variable named `{{ cookiecutter.package_name | upper }}_<FIELD>`
(for example `{{ cookiecutter.package_name | upper }}_TEST_SIZE=0.3`). Paths are relative to the working
directory, which is the project root for `make` targets and the code folder in Azure ML jobs.
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Fraction = Annotated[float, Field(gt=0, lt=1)]


class Settings(BaseSettings):
    """Settings of the data, training and registry steps."""

    model_config = SettingsConfigDict(
        env_prefix="{{ cookiecutter.package_name | upper }}_",
        extra="forbid",
        frozen=True,
    )

    raw_dir: Path = Path("data/raw")
    refined_dir: Path = Path("data/refined")
    curated_dir: Path = Path("data/curated")

    # The embedded default. Inside an Azure ML job, MLFLOW_TRACKING_URI is set by the platform
    # and always wins (see tracking.configure_tracking).
    tracking_uri: str = "sqlite:///mlruns.db"
    experiment_name: str = "{{ cookiecutter.project_slug }}"
    model_name: str = "{{ cookiecutter.__model_name }}"

    seed: int = 42
    test_size: Fraction = 0.2
    n_estimators: int = Field(default=200, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=1, ge=1)
    # Permutation feature importance: each repeat scores the test set once per feature.
    importance_repeats: int = Field(default=5, ge=1)

    # The quality gate: the macro F1 score on the test set must beat the naive baseline by this
    # margin, and may not fall below the current champion's by more than the tolerance.
    min_gain_over_baseline: float = Field(default=0.1, ge=0)
    champion_tolerance: float = Field(default=0.0, ge=0)


class ServingSettings(BaseSettings):
    """Settings of the scoring API and batch scoring.

    MODEL_URI and AZUREML_MODEL_DIR keep their conventional names (MLflow's and Azure ML's); the
    others read `SERVING_<FIELD>`, for example `SERVING_PORT=8080` or `SERVING_WORKERS=2`.
    """

    model_config = SettingsConfigDict(
        env_prefix="SERVING_",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    # A folder (the image), `models:/<name>@champion` (needs the `train` extra, for MLflow), or
    # unset inside Azure ML, which mounts the model under AZUREML_MODEL_DIR.
    model_uri: str | None = Field(default=None, validation_alias="MODEL_URI")
    azureml_model_dir: Path | None = Field(default=None, validation_alias="AZUREML_MODEL_DIR")
    host: str = "127.0.0.1"  # this machine only; the image sets SERVING_HOST=0.0.0.0
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_records: int = Field(default=10_000, ge=1)
    request_timeout: float = Field(default=10.0, gt=0)  # seconds to send a request, body included
    batch_rows: int = Field(default=65_536, ge=1)
