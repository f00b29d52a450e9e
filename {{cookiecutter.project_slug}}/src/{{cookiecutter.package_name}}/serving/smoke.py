"""The smoke test of a running server: known records in, the expected answers out.

A release runs it against a new Azure ML deployment before any traffic moves to it, and through
the endpoint after a canary shift; `make smoke` runs it against `make serve` or `make docker-run`.
It checks content, not only a 200: the records of azureml/smoke-request.json are typical of each
class, so a model that loads but predicts wrongly (a shifted column, a wrong file) fails it.
"""

import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def call(url: str, request: SmokeRequest, headers: dict[str, str], timeout: float) -> Any:
    """POST the records; any HTTP error or non-JSON answer is a failed smoke test."""
    body = json.dumps({"records": request.records}).encode()
    post = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(post, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise SmokeTestError(f"{url} answered {err.code}: {err.read()[:500]!r}") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as err:
        raise SmokeTestError(f"{url} did not answer with JSON: {err}") from None


def problems_with(answer: Any, request: SmokeRequest, expected_version: str | None) -> list[str]:
    """Everything wrong with one answer of POST /predict; empty when it is right."""
    if not isinstance(answer, dict) or not isinstance(answer.get("predictions"), list):
        return [f"not a /predict answer: {str(answer)[:200]}"]
    found = []
    version = str(answer.get("model_version"))
    if expected_version is not None and version != expected_version:
        found.append(f"model version {version}, expected {expected_version}")
    predictions = answer["predictions"]
    if len(predictions) != len(request.records):
        return [*found, f"{len(predictions)} predictions for {len(request.records)} records"]
    for i, (prediction, expected) in enumerate(zip(predictions, request.expected, strict=True)):
        label, probabilities = prediction.get("label"), prediction.get("probabilities") or {}
        if label != expected:
            found.append(f"record {i}: predicted {label!r}, expected {expected!r}")
        total = sum(probabilities.values())
        if not math.isclose(total, 1.0, abs_tol=1e-4):
            found.append(f"record {i}: probabilities sum to {total:.6f}, not 1")
        if probabilities and max(probabilities, key=lambda c: probabilities[c]) != label:
            found.append(f"record {i}: the label is not the most probable class")
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
        version = str(answer["model_version"])
    return version
