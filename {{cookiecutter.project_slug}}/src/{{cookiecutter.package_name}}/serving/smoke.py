"""The smoke test of a running server: known records in, the expected answers out.

A release runs it against a new Azure ML deployment before any traffic moves to it, and through
the endpoint after a canary shift; `make smoke` runs it against `make serve` or `make docker-run`.
It calls POST /invocations, the route an Azure ML endpoint's scoring URI maps to, with the body
Azure ML documents for MLflow models (`input_data`, pandas' split orient), as an Azure client
would. It checks content, not only a 200: the records of azureml/smoke-request.json are typical
of each class, so a model that loads but predicts wrongly (a shifted column, a wrong file) fails
it; and the model version the server names in its `x-model-version` header.
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .app import VERSION_HEADER


class SmokeTestError(Exception):
    """The server answered wrongly or not at all; the message lists every problem."""


@dataclass(frozen=True)
class SmokeRequest:
    records: list[dict[str, Any]]
    expected: list[str]

    @classmethod
    def read(cls, path: Path) -> "SmokeRequest":
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
            records, expected = content["records"], content["expected_predictions"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SmokeTestError(
                f"{path}: needs JSON with `records` and `expected_predictions` ({err})"
            ) from None
        if not records or len(records) != len(expected):
            raise SmokeTestError(f"{path}: give one expected prediction per record")
        return cls(records, expected)

    def body(self) -> dict[str, Any]:
        """Azure ML's request body for MLflow models: `input_data` in pandas' split orient."""
        columns = list(dict.fromkeys(name for record in self.records for name in record))
        data = [[record.get(name) for name in columns] for record in self.records]
        return {"input_data": {"columns": columns, "index": list(range(len(data))), "data": data}}


@dataclass(frozen=True)
class Answer:
    predictions: Any
    model_version: str | None


def call(url: str, request: SmokeRequest, headers: dict[str, str], timeout: float) -> Answer:
    """POST the records; any HTTP error or non-JSON answer is a failed smoke test."""
    body = json.dumps(request.body()).encode()
    post = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(post, timeout=timeout) as response:
            return Answer(json.loads(response.read()), response.headers.get(VERSION_HEADER))
    except urllib.error.HTTPError as err:
        hint = ""
        if not url.rstrip("/").endswith("/invocations"):
            hint = " (the smoke test speaks the protocol of /invocations: is that the URL?)"
        raise SmokeTestError(f"{url} answered {err.code}{hint}: {err.read()[:500]!r}") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as err:
        raise SmokeTestError(f"{url} did not answer with JSON: {err}") from None


def problems_with(answer: Answer, request: SmokeRequest, expected_version: str | None) -> list[str]:
    """Everything wrong with one answer; empty when it is right."""
    found = []
    if answer.model_version is None:
        found.append(f"no {VERSION_HEADER} header: is this the project's server?")
    elif expected_version is not None and answer.model_version != expected_version:
        found.append(f"model version {answer.model_version}, expected {expected_version}")
    predictions = answer.predictions
    if not isinstance(predictions, list):
        return [*found, f"not a list of predictions: {str(predictions)[:200]}"]
    if len(predictions) != len(request.records):
        return [*found, f"{len(predictions)} predictions for {len(request.records)} records"]
    for i, (predicted, expected) in enumerate(zip(predictions, request.expected, strict=True)):
        if predicted != expected:
            found.append(f"record {i}: predicted {predicted!r}, expected {expected!r}")
    return found


def smoke_test(
    url: str,
    request: SmokeRequest,
    *,
    headers: dict[str, str] | None = None,
    expected_version: str | None = None,
    attempts: int = 1,
    timeout: float = 30.0,
) -> str:
    """Call the server `attempts` times; every answer must be right. Returns the version."""
    version = ""
    for attempt in range(1, attempts + 1):
        answer = call(url, request, headers or {}, timeout)
        found = problems_with(answer, request, expected_version)
        if found:
            raise SmokeTestError(f"answer {attempt} of {attempts}: " + "; ".join(found))
        version = str(answer.model_version)
    return version
