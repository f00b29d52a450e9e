"""POST /invocations against MLflow's own scoring server, on the same model: one corpus of
requests, valid, odd and bad, sent to both. Same status class everywhere, the same predictions
wherever MLflow answers 200, except where we differ by design (Azure ML's `input_data`, which
MLflow refuses; no Content-Type, where MLflow fails with a 500). MLflow's own client works too.

The corpus is built from the data contract and the test set: it holds for any schema.
"""

import io
import json
import math
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.pyfunc import scoring_server
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

from {{ cookiecutter.package_name }}.core.contract import (
    Feature,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
    TARGET,
)
from {{ cookiecutter.package_name }}.core.settings import (
    ServingSettings,
)
from {{ cookiecutter.package_name }}.serving.app import (
    VERSION_HEADER,
    create_app,
)

from .conftest import CATEGORY, CONTRACT, NUMBER, Champion
from .servers import Client, served_in_thread

BOUNDED = next((f for f in CONTRACT.features if f.maximum is not None), NUMBER)
JSON_TYPE = "application/json"
Request = tuple[bytes, str | None]  # body, Content-Type
Answer = tuple[int, bytes, dict[str, str]]


@pytest.fixture(scope="module")
def servers(champion: Champion) -> Iterator[tuple[Client, Client]]:
    """MLflow's scoring server (the reference) and ours, both serving the champion."""
    with pytest.MonkeyPatch.context() as patch:
        # MLflow's server marks the process as a serving environment: undone after the module.
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        ours = create_app(ServingSettings(model_uri=str(champion.folder)))
        theirs = scoring_server.init(mlflow.pyfunc.load_model(str(champion.folder)))
        with (
            served_in_thread(theirs, ready="/ping") as reference,
            served_in_thread(ours) as our,
        ):
            yield reference, our


def post(server: Client, request: Request) -> Answer:
    body, content_type = request
    return server.send("POST", "/invocations", body, content_type)


@pytest.fixture(scope="module")
def rows(champion: Champion) -> pd.DataFrame:
    test = pd.read_parquet(champion.curated_dir / "test.parquet")
    return test[list(FEATURES)].head(5).reset_index(drop=True)


def records_of(rows: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(rows.to_json(orient="records"))
    return records


def as_json(payload: object) -> Request:
    return json.dumps(payload).encode(), JSON_TYPE


def one_record(rows: pd.DataFrame, **changes: Any) -> Request:
    return as_json({"dataframe_records": [records_of(rows)[0] | changes]})


def beyond(feature: Feature) -> float:
    top = feature.maximum if feature.maximum is not None else 1.0
    return top + abs(top) + 1


def corpus(rows: pd.DataFrame, champion: Champion) -> dict[str, Request]:
    """Every request both servers get: the name says what it tries."""
    records = records_of(rows)
    split = json.loads(rows.to_json(orient="split", index=False))
    columns = {name: [r[name] for r in records] for name in FEATURES}
    first = records[0]
    parquet = io.BytesIO()
    rows.to_parquet(parquet)
    example = champion.folder / "serving_input_example.json"
    nullable = {f.name: None for f in CONTRACT.features if f.nullable}
    required = next((f for f in CONTRACT.features if not f.nullable), CATEGORY)
    csv_text = rows.to_csv(index=False)
    typical = float(rows[NUMBER.name].median())
    return {
        "dataframe_split": as_json({"dataframe_split": split}),
        "dataframe_records": as_json({"dataframe_records": records}),
        "instances": as_json({"instances": records}),
        "inputs as columns": as_json({"inputs": columns}),
        "inputs as records": as_json({"inputs": records}),
        "with params": as_json({"dataframe_records": records, "params": {}}),
        "the model's own serving example": (example.read_bytes(), JSON_TYPE),
        "csv": (csv_text.encode(), "text/csv"),
        "csv with charset": (csv_text.encode(), "text/csv; charset=utf-8"),
        "parquet": (parquet.getvalue(), "application/vnd.apache.parquet"),
        "json with charset": (
            as_json({"dataframe_records": records})[0],
            f"{JSON_TYPE}; charset=UTF-8",
        ),
        "nulls where allowed": one_record(rows, **nullable),
        "null where not allowed": one_record(rows, **{required.name: None}),
        "NaN literal": (
            json.dumps({"dataframe_records": [first | {NUMBER.name: math.nan}]}).encode(),
            JSON_TYPE,
        ),
        "the label and an unused column": one_record(rows, **{TARGET: "a label", "unused": 1}),
        "an unknown category": one_record(rows, **{CATEGORY.name: "not-a-known-category"}),
        "a number as text": one_record(rows, **{NUMBER.name: str(typical)}),
        "an int for a float": one_record(rows, **{NUMBER.name: round(typical)}),
        "a bool for a number": one_record(rows, **{NUMBER.name: True}),
        "a number for a category": one_record(rows, **{CATEGORY.name: 5}),
        "out of the training range": one_record(rows, **{BOUNDED.name: beyond(BOUNDED)}),
        "a key missing from one record": as_json(
            {"dataframe_records": [first, {k: v for k, v in first.items() if k != NUMBER.name}]}
        ),
        # Refused by both
        "text in a number": one_record(rows, **{NUMBER.name: "not a number"}),
        "a list in a number": one_record(rows, **{NUMBER.name: [1, 2]}),
        "an infinite number": (
            json.dumps({"dataframe_records": [first | {NUMBER.name: math.inf}]}).encode(),
            JSON_TYPE,
        ),
        "a missing column": as_json(
            {"dataframe_records": [{k: v for k, v in first.items() if k != CATEGORY.name}]}
        ),
        "malformed JSON": (b'{"dataframe_records": [', JSON_TYPE),
        "an empty object": as_json({}),
        "two payload keys": as_json({"instances": records, "inputs": records}),
        "an unknown key": as_json({"rows": records}),
        "a list at the top": as_json(records),
        "no records": as_json({"dataframe_records": []}),
        "records that are not objects": as_json({"dataframe_records": [1, 2]}),
        "a ragged split": as_json(
            {"dataframe_split": {"columns": split["columns"], "data": [[1]]}}
        ),
        "a split without columns": as_json({"dataframe_split": {"data": split["data"]}}),
        "text/plain": (as_json({"dataframe_records": records})[0], "text/plain"),
        "latin-1": (as_json({"dataframe_records": records})[0], f"{JSON_TYPE}; charset=latin-1"),
        "an unknown content type parameter": (
            as_json({"dataframe_records": records})[0],
            f"{JSON_TYPE}; format=pandas-split",
        ),
        "invalid UTF-8": (b'{"dataframe_records": [{"a": "\xff"}]}', JSON_TYPE),
        "an empty body": (b"", JSON_TYPE),
        "a ragged csv": (b"a,b\n1,2,3\n", "text/csv"),
        "text in a csv number": (
            rows.assign(**{NUMBER.name: "x"}).to_csv(index=False).encode(),
            "text/csv",
        ),
    }


def predictions(answer: Answer) -> Any:
    return json.loads(answer[1])


def test_we_answer_as_mlflows_own_server(
    servers: tuple[Client, Client], rows: pd.DataFrame, champion: Champion
) -> None:
    reference, ours = servers
    differences = []
    for name, request in corpus(rows, champion).items():
        theirs, our = post(reference, request), post(ours, request)
        assert our[0] < 500, f"{name}: {our[0]} {our[1][:300]!r}"
        if theirs[0] // 100 != our[0] // 100:
            differences.append(f"{name}: mlflow {theirs[0]}, ours {our[0]} {our[1][:200]!r}")
        elif theirs[0] == 200 and predictions(theirs) != predictions(our):
            differences.append(f"{name}: mlflow {theirs[1]!r}, ours {our[1]!r}")
        elif theirs[0] >= 400 and our[2].get("content-type", "").startswith(JSON_TYPE):
            assert set(predictions(our)) == {"error_code", "message"}, name
    assert differences == []


def test_azure_mls_input_data_is_answered_with_a_bare_list(
    servers: tuple[Client, Client], rows: pd.DataFrame
) -> None:
    """Azure ML's body for MLflow models, which MLflow's own server refuses: the route an
    Azure ML endpoint's scoring URI maps to takes it, and answers as Azure ML's MLflow
    deployments do, with the list of predictions."""
    reference, ours = servers
    split = json.loads(rows.to_json(orient="split", index=False))
    expected = predictions(post(reference, as_json({"dataframe_split": split})))["predictions"]
    records = records_of(rows)
    for shape in (
        split | {"index": list(range(len(records)))},
        split,
        {name: [r[name] for r in records] for name in FEATURES},
    ):
        request = as_json({"input_data": shape, "params": {}})
        assert post(reference, request)[0] == 400
        status, body, headers = post(ours, request)
        assert (status, json.loads(body)) == (200, expected)
        assert headers[VERSION_HEADER]
    status, body, _ = post(ours, as_json({"input_data": split["data"]}))
    assert status == 400
    assert "column names" in json.loads(body)["message"]


def test_a_request_without_content_type_is_refused_not_failed(
    servers: tuple[Client, Client],
) -> None:
    reference, ours = servers
    request: Request = (b'{"dataframe_records": []}', None)
    assert post(reference, request)[0] == 500, "MLflow fails on it"
    status, body, _ = post(ours, request)
    assert status == 415
    assert b"Content-Type" in body


def test_mlflows_own_client_works_unchanged(
    servers: tuple[Client, Client], rows: pd.DataFrame, champion: Champion
) -> None:
    """ScoringServerClient: ping, wait_server_ready and invoke, with missing values as pandas
    sends them (NaN)."""
    reference, ours = servers
    data = rows.copy()
    data.loc[0, NUMBER.name] = math.nan
    answers = []
    for server in (reference, ours):
        client = ScoringServerClient("127.0.0.1", server.port)
        client.wait_server_ready(timeout=10)
        client.ping()  # raises unless 200
        answers.append(client.invoke(data).get_predictions())
    pd.testing.assert_frame_equal(*answers)


def test_version_and_ping(servers: tuple[Client, Client]) -> None:
    _, ours = servers
    for path, expected in (("/ping", b"\n"), ("/version", None)):
        status, body, _ = ours.send("GET", path, content_type=None)
        assert status == 200
        assert expected is None or body == expected
