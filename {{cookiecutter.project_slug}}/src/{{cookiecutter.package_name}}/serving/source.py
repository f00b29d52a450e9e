"""Where the served model comes from: a folder, the MLflow registry, or Azure ML's mount."""

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..core.errors import UserError
from ..core.settings import ServingSettings, Settings

tracking: ModuleType | None
try:
    from ..core import tracking
except ImportError:  # no MLflow (the `train` extra): the serving image is given model folders
    tracking = None


class ModelNotFoundError(UserError):
    """No model could be located; the message says what to set."""


@dataclass(frozen=True)
class ModelSource:
    """A local MLflow model folder and the version to report for it."""

    folder: Path
    version: str


def locate_model(settings: ServingSettings) -> ModelSource:
    """MODEL_URI first (a folder, or a registry URI resolved with MLflow), then Azure ML's mount."""
    if settings.model_uri:
        path = Path(settings.model_uri.removeprefix("file://"))
        if path.exists():
            folder = _mlmodel_folder(path)
            return ModelSource(folder, _registered_version(folder) or path.resolve().name)
        return _from_registry(settings.model_uri)
    if settings.azureml_model_dir:
        # Azure ML mounts the model at .../azureml-models/<name>/<version>.
        root = settings.azureml_model_dir
        folder = _mlmodel_folder(root)
        return ModelSource(folder, _registered_version(folder) or root.name)
    raise ModelNotFoundError(
        "no model to serve: set MODEL_URI to a model folder or to models:/<name>@champion"
    )


def _mlmodel_folder(root: Path) -> Path:
    """The folder holding the MLmodel file: `root` itself, or the one Azure ML nests inside."""
    found = sorted(root.rglob("MLmodel"), key=lambda p: len(p.parts))
    if not found:
        raise ModelNotFoundError(f"no MLflow model (an MLmodel file) under {root}")
    return found[0].parent


def _registered_version(folder: Path) -> str | None:
    """The version MLflow wrote into a registered model's folder (`registered_model_meta`)."""
    meta = folder / "registered_model_meta"
    if not meta.is_file():
        return None
    fields = dict(line.partition(": ")[::2] for line in meta.read_text().splitlines())
    version = fields.get("model_version", "").strip().strip("'\"")  # YAML: 1, '1' or null
    return None if version in {"", "null"} else version


def _from_registry(uri: str) -> ModelSource:
    if tracking is None:
        raise ModelNotFoundError(
            f"MODEL_URI={uri} is not a folder, and resolving it needs MLflow (the `train` extra);"
            " in the image, mount the model folder and point MODEL_URI at it"
        )
    tracking.use_tracking_store(Settings())
    try:
        folder = _mlmodel_folder(tracking.download_model(uri))
    except tracking.MlflowException as err:
        raise ModelNotFoundError(f"MODEL_URI={uri}: {tracking.describe(err)}") from None
    return ModelSource(folder, _registered_version(folder) or uri)
