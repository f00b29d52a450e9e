"""The scoring API over real HTTP, against a server started the way `make serve` starts it."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
    Feature,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
)
from {{ cookiecutter.package_name }}.core.tracking import (
    load_model,
)

from .conftest import CATEGORY, CONTRACT, NUMBER, Champion
from .servers import PACKAGE, Client, free_port, serving

SMOKE_REQUEST = Path(__file__).parents[1] / "azureml" / "smoke-request.json"
BOUNDED = next((f for f in CONTRACT.features if f.minimum is not None), None)
REQUEST_TIMEOUT = 1.0  # SERVING_REQUEST_TIMEOUT of the server under test


@pytest.fixture(scope="module")
def server(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """The champion's folder as MODEL_URI, and a short deadline to send a request."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(champion.folder, log, request_timeout=str(REQUEST_TIMEOUT)) as client:
        yield client


def test_a_model_that_cannot_load_keeps_ready_at_503(champion: Champion, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(champion.folder, broken)
    (broken / "extra_files" / "model.onnx").write_bytes(b"not an ONNX model")
    log = tmp_path / "server.log"

    with serving(broken, log, until="failed") as client:
        status, body, _ = client.call("GET", "/ready")
        assert status == 503
        assert "model.onnx" in body["detail"]
        assert str(tmp_path) not in body["detail"], "/ready tells anyone where the model lies"
        assert client.call("GET", "/health")[0] == 200
        assert client.call("POST", "/predict", {"records": []})[0] in {422, 503}
        record = dict.fromkeys(FEATURES)
        assert client.call("POST", "/predict", {"records": [record]})[0] in {422, 503}
    assert any(entry["message"] == "the model failed to load" for entry in client.logged())


@pytest.fixture(scope="module")
def test_set(champion: Champion) -> pd.DataFrame:
    return pd.read_parquet(champion.curated_dir / "test.parquet")


def as_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: missing values become null."""
    records: list[dict[str, Any]] = json.loads(df[list(FEATURES)].to_json(orient="records"))
    return records


def test_health_and_readiness_name_the_version(server: Client, champion: Champion) -> None:
    assert server.call("GET", "/health")[:2] == (200, {"status": "ok"})
    status, body, _ = server.call("GET", "/ready")
    assert status == 200
    assert body["model_version"] == champion.version
    assert body["flavor"] == "onnx"


def test_predictions_equal_the_models_own(
    server: Client, champion: Champion, test_set: pd.DataFrame
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


def smoke(server: Client, *args: str) -> Result:
    url = f"http://127.0.0.1:{server.port}/invocations"
    return CliRunner().invoke(app, ["smoke", url, "--request", str(SMOKE_REQUEST), *args])


def test_the_smoke_test_of_a_release_passes_on_the_champion(
    server: Client, champion: Champion
) -> None:
    """What a release checks on a new deployment before it gets traffic."""
    result = smoke(server, "--expect-version", champion.version, "--attempts", "3")
    assert result.exit_code == 0, result.output
    assert "3 time(s) out of 3" in result.output
    assert f"by model version {champion.version}" in result.output


def test_the_smoke_test_fails_on_a_wrong_version_or_wrong_answers(
    server: Client, tmp_path: Path
) -> None:
    result = smoke(server, "--expect-version", "999")
    assert result.exit_code == 1
    assert "expected 999" in result.output
    predict = f"http://127.0.0.1:{server.port}/predict"
    result = CliRunner().invoke(app, ["smoke", predict, "--request", str(SMOKE_REQUEST)])
    assert result.exit_code == 1
    assert "the smoke test speaks the protocol of /invocations" in result.output

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


def test_a_request_id_is_echoed(server: Client, test_set: pd.DataFrame) -> None:
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
    server: Client, champion: Champion, test_set: pd.DataFrame, form: str
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
    server: Client, test_set: pd.DataFrame, change: Callable[[dict[str, Any]], object], named: str
) -> None:
    record = valid_record(test_set)
    change(record)
    status, body, _ = server.call("POST", "/predict", {"records": [record]})

    assert status == 422
    assert any(named in error["loc"] for error in body["detail"]), body


def test_bad_payloads_get_a_clear_4xx(server: Client, test_set: pd.DataFrame) -> None:
    assert server.call("POST", "/predict", {"records": []})[0] == 422
    assert server.call("POST", "/predict", {"rows": []})[0] == 422
    assert server.call("POST", "/predict", raw=b'{"records": [')[0] == 422
    huge = json.dumps({"records": [valid_record(test_set)] * 20_000}).encode()
    status, body, _ = server.call("POST", "/predict", raw=huge)
    assert status == 413, body


def test_bad_mlflow_payloads_get_mlflows_error_body_naming_the_problem(
    server: Client, test_set: pd.DataFrame
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
    server: Client, test_set: pd.DataFrame
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
    server: Client, champion: Champion
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
    server: Client, mode: schemathesis.GenerationMode
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


# --- Hostile and broken clients: a 4xx that says why, never a 5xx, never a stalled server ---


@pytest.mark.parametrize(
    ("field", "token"),
    [
        (NUMBER, "NaN"),
        (NUMBER, "Infinity"),
        (NUMBER, "-Infinity"),
        (NUMBER, "1e309"),
        (CATEGORY, r'"\ud800"'),
    ],
    ids=["NaN", "Infinity", "-Infinity", "1e309", "lone surrogate"],
)
def test_values_json_cannot_carry_get_a_4xx_or_are_missing(
    server: Client, test_set: pd.DataFrame, field: Feature, token: str
) -> None:
    """What FastAPI's 422 would echo, and the JSON encoder refuse: /predict refuses them,
    /invocations reads them as missing values, as MLflow does."""
    record = json.dumps(valid_record(test_set) | {field.name: "TOKEN"}).replace('"TOKEN"', token)
    status, answer, _ = server.send("POST", "/predict", b'{"records": [%s]}' % record.encode())
    assert status == 422, answer
    assert field.name.encode() in answer
    status, answer, _ = server.send(
        "POST", "/invocations", b'{"dataframe_records": [%s]}' % record.encode()
    )
    assert status in {200, 400}, answer


def test_malformed_json_gets_a_4xx(server: Client) -> None:
    cases = [
        rb'{"records": [{"\ud800": 1}]}',  # a key JSON allows and no encoder writes back
        b'{"records": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",  # deeper than any parser
        b'{"records": [',
        b"\xff\xfe",
    ]
    for body in cases:
        for path in ("/predict", "/invocations"):
            status, answer, _ = server.send("POST", path, body)
            assert 400 <= status < 500, (path, body[:30], status, answer)


def test_thousands_of_bad_records_get_a_short_answer(server: Client) -> None:
    """The first bad record ends validation: no seconds of work on the event loop, no
    megabytes of errors."""
    status, body, _ = server.send(
        "POST", "/predict", json.dumps({"records": [{}] * 10_000}).encode()
    )
    assert status == 422
    assert len(body) < 10_000
    status, body, _ = server.send(
        "POST", "/invocations", json.dumps({"instances": [{}] * 100_000}).encode()
    )
    assert status in {400, 413}
    assert len(body) < 10_000


def raw_connection(server: Client) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT * 10)
    return connection


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket times out)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_silent_and_trickling_clients_are_disconnected(
    server: Client, test_set: pd.DataFrame
) -> None:
    """Without a deadline, a few thousand of them would hold every file descriptor."""
    body = json.dumps({"dataframe_records": [valid_record(test_set)]}).encode()
    head = (
        "POST /invocations HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        f"x-request-id: trickle\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    silent = [raw_connection(server) for _ in range(50)]
    slow_head, slow_body = raw_connection(server), raw_connection(server)
    slow_head.sendall(head[:20])
    slow_body.sendall(head + body[:5])

    assert server.call("GET", "/health")[0] == 200, "the others are answered meanwhile"
    for connection in silent:
        assert read_until_closed(connection).startswith(b"HTTP/1.1 408 ")
    assert read_until_closed(slow_head).startswith(b"HTTP/1.1 408 ")
    assert read_until_closed(slow_body) == b"", "cut off, and nothing else"
    for connection in [*silent, slow_head, slow_body]:
        connection.close()
    deadline = time.monotonic() + 10
    while not any(entry.get("request_id") == "trickle" for entry in server.logged()):
        assert time.monotonic() < deadline, "the cut-off request was not logged"
        time.sleep(0.1)
    server.call("GET", "/health")  # whatever the server logs after that request is written now
    assert not [e for e in server.logged() if "exception" in e or e["level"] == "error"]


def test_a_busy_port_is_named_before_the_server_starts(champion: Champion, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = os.environ | {"MODEL_URI": str(champion.folder), "SERVING_PORT": str(port)}
        result = subprocess.run(
            [sys.executable, "-m", PACKAGE, "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "SERVING_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
