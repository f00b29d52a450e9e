"""The scoring API over real HTTP, against a server started the way `make serve` starts it."""

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from typer.testing import CliRunner, Result

from {{ cookiecutter.package_name }}.cli import (
    app,
)
from {{ cookiecutter.package_name }}.core.contract import (
    Contract,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
    input_contract,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    load_model,
)

from .conftest import Champion, free_port

PACKAGE = "{{ cookiecutter.package_name }}"
SMOKE_REQUEST = Path(__file__).parents[1] / "azureml" / "smoke-request.json"
CONTRACT = input_contract()
NUMBER = next(f for f in CONTRACT.features if f.kind == "number")
CATEGORY = next(f for f in CONTRACT.features if f.kind == "category")
BOUNDED = next((f for f in CONTRACT.features if f.minimum is not None), None)


class Server:
    """A client of the server under test, speaking plain HTTP/1.1."""

    def __init__(self, port: int) -> None:
        self.port = port

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            sent = {"content-type": "application/json", **(headers or {})}
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        parsed = json.loads(data) if data else None
        return response.status, parsed, {k.lower(): v for k, v in response.getheaders()}


@contextmanager
def serving(model_folder: Path, log_file: Path, until: str = "ready") -> Iterator[Server]:
    """`python -m <package> serve` on a free port, as `make serve` runs it, until /ready
    reports `until` ("ready", or "failed" for a model that cannot load)."""
    port = free_port()
    env = os.environ | {
        "MODEL_URI": str(model_folder),
        "SERVING_HOST": "127.0.0.1",
        "SERVING_PORT": str(port),
    }
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", PACKAGE, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        client = Server(port)
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    body = client.call("GET", "/ready")[1]
                    if body["status"] == until:
                        break
                except OSError:
                    pass
                assert process.poll() is None, log_file.read_text()
                assert time.monotonic() < deadline, f"/ready was not {until} within 60 s"
                time.sleep(0.2)
            yield client
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The champion's folder as MODEL_URI."""
    with serving(champion.folder, tmp_path_factory.mktemp("server") / "server.log") as client:
        yield client


def test_a_model_that_cannot_load_keeps_ready_at_503(champion: Champion, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(champion.folder, broken)
    (broken / "extra_files" / "model.onnx").write_bytes(b"not an ONNX model")
    log = tmp_path / "server.log"

    with serving(broken, log, until="failed") as client:
        status, body, _ = client.call("GET", "/ready")
        assert status == 503
        assert body["detail"]
        assert client.call("GET", "/health")[0] == 200
        assert client.call("POST", "/predict", {"records": []})[0] in {422, 503}
        record = dict.fromkeys(FEATURES)
        assert client.call("POST", "/predict", {"records": [record]})[0] in {422, 503}
    logged = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "the model failed to load" for entry in logged)


@pytest.fixture(scope="module")
def test_set(champion: Champion) -> pd.DataFrame:
    return pd.read_parquet(champion.curated_dir / "test.parquet")


def as_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: missing values become null."""
    records: list[dict[str, Any]] = json.loads(df[list(FEATURES)].to_json(orient="records"))
    return records


def test_health_and_readiness_name_the_version(server: Server, champion: Champion) -> None:
    assert server.call("GET", "/health")[:2] == (200, {"status": "ok"})
    status, body, _ = server.call("GET", "/ready")
    assert status == 200
    assert body["model_version"] == champion.version
    assert body["flavor"] == "onnx"


def test_predictions_equal_the_models_own(
    server: Server, champion: Champion, test_set: pd.DataFrame
) -> None:
    native = load_model(str(champion.folder))
    status, body, headers = server.call("POST", "/predict", {"records": as_records(test_set)})

    assert status == 200, body
    assert body["model_version"] == champion.version
    labels = [p["label"] for p in body["predictions"]]
    assert labels == list(native.predict(test_set[list(FEATURES)]))
    served = np.array(
        [[p["probabilities"][c] for c in native.classes_] for p in body["predictions"]]
    )
    assert np.abs(served - native.predict_proba(test_set[list(FEATURES)])).max() < 1e-5
    assert headers["x-request-id"]


def smoke(server: Server, *args: str) -> Result:
    url = f"http://127.0.0.1:{server.port}/invocations"
    return CliRunner().invoke(app, ["smoke", url, "--request", str(SMOKE_REQUEST), *args])


def test_the_smoke_test_of_a_release_passes_on_the_champion(
    server: Server, champion: Champion
) -> None:
    """What a release checks on a new deployment before it gets traffic."""
    result = smoke(server, "--expect-version", champion.version, "--attempts", "3")
    assert result.exit_code == 0, result.output
    assert f"3 right answer(s) from model version {champion.version}" in result.output


def test_the_smoke_test_fails_on_a_wrong_version_or_wrong_answers(
    server: Server, tmp_path: Path
) -> None:
    result = smoke(server, "--expect-version", "999")
    assert result.exit_code == 1
    assert "expected 999" in result.output

    request = json.loads(SMOKE_REQUEST.read_text())
    request["expected_predictions"] = request["expected_predictions"][::-1]
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(request))
    result = CliRunner().invoke(
        app, ["smoke", f"http://127.0.0.1:{server.port}/invocations", "--request", str(wrong)]
    )
    assert result.exit_code == 1
    assert "record 0: predicted" in result.output


def test_the_smoke_test_fails_when_nobody_answers() -> None:
    result = CliRunner().invoke(
        app,
        ["smoke", f"http://127.0.0.1:{free_port()}/invocations", "--request", str(SMOKE_REQUEST)],
    )
    assert result.exit_code == 1
    assert "did not answer" in result.output


def test_a_request_id_is_echoed(server: Server, test_set: pd.DataFrame) -> None:
    body = {"records": as_records(test_set.head(1))}
    headers = server.call("POST", "/predict", body, headers={"x-request-id": "abc-123"})[2]
    assert headers["x-request-id"] == "abc-123"


def mlflow_payloads(df: pd.DataFrame) -> dict[str, Any]:
    records = as_records(df)
    split = json.loads(df[list(FEATURES)].to_json(orient="split", index=False))
    columns = {name: [r[name] for r in records] for name in FEATURES}
    return {
        "dataframe_split": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs as columns": {"inputs": columns},
        "inputs as records": {"inputs": records, "params": {}},
    }


@pytest.mark.parametrize(
    "form",
    ["dataframe_split", "dataframe_records", "instances", "inputs as columns", "inputs as records"],
)
def test_every_mlflow_payload_form_answers_in_mlflows_shape(
    server: Server, champion: Champion, test_set: pd.DataFrame, form: str
) -> None:
    rows = test_set.head(7)
    status, body, _ = server.call("POST", "/invocations", mlflow_payloads(rows)[form])

    assert status == 200, body
    expected = load_model(str(champion.folder)).predict(rows[list(FEATURES)])
    assert body == {"predictions": list(expected)}


def valid_record(test_set: pd.DataFrame) -> dict[str, Any]:
    return as_records(test_set.dropna().head(1))[0]


def below_range(record: dict[str, Any]) -> None:
    if BOUNDED is None or BOUNDED.minimum is None:
        pytest.skip("no feature of the contract has a minimum")
    record[BOUNDED.name] = BOUNDED.minimum - abs(BOUNDED.minimum) - 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r.pop(CATEGORY.name), CATEGORY.name),
        (lambda r: r.update({NUMBER.name: "long"}), NUMBER.name),
        (lambda r: r.update({NUMBER.name: True}), NUMBER.name),
        (lambda r: r.update({CATEGORY.name: "not-a-known-category"}), CATEGORY.name),
        (below_range, BOUNDED.name if BOUNDED else ""),
        (lambda r: r.update(unexpected_field="black"), "unexpected_field"),
    ],
    ids=["missing", "wrong type", "boolean", "unknown category", "out of range", "extra field"],
)
def test_bad_records_get_a_422_that_names_the_field(
    server: Server, test_set: pd.DataFrame, change: Callable[[dict[str, Any]], object], named: str
) -> None:
    record = valid_record(test_set)
    change(record)
    status, body, _ = server.call("POST", "/predict", {"records": [record]})

    assert status == 422
    assert any(named in error["loc"] for error in body["detail"]), body


def test_bad_payloads_get_a_clear_4xx(server: Server, test_set: pd.DataFrame) -> None:
    assert server.call("POST", "/predict", {"records": []})[0] == 422
    assert server.call("POST", "/predict", {"rows": []})[0] == 422
    assert server.call("POST", "/predict", raw=b'{"records": [')[0] == 422
    huge = json.dumps({"records": [valid_record(test_set)] * 20_000}).encode()
    status, body, _ = server.call("POST", "/predict", raw=huge)
    assert status == 413, body


def test_bad_mlflow_payloads_get_mlflows_error_body_naming_the_problem(
    server: Server, test_set: pd.DataFrame
) -> None:
    """The cases are compared with MLflow's own server in test_mlflow_protocol.py; here, that
    the message says what to fix."""
    record = valid_record(test_set)
    cases = {
        "text in a number": (
            {"dataframe_records": [record | {NUMBER.name: "long"}]},
            f"Failed to convert column {NUMBER.name}",
        ),
        "a missing column": (
            {"dataframe_records": [{k: v for k, v in record.items() if k != CATEGORY.name}]},
            f"missing inputs ['{CATEGORY.name}']",
        ),
        "a ragged split": (
            {"dataframe_split": {"columns": [CATEGORY.name], "data": [["a value", 1.0]]}},
            "every row of `data` must be a list of 1 values",
        ),
        "two payloads": ({"instances": [], "inputs": []}, "exactly one of the input fields"),
        "too many records": (
            {"dataframe_records": [{}] * 10_001},
            "more than SERVING_MAX_RECORDS (10000)",
        ),
    }
    for name, (payload, message) in cases.items():
        status, body, _ = server.call("POST", "/invocations", payload)
        assert status == 400, name
        assert set(body) == {"error_code", "message"}, name
        assert message in body["message"], (name, body)


def test_predict_is_strict_where_invocations_is_lenient(
    server: Server, test_set: pd.DataFrame
) -> None:
    """The same record with an unused column and an unknown category: /invocations scores it
    as MLflow does; /predict refuses it, naming both fields."""
    record = valid_record(test_set) | {CATEGORY.name: "not-a-known-category", "unused": 1}
    status, body, _ = server.call("POST", "/invocations", {"dataframe_records": [record]})
    assert status == 200, body
    status, body, _ = server.call("POST", "/predict", {"records": [record]})
    assert status == 422
    assert {CATEGORY.name, "unused"} <= {error["loc"][-1] for error in body["detail"]}


def test_the_openapi_spec_types_records_from_the_contract(
    server: Server, champion: Champion
) -> None:
    spec = server.call("GET", "/openapi.json")[1]
    record = spec["components"]["schemas"]["Record"]
    contract = Contract.load(champion.folder)
    assert list(record["properties"]) == list(contract.names)
    assert set(record["required"]) == set(contract.names)
    category = json.dumps(record["properties"][CATEGORY.name])
    assert all(value in category for value in CATEGORY.categories)


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_fuzzing_the_openapi_spec_finds_no_server_error(
    server: Server, mode: schemathesis.GenerationMode
) -> None:
    """Property-based requests from the spec, valid and invalid: never a 5xx."""
    base_url = f"http://127.0.0.1:{server.port}"
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if mode == schemathesis.GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # no parameters or body: no invalid request to make

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(base_url=base_url, checks=[not_a_server_error])

        no_server_error()
