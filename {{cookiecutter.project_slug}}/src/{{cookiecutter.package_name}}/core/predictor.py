"""The served model: ONNX Runtime on the exported pipeline, the native pipeline as fallback.

Training exports the pipeline to ONNX and proves that it predicts like the pipeline itself
(`training/export.py`); `model.onnx` then travels inside the MLflow model folder, and this module
serves it with ONNX Runtime and numpy only: no pandas, scikit-learn or MLflow in the serving
image, and microseconds instead of milliseconds per record. A model logged without `model.onnx`
(a step that cannot convert, or failed parity) is served by the native pipeline, loaded from
the same folder, with a warning: it is correct, only much slower, and needs the `train` extra.
"""

import json
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort

from .contract import Contract, model_file

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
# The class names, in the order of the probability columns, as ONNX model metadata.
CLASSES_METADATA = "classes"
# ONNX string tensors have no null: a missing category is fed as "", which the exported
# imputer replaces as scikit-learn's replaces NaN.
MISSING_CATEGORY = ""
# What the graph takes for each kind of contract feature: float64 keeps the preprocessing
# bit-identical to scikit-learn's, which is what makes parity within 1e-5 possible.
ONNX_INPUT_TYPES = {"number": "tensor(double)", "category": "tensor(string)"}
ONNX_OUTPUTS = ("label", "probabilities")
NONE = np.array(None, dtype=object)  # compared element-wise with an object array

Flavor = Literal["onnx", "sklearn"]


class Predictor(ABC):
    """A loaded model: its input contract, its classes, and a predict on column arrays."""

    flavor: Flavor

    def __init__(self, contract: Contract, classes: tuple[str, ...]) -> None:
        self.contract = contract
        self.classes = classes

    @abstractmethod
    def predict(self, columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Labels and probabilities (float64, one column per class in `classes` order).

        `columns` maps every contract feature to a 1-D array of the same length: float64 with
        NaN for missing numbers, object (str or None) for categories. Validating values against
        the contract is the caller's job (the API and the batch scorer do it).
        """


class OnnxPredictor(Predictor):
    """The exported pipeline in one ONNX Runtime session, created once and shared by threads."""

    flavor: Flavor = "onnx"

    def __init__(self, contract: Contract, model: bytes | Path, threads: int = 1) -> None:
        self._session = ort.InferenceSession(
            model if isinstance(model, bytes) else str(model),
            sess_options=session_options(threads),
            providers=["CPUExecutionProvider"],
        )
        taken = {i.name: i.type for i in self._session.get_inputs()}
        expected = {f.name: ONNX_INPUT_TYPES[f.kind] for f in contract.features}
        if taken != expected:
            raise ValueError(f"the ONNX model takes {taken}; its input contract says {expected}")
        outputs = tuple(o.name for o in self._session.get_outputs())
        if not set(ONNX_OUTPUTS) <= set(outputs):
            raise ValueError(f"the ONNX model outputs {outputs}, not {ONNX_OUTPUTS}")
        metadata = self._session.get_modelmeta().custom_metadata_map
        if CLASSES_METADATA not in metadata:
            raise ValueError(f"the ONNX model has no '{CLASSES_METADATA}' metadata")
        super().__init__(contract, tuple(json.loads(metadata[CLASSES_METADATA])))
        self._inputs = tuple(
            (f.name, _numbers if f.kind == "number" else _categories) for f in contract.features
        )

    def predict(self, columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        feed = {name: convert(columns[name]) for name, convert in self._inputs}
        labels, proba = self._session.run(ONNX_OUTPUTS, feed)
        return labels, proba.astype(np.float64)


class SklearnPredictor(Predictor):
    """The native pipeline: correct everywhere, hundreds of times slower per record."""

    flavor: Flavor = "sklearn"

    def __init__(self, contract: Contract, model: Any) -> None:
        super().__init__(contract, tuple(str(c) for c in model.classes_))
        self._model = model

    def predict(self, columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import pandas as pd  # the `train` extra, present wherever this class is built

        frame = pd.DataFrame(
            {
                # Missing categories as NaN, as in the training data: scikit-learn's imputer
                # (missing_values=np.nan) does not treat None as missing.
                f.name: _nan_for_none(columns[f.name]) if f.kind == "category" else columns[f.name]
                for f in self.contract.features
            }
        )
        proba = self._model.predict_proba(frame)
        # The label rule of scikit-learn's classifiers, without running the pipeline twice.
        return self._model.classes_[proba.argmax(axis=1)], proba.astype(np.float64)


def load_predictor(model_dir: Path, *, threads: int = 1) -> Predictor:
    """The predictor for an MLflow model folder this project logged: ONNX when it has one.

    `threads` are ONNX Runtime's threads per call (see `session_options`): keep 1 for the API,
    pass 0 (one per core) for batch scoring.
    """
    model_dir = Path(model_dir)
    contract = Contract.load(model_dir)
    onnx_path = model_file(model_dir, ONNX_FILE)
    if onnx_path is not None:
        return OnnxPredictor(contract, onnx_path, threads)
    native = _load_native(model_dir)
    log.warning(
        "%s has no %s: the native scikit-learn pipeline serves, hundreds of times slower"
        " (the training run's `serving.fallback_reason` tag says why it was not exported)",
        model_dir,
        ONNX_FILE,
    )
    return SklearnPredictor(contract, native)


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Sequential execution with `threads` intra-op threads (0: one per core), never spinning.

    Measured on 2 cores with the random forest (200 trees), one process per setting:
    - 1 thread: 1-row calls 0.028-0.030 ms (p50), 100k-row calls ~190k rows/s;
    - 0 (one per core): 1-row calls 0.033-0.052 ms, 100k-row calls ~325k rows/s.
    So 1 thread for the API, where requests are small and the other core serves the next one,
    and one per core for batch scoring. Spinning worker threads (ONNX Runtime's default when
    there are some) made p99 latency jump to 3-4 ms and halved batch throughput on a busy box.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _numbers(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def _categories(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    missing = _missing(values)
    if missing.any():
        values = np.where(missing, MISSING_CATEGORY, values)
    return values.reshape(-1, 1)


def _nan_for_none(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    return np.where(_missing(values), math.nan, values)


def _missing(values: np.ndarray) -> np.ndarray:
    """None, and NaN too (a pandas caller's missing value): NaN is the one value != itself."""
    return np.asarray(np.equal(values, NONE) | np.not_equal(values, values), dtype=bool)


def _load_native(model_dir: Path) -> Any:
    """The pipeline from the MLflow model folder, read with skops as MLflow would, minus MLflow.

    The MLmodel file names the skops file and the types to trust when loading it: they were
    listed when the model was logged, and come from the same folder as the model itself.
    """
    try:
        import pandas  # noqa: F401  (SklearnPredictor.predict needs it)
        import sklearn  # noqa: F401
        import skops.io
        import yaml
    except ImportError as err:
        raise ImportError(
            f"{model_dir} has no {ONNX_FILE}, and the native fallback needs scikit-learn, skops,"
            f" pandas and PyYAML (the project's `train` extra), which are not installed"
            f" ({err}): install them, or serve a model that was exported to ONNX"
        ) from err
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    flavor = mlmodel.get("flavors", {}).get("sklearn")
    if not flavor:
        raise ValueError(f"{model_dir}/MLmodel has no sklearn flavor to fall back to")
    if flavor.get("serialization_format") != "skops":
        raise ValueError(
            f"{model_dir} holds a {flavor.get('serialization_format')} model; only skops is"
            " loaded without MLflow"
        )
    return skops.io.load(
        model_dir / flavor["pickled_model"], trusted=flavor.get("skops_trusted_types") or []
    )
