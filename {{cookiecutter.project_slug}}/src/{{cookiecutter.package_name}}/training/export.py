"""Export the trained pipeline to ONNX, and prove that it predicts like the pipeline itself.

The scikit-learn pipeline costs milliseconds per record, mostly pandas overhead in the
ColumnTransformer; ONNX Runtime computes the same thing in microseconds. The export is kept
only when the serving code, run on it, gives the pipeline's labels and probabilities (within
PARITY_TOLERANCE) on the test set; otherwise the native pipeline serves and the reason says why.

Three choices make parity exact rather than approximate:
- numbers enter the graph as float64, so imputation and scaling are bit-identical to
  scikit-learn's (with float32 inputs, probabilities were off by up to 0.07);
- missing values are imputed by our own converter (`_convert_imputer`): skl2onnx's emits ONNX's
  Imputer, which ONNX Runtime runs in float32 only, and refuses NaN as the missing category;
- trees get their input cast to float32 in the graph, as scikit-learn casts it before every tree
  (`_as_exported`), so that every threshold comparison matches (fed float64, ONNX Runtime
  compared it with float32 thresholds: probabilities were off by up to 0.08).
"""

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
from skl2onnx.operator_converters.common import concatenate_variables
from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
from skl2onnx.sklapi import CastTransformer
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.tree import BaseDecisionTree

from ..core.predictor import CLASSES_METADATA, MISSING_CATEGORY, OnnxPredictor
from ..core.schemas import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, input_contract

PARITY_TOLERANCE = 1e-5
# Opset 21 runs on every onnxruntime the project allows (>= 1.18).
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}

# What skl2onnx raises for a step or option it cannot convert: RuntimeError (which covers its
# MissingConverter, MissingShapeCalculator and NotImplementedError) and ValueError or TypeError
# when a converter builds an invalid node. ONNX Runtime raises its own exception types when a
# graph uses an operator or type it does not implement. Anything else is a bug on our side and
# must fail the training run, not quietly turn into a slow model.
CONVERSION_ERRORS = (RuntimeError, ValueError, TypeError)
RUNTIME_ERRORS = (
    ort_errors.Fail,
    ort_errors.InvalidArgument,
    ort_errors.InvalidGraph,
    ort_errors.NotImplemented,
    ort_errors.RuntimeException,
)


@dataclass(frozen=True)
class OnnxExport:
    """The ONNX model when it converted and proved parity, else None and the reason."""

    onnx: bytes | None
    max_proba_diff: float | None = None
    reason: str | None = None


def export_onnx(model: Pipeline, test: pd.DataFrame) -> OnnxExport:
    """Convert `model` and check it with the serving code on `test`, and on copies of `test`
    with each nullable feature missing (the imputers' work). Never raises for a model that
    cannot convert or fails parity: the result says why instead."""
    try:
        onx = _convert(model)
    except CONVERSION_ERRORS as err:
        return OnnxExport(None, reason=f"skl2onnx cannot convert the pipeline: {_explain(err)}")

    x = _parity_rows(test[list(FEATURES)])
    if x.empty:
        return OnnxExport(None, reason="no test rows to prove parity on")
    contract = input_contract()
    try:
        labels, proba = OnnxPredictor(contract, onx).predict(contract.to_columns(x))
    except RUNTIME_ERRORS as err:
        return OnnxExport(None, reason=f"ONNX Runtime cannot run the export: {_explain(err)}")

    expected = model.predict_proba(x)
    wrong = int((labels != model.predict(x).astype(str)).sum())
    diff = float(np.abs(proba - expected).max()) if proba.shape == expected.shape else math.inf
    if wrong or not diff <= PARITY_TOLERANCE:
        return OnnxExport(
            None,
            diff,
            f"the ONNX export differs from the pipeline on {len(x)} rows (the test set, and copies"
            f" with missing values): {wrong} labels differ, max |probability diff| is {diff:.3g}"
            f" (tolerance {PARITY_TOLERANCE:g})",
        )
    return OnnxExport(onx, diff)


def _convert(model: Pipeline) -> bytes:
    # One [n, 1] input per feature, typed from the schema: float64 numbers, string categories.
    kinds: dict[str, Any] = {name: DoubleTensorType([None, 1]) for name in NUMERIC_FEATURES}
    kinds |= {name: StringTensorType([None, 1]) for name in CATEGORICAL_FEATURES}
    onx = convert_sklearn(
        _as_exported(model),
        initial_types=[(name, kinds[name]) for name in FEATURES],
        target_opset=TARGET_OPSET,
        options={"zipmap": False},  # probabilities as one [n, classes] tensor
        custom_conversion_functions={SimpleImputer: _convert_imputer},
    )
    classes = json.dumps([str(c) for c in model.classes_])
    onnx.helper.set_model_props(onx, {CLASSES_METADATA: classes})
    return bytes(onx.SerializeToString())


def _as_exported(model: Pipeline) -> BaseEstimator:
    """The pipeline, with a float32 cast before a final tree model (the fitted steps are shared,
    not copied or changed)."""
    if not isinstance(model, Pipeline):
        return model
    *head, (name, last) = model.steps
    trees = np.ravel(getattr(last, "estimators_", [last]))
    if all(isinstance(tree, BaseDecisionTree) for tree in trees):
        return Pipeline([*head, ("float32", CastTransformer(dtype=np.float32)), (name, last)])
    return model


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer: exact float64 fill values for numbers, "" as the missing category."""
    imputer: SimpleImputer = operator.raw_operator
    kind = operator.inputs[0].type
    if isinstance(kind, StringTensorType) and _is_nan(imputer.missing_values):
        # Convert a copy that treats MISSING_CATEGORY as missing: the server feeds it for None.
        patched = copy.copy(imputer)
        patched.missing_values = MISSING_CATEGORY
        operator.raw_operator = patched
        try:
            convert_sklearn_imputer(scope, operator, container)
        finally:
            operator.raw_operator = imputer
        return
    if not isinstance(kind, DoubleTensorType):
        convert_sklearn_imputer(scope, operator, container)
        return
    if not _is_nan(imputer.missing_values) or imputer.add_indicator:
        raise NotImplementedError("only SimpleImputer(missing_values=np.nan) without indicator")
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    if np.isnan(fill).any():
        # scikit-learn drops the columns it had no value to learn from.
        raise NotImplementedError("a SimpleImputer column was empty in training")
    x = concatenate_variables(scope, operator.inputs, container)
    fill_name = scope.get_unique_variable_name("fill")
    container.add_initializer(fill_name, onnx.TensorProto.DOUBLE, [1, fill.size], fill.tolist())
    isnan = scope.get_unique_variable_name("isnan")
    container.add_node("IsNaN", [x], [isnan], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [isnan, fill_name, x],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


def _parity_rows(x: pd.DataFrame) -> pd.DataFrame:
    """The test rows, and copies with each nullable feature missing: the imputers' cases too."""
    blanks = [x.assign(**{f.name: np.nan}) for f in input_contract().features if f.nullable]
    return pd.concat([x, *blanks], ignore_index=True).astype(x.dtypes.to_dict())


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _explain(err: Exception) -> str:
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {message[:300]}"
