"""The scoring API: the same app under uvicorn locally, in the Docker image and on Azure ML.

Routes: `GET /health` (liveness), `GET /ready` (503 until the model is loaded), `POST /predict`
(the strict, typed contract of the model's records: for this project's own clients), and
`POST /invocations` with `GET /ping` and `GET /version` (MLflow's scoring protocol, lenient as
MLflow is, plus Azure ML's `input_data`: for MLflow's and Azure ML's clients, unchanged).
OpenAPI docs at `/docs`. uvicorn runs it through `asgi.py`, which adds the observers of the
optional parts a higher level brings.
"""

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.requests import ClientDisconnect

from .. import __version__
from ..core.contract import Contract
from ..core.predictor import Predictor, load_predictor
from ..core.settings import ServingSettings
from .invocations import (
    AZURE_ML,
    CSV,
    FORMATS,
    JSON,
    PARQUET,
    ProtocolError,
    UnsupportedMediaTypeError,
    columns_for,
    read_invocation,
)
from .logs import configure_logging
from .middleware import RequestContext
from .source import ModelSource, locate_model

log = logging.getLogger(__name__)

VERSION_HEADER = "x-model-version"  # on every prediction: the model version that answered
INLINE_BYTES = 64 * 1024  # larger /invocations bodies are parsed and scored in a thread
MAX_ERRORS = 20  # validation errors listed in a 422
# /invocations reads its body itself (JSON, CSV or Parquet): its OpenAPI body, described here.
INVOCATIONS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "description": f"Exactly one of {', '.join(FORMATS)} or {AZURE_ML}; optional params.",
                    "properties": {
                        "dataframe_split": {
                            "type": "object",
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "index": {"type": "array"},
                                "data": {"type": "array", "items": {"type": "array"}},
                            },
                        },
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "instances": {"type": "array", "items": {"type": "object"}},
                        "inputs": {"oneOf": [{"type": "object"}, {"type": "array"}]},
                        AZURE_ML: {"type": "object"},
                        "params": {"type": "object"},
                    },
                }
            },
            CSV: {"schema": {"type": "string"}},
            PARQUET: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

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
            self.error = f"{type(err).__name__}: {_public(str(err), self.source.folder)}"
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
    predict_request = create_model(
        "PredictRequest",
        __base__=Records,
        records=(
            # fail_fast: the first bad record ends validation (10,000 bad ones would take
            # seconds on the event loop, to list errors nobody reads).
            Annotated[
                list[record], Field(min_length=1, max_length=settings.max_records, fail_fast=True)
            ],
            ...,
        ),
    )

    def ready_predictor() -> Predictor:
        if state.predictor is None:
            raise ModelNotReadyError(state.error or "the model is loading")
        return state.predictor

    def scored(columns: dict[str, np.ndarray], request_id: str) -> np.ndarray:
        """Labels and probabilities of the columns, seen by every observer; the labels."""
        predictor = ready_predictor()
        labels, proba = predictor.predict(columns)
        for observe in observers:
            observe(request_id, columns, labels, proba, predictor.classes)
        return labels

    @app.exception_handler(ModelNotReadyError)
    async def not_ready(_: Request, err: ModelNotReadyError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=503)

    @app.exception_handler(ClientDisconnect)
    async def disconnected(_: Request, __: ClientDisconnect) -> Response:
        # The client left (or was cut off by SERVING_REQUEST_TIMEOUT) before its body arrived:
        # nobody reads this answer, but the access log records why the request ended.
        return Response(status_code=408)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> Response:
        body = json.dumps({"detail": validation_details(err.errors())})  # ASCII: any key is safe
        return Response(body, status_code=422, media_type="application/json")

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

    @app.get("/ping", tags=["probes"], responses={503: {}})
    async def ping() -> Response:
        """MLflow's health check: 200 once the model is loaded."""
        return Response("\n", status_code=200 if state.predictor else 503)

    @app.get("/version", tags=["probes"])
    async def version() -> Response:
        """The version of this server (MLflow's answers its own)."""
        return Response(__version__, media_type="text/plain")

    @app.post(
        "/predict",
        tags=["scoring"],
        response_model=PredictResponse,
        responses={415: {}, 503: {}},
        dependencies=[Depends(json_only)],
    )
    async def predict(request: predict_request, http: Request) -> Response:
        """The typed contract: each record's fields, types, ranges and categories are those the
        model was trained on (a 422 names any other). Class and probabilities per record."""
        predictor = ready_predictor()
        columns = contract.to_columns(
            {name: [getattr(r, name) for r in request.records] for name in contract.names}
        )
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
        return _json(body, state.source.version)

    def invoke(body: bytes, content_type: str | None, request_id: str) -> Response:
        try:
            invocation = read_invocation(body, content_type)
            if invocation.rows > settings.max_records:
                raise ProtocolError(
                    f"{invocation.rows} records in one request, more than SERVING_MAX_RECORDS"
                    f" ({settings.max_records}): split it"
                )
            labels = scored(columns_for(invocation, contract), request_id)
        except ProtocolError as err:
            return JSONResponse(err.body(), status_code=err.status)
        except UnsupportedMediaTypeError as err:
            return Response(str(err), status_code=415, media_type="text/plain")
        predictions = [str(label) for label in labels]
        answer = predictions if invocation.azure_ml else {"predictions": predictions}
        return _json(answer, state.source.version)

    @app.post(
        "/invocations",
        tags=["scoring"],
        responses={400: {}, 415: {}, 503: {}},
        openapi_extra=INVOCATIONS_BODY,
    )
    async def invocations(http: Request) -> Response:
        """MLflow's scoring protocol, as `mlflow models serve` answers it, and Azure ML's
        `input_data` shape: the route an Azure ML endpoint's scoring URI maps to."""
        body = await http.body()
        content_type, request_id = http.headers.get("content-type"), http.state.request_id
        if len(body) <= INLINE_BYTES:
            return invoke(body, content_type, request_id)
        # A large body takes milliseconds to parse and score: off the event loop, so that other
        # requests (and the probes) are answered meanwhile.
        return await asyncio.to_thread(invoke, body, content_type, request_id)


class ModelNotReadyError(Exception):
    """The model is not loaded (yet, or at all): answer 503."""


async def json_only(request: Request) -> None:
    """/predict takes JSON only: another Content-Type gets a 415, before the body is read.
    (async: FastAPI runs a plain function dependency in a thread, a cost on every request)"""
    mime = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if mime != JSON:
        sent = f"not {mime}" if mime else "in a Content-Type header"
        raise HTTPException(415, f"send the records as {JSON}, {sent}")


def validation_details(errors: Sequence[Any], limit: int = MAX_ERRORS) -> list[dict[str, Any]]:
    """FastAPI's 422 details, without the input they echo (it may be NaN, which JSON cannot
    carry, or megabytes long) and at most `limit` of them: enough to fix the request."""
    details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors[:limit]]
    if len(errors) > limit:
        details.append({"loc": [], "msg": f"and {len(errors) - limit} more", "type": "truncated"})
    return details


def _public(message: str, folder: Path) -> str:
    """`message` without where the model folder lies on the host: /ready answers anyone."""
    for path in sorted({str(folder.resolve()), str(folder)}, key=len, reverse=True):
        message = message.replace(path, "<model>")
    return message


def _json(body: object, model_version: str) -> Response:
    return Response(
        json.dumps(body), media_type="application/json", headers={VERSION_HEADER: model_version}
    )
