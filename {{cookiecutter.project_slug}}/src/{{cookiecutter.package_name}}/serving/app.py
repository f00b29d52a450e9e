"""The scoring API: the same app under uvicorn locally, in the Docker image and on Azure ML.

Routes: `GET /health` (liveness), `GET /ready` (503 until the model is loaded), `POST /predict`
(typed records, from the model's input contract) and `POST /invocations` (MLflow's scoring
protocol, so MLflow and Azure ML clients work unchanged). OpenAPI docs at `/docs`. uvicorn runs
it through `asgi.py`, which adds the observers of the optional parts a higher level brings.
"""

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from .. import __version__
from ..core.contract import Contract
from ..core.predictor import Predictor, load_predictor
from ..core.settings import ServingSettings
from .invocations import InvocationRequest, PayloadError, to_records
from .logs import configure_logging
from .middleware import RequestContext
from .source import ModelSource, locate_model

log = logging.getLogger(__name__)

# Sees each scored request: (request id, input columns, labels, probabilities, classes). It runs
# on the request path, so it must return at once and never raise.
Observer = Callable[[str, Mapping[str, np.ndarray], np.ndarray, np.ndarray, Sequence[str]], None]


class Records(BaseModel):
    """The body of POST /predict: its records' type is the model's contract, set at start-up."""

    model_config = ConfigDict(extra="forbid")

    records: Sequence[BaseModel]


class Prediction(BaseModel):
    label: str
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class Readiness(BaseModel):
    status: str
    model_version: str
    flavor: str | None = None
    detail: str | None = None


class ModelState:
    """The model, loaded once in the background so that /health answers meanwhile."""

    def __init__(self, source: ModelSource) -> None:
        self.source = source
        self.predictor: Predictor | None = None
        self.error: str | None = None

    def load(self) -> None:
        try:
            self.predictor = load_predictor(self.source.folder)
        except Exception as err:  # reported by /ready and the log; the process stays up
            self.error = f"{type(err).__name__}: {err}"
            log.exception(
                "the model failed to load", extra={"fields": {"model": str(self.source.folder)}}
            )
        else:
            log.info(
                "model loaded",
                extra={"fields": {"version": self.source.version, "flavor": self.predictor.flavor}},
            )


def create_app(settings: ServingSettings, observers: Sequence[Observer] = ()) -> RequestContext:
    """Build the app for the model the settings point to.

    The model folder is located and its input contract read now, so that request types and
    OpenAPI docs match the model; the model itself loads in the background. Each observer is
    called after each prediction (level 2's data collector is one).
    """
    configure_logging(settings.log_level)
    source = locate_model(settings)
    contract = Contract.load(source.folder)
    state = ModelState(source)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=state.load, name="model-loader", daemon=True).start()
        yield

    app = FastAPI(
        title="{{ cookiecutter.project_name }}",
        description="Predictions of the served model. Record fields come from its input contract.",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.model = state
    _add_routes(app, state, contract, settings, tuple(observers))
    return RequestContext(app, settings.max_body_bytes)


def _add_routes(
    app: FastAPI,
    state: ModelState,
    contract: Contract,
    settings: ServingSettings,
    observers: tuple[Observer, ...],
) -> None:
    record: Any = contract.record_model()  # a class built at run time, from the contract
    records_adapter = TypeAdapter(list[record])
    predict_request = create_model(
        "PredictRequest",
        __base__=Records,
        records=(
            Annotated[list[record], Field(min_length=1, max_length=settings.max_records)],
            ...,
        ),
    )

    def ready_predictor() -> Predictor:
        if state.predictor is None:
            raise ModelNotReadyError(state.error or "the model is loading")
        return state.predictor

    @app.exception_handler(ModelNotReadyError)
    async def not_ready(_: Request, err: ModelNotReadyError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=503)

    @app.get("/health", tags=["probes"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/ready", tags=["probes"], response_model=Readiness, responses={503: {"model": Readiness}}
    )
    async def ready() -> Response:
        """Readiness: 200 once the model is loaded, with the version that serves."""
        version = state.source.version
        if state.predictor is None:
            body = Readiness(
                status="failed" if state.error else "loading",
                model_version=version,
                detail=state.error,
            )
            return JSONResponse(body.model_dump(), status_code=503)
        return JSONResponse(
            Readiness(
                status="ready", model_version=version, flavor=state.predictor.flavor
            ).model_dump()
        )

    @app.post("/predict", tags=["scoring"], response_model=PredictResponse, responses={503: {}})
    async def predict(request: predict_request, http: Request) -> Response:
        """Predicted class and class probabilities for each record."""
        predictor = ready_predictor()
        columns = _columns(request.records, contract)
        labels, proba = predictor.predict(columns)
        classes = predictor.classes
        for observe in observers:
            observe(http.state.request_id, columns, labels, proba, classes)
        body = {
            "model_version": state.source.version,
            "predictions": [
                {"label": str(label), "probabilities": dict(zip(classes, row, strict=True))}
                for label, row in zip(labels, proba.tolist(), strict=True)
            ],
        }
        return Response(json.dumps(body), media_type="application/json")

    @app.post("/invocations", tags=["scoring"], responses={400: {}, 503: {}})
    async def invocations(request: InvocationRequest, http: Request) -> Response:
        """MLflow's scoring protocol: `dataframe_split`, `dataframe_records`, `instances` or
        `inputs`; the answer is `{"predictions": [...]}` as `mlflow models serve` gives."""
        predictor = ready_predictor()
        try:
            records = records_adapter.validate_python(to_records(request))
        except (PayloadError, ValidationError) as err:
            return JSONResponse(
                {"error_code": "BAD_REQUEST", "message": _explain(err)}, status_code=400
            )
        if not records:
            return JSONResponse(
                {"error_code": "BAD_REQUEST", "message": "no records to score"}, status_code=400
            )
        columns = _columns(records, contract)
        labels, proba = predictor.predict(columns)
        for observe in observers:
            observe(http.state.request_id, columns, labels, proba, predictor.classes)
        return Response(
            json.dumps({"predictions": [str(label) for label in labels]}),
            media_type="application/json",
        )


class ModelNotReadyError(Exception):
    """The model is not loaded (yet, or at all): answer 503."""


def _columns(records: Sequence[BaseModel], contract: Contract) -> dict[str, np.ndarray]:
    """Validated records as the column arrays a predictor takes."""
    return contract.to_columns(
        {name: [getattr(r, name) for r in records] for name in contract.names}
    )


def _explain(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return "; ".join(
            f"record {e['loc'][0]}, field '{'.'.join(map(str, e['loc'][1:]))}': {e['msg']}"
            if len(e["loc"]) > 1
            else f"record {e['loc'][0]}: {e['msg']}"
            for e in err.errors()
        )
    return str(err)
