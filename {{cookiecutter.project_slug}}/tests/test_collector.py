"""Model data collection on Azure ML (level 2): off unless Azure ML configures it, never in a
request's way, and what it sends reads back for drift detection.

The real `azureml-ai-monitoring` package runs in these tests, configured through the environment
variables it reads; only the sidecar it posts to is missing (or its worker is switched off, so
that its queue keeps what would be sent).
"""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from azureml.ai.monitoring.config import init_config, teardown_config
from azureml.ai.monitoring.context import BasicCorrelationContext
from azureml.ai.monitoring.init import is_sdk_ready, teardown
from azureml.ai.monitoring.payload import PandasFrameData, build_payload
from azureml.ai.monitoring.queue import get_queue
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.asgi import (
    create_app,
)
from {{ cookiecutter.package_name }}.cli import (
    app as cli_app,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
    TARGET,
    input_contract,
)
from {{ cookiecutter.package_name }}.monitoring.collector import (
    ModelDataCollector,
    Scored,
    model_data_collector,
)
from {{ cookiecutter.package_name }}.monitoring.window import (
    NoCollectedDataError,
    read_window,
)
from {{ cookiecutter.package_name }}.plugins import (
    scoring_observers,
)

from .conftest import Champion
from .servers import free_port, served_in_thread

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_data_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees a data collector configured outside it, nor leaves the package's (global)
    queue and worker behind."""
    for name in ("AZUREML_MDC_CONFIG_PATH", "AZUREML_MDC_ENABLED", "AZUREML_MDC_PORT"):
        monkeypatch.delenv(name, raising=False)
    yield
    teardown()


@pytest.fixture
def records(raw_data: pd.DataFrame) -> pd.DataFrame:
    """60 records of the raw data as a client sends them, every third missing what the
    contract lets it miss."""
    sample = raw_data[list(FEATURES)].sample(n=60, replace=True, random_state=0)
    nullable = [f.name for f in input_contract().features if f.nullable]
    sample.loc[sample.index[1::3], nullable] = None
    return sample.reset_index(drop=True)


@pytest.fixture
def serve_champion(champion: Champion, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """The app as uvicorn gets it from `serve` (asgi.py): the champion, and the plugins'
    observers for the data collector configuration of the test."""
    monkeypatch.setenv("MODEL_URI", str(champion.folder))
    return create_app


def as_body(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records as JSON has them: a missing value is null."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records


def test_nothing_is_collected_off_azure(
    serve_champion: Callable[[], Any], records: pd.DataFrame
) -> None:
    assert model_data_collector() is None
    assert scoring_observers() == []

    with served_in_thread(serve_champion()) as server:
        status, _, _ = server.call("POST", "/predict", {"records": as_body(records.head(3))})
    assert status == 200
    assert not is_sdk_ready(), "the data collector package was never started"
    assert get_queue() is None


def test_requests_succeed_when_the_collector_cannot_send(
    serve_champion: Callable[[], Any],
    records: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Azure ML's configuration, as a deployment with `data_collector:` gets it, but no sidecar
    listening: collection fails in the background, never in a request."""
    config = tmp_path / "mdc.json"
    enabled = {"enabled": True, "sampleRatePercentage": 100}
    config.write_text(
        json.dumps({"collections": {"model_inputs": enabled, "model_outputs": enabled}})
    )
    monkeypatch.setenv("AZUREML_MDC_CONFIG_PATH", str(config))
    monkeypatch.setenv("AZUREML_MDC_PORT", str(free_port()))  # nothing listens there

    collector = model_data_collector()
    assert isinstance(collector, ModelDataCollector), "the configuration enables collection"
    body = {"records": as_body(records.head(5))}
    mlflow_body = {"dataframe_records": body["records"]}
    with served_in_thread(serve_champion()) as server:
        answers = [server.call("POST", "/predict", body) for _ in range(20)]
        answers += [server.call("POST", "/invocations", mlflow_body) for _ in range(20)]
    assert {status for status, _, _ in answers} == {200}
    assert answers[0][1]["predictions"][0]["label"] == answers[-1][1]["predictions"][0]


def test_inputs_and_outputs_are_sent_correlated(
    serve_champion: Callable[[], Any], records: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payloads the package would post to the sidecar, kept in its queue: its worker is
    off (AZUREML_MDC_WORKER_DISABLED, the package's switch for tests)."""
    monkeypatch.setenv("AZUREML_MDC_ENABLED", "true")
    monkeypatch.setenv("AZUREML_MDC_WORKER_DISABLED", "true")
    monkeypatch.setenv("SERVING_PREDICTION_COLUMN", TARGET)  # as the deployment sets it
    sent = records.iloc[[0, 1, 2]]  # row 1 has missing values
    with served_in_thread(serve_champion()) as server:
        status, answer, _ = server.call(
            "POST", "/predict", {"records": as_body(sent)}, headers={"x-request-id": "req-42"}
        )
        payloads: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while len(payloads) < 2:
            assert time.monotonic() < deadline, f"only {[*payloads]} reached the package's queue"
            if not get_queue().length():
                time.sleep(0.01)
                continue
            payload, _ = get_queue().dequeue()
            # The package's queue is global: a batch of an earlier test's app may land here.
            if payload.correlation_id() == "req-42":
                payloads[payload.designation()] = payload
    assert status == 200
    inputs, outputs = payloads["model_inputs"], payloads["model_outputs"]

    assert json.loads(inputs.content()) == as_body(sent)
    predictions = answer["predictions"]
    collected = json.loads(outputs.content())
    assert [row[TARGET] for row in collected] == [p["label"] for p in predictions]
    for row, prediction in zip(collected, predictions, strict=True):
        probabilities = prediction["probabilities"]
        assert row == {
            TARGET: prediction["label"],
            # pandas' to_json, in the package, keeps 10 significant digits
            **{f"probability_{c}": pytest.approx(p) for c, p in probabilities.items()},
        }


def scored(request_id: str) -> tuple[Any, ...]:
    """The arguments of one scored request, as the app passes them to an observer."""
    columns = {name: np.array([1.0]) for name in FEATURES}
    return request_id, columns, np.array(["a"]), np.array([[0.25, 0.75]]), ("a", "b")


def test_a_request_only_queues_its_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building and sending the DataFrames happens in the collector's thread, never in the
    request's: the request pays for one put on a queue."""
    monkeypatch.setenv("AZUREML_MDC_ENABLED", "true")
    monkeypatch.setenv("AZUREML_MDC_WORKER_DISABLED", "true")
    sent: list[tuple[str, list[str]]] = []
    done = threading.Event()

    def send(self: ModelDataCollector, batch: list[Scored]) -> None:
        sent.append((threading.current_thread().name, [s.request_id for s in batch]))
        done.set()

    monkeypatch.setattr(ModelDataCollector, "_send", send)
    collector = model_data_collector()
    assert collector is not None
    collector(*scored("req-1"))
    collector(*scored("req-2"))
    assert done.wait(10)
    assert sent[0] == ("model-data-collector", ["req-1", "req-2"]), "one batch, sent off-thread"


def test_a_full_queue_drops_data_instead_of_blocking_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZUREML_MDC_ENABLED", "true")
    monkeypatch.setenv("AZUREML_MDC_WORKER_DISABLED", "true")
    sending, release = threading.Event(), threading.Event()

    def send(self: ModelDataCollector, batch: list[Scored]) -> None:
        sending.set()
        release.wait(10)  # a sidecar that does not answer

    monkeypatch.setattr(ModelDataCollector, "_send", send)
    collector = ModelDataCollector(capacity=2)
    try:
        collector(*scored("first"))
        assert sending.wait(10), "the collector's thread is stuck sending the first batch"
        for number in range(10):
            collector(*scored(f"req-{number}"))  # returns at once, even with the queue full
        assert collector.dropped == 8, "the queue holds 2; the other 8 are dropped and counted"
    finally:
        release.set()


@pytest.fixture
def payload_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The package's configuration, which its payload builder reads."""
    monkeypatch.setenv("AZUREML_MDC_ENABLED", "true")
    init_config()
    yield
    teardown_config()


def collected_line(frame: pd.DataFrame, when: datetime) -> str:
    """One line as the data collector stores it: the package's payload, in the envelope the
    sidecar writes (Azure ML docs, "Store collected data in Blob Storage")."""
    context = BasicCorrelationContext(timestamp=int(when.timestamp()))
    payload = build_payload("model_inputs", PandasFrameData(frame), "default", context)
    return json.dumps(
        {
            "specversion": "1.0",
            "id": payload.id(),
            "source": "/subscriptions/0/resourceGroups/rg/providers/"
            "Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/ep/deployments/blue",
            "type": "azureml.inference.model_inputs",
            "datacontenttype": payload.contenttype(),
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": json.loads(payload.content()),
            "correlationid": payload.correlation_id(),
            "xrequestid": payload.correlation_id(),
            "modelversion": payload.model_version(),
            "collectdatatype": payload.type(),
            "agent": payload.agent(),
        }
    )


def write_hour(folder: Path, hour: datetime, *frames: pd.DataFrame) -> None:
    """One file of an hour's folder, YYYY/MM/DD/HH, a line per (batched) request."""
    path = folder / f"{hour:%Y/%m/%d/%H}" / "instance-1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(collected_line(frame, hour) + "\n" for frame in frames))


def test_read_window_returns_the_records_collected_in_the_window(
    payload_config: None, records: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "modelDataCollector" / "ep" / "blue" / "model_inputs"
    hours = {  # the window is [NOW - 2 days, NOW]
        NOW - timedelta(days=2, hours=1): False,  # ended before the window
        NOW - timedelta(days=2): True,  # its hour overlaps the window's start
        NOW - timedelta(hours=30): True,
        NOW: True,  # the current hour
        NOW + timedelta(hours=1): False,  # after `now`
        NOW - timedelta(days=40): False,
    }
    expected = []
    records = records.iloc[: 10 * len(hours)]
    for number, (hour, inside) in enumerate(hours.items()):
        batch = records.iloc[number * 10 : number * 10 + 10]
        write_hour(folder, hour, batch.iloc[:4], batch.iloc[4:])
        if inside:
            expected.append(batch)
    (folder / "notes.jsonl").write_text("not collected data\n")  # outside the layout: ignored

    collected = read_window(folder, days=2, now=NOW)

    assert list(collected.columns) == list(FEATURES)
    want = pd.concat(expected, ignore_index=True)
    assert len(collected) == len(want) == 30
    pd.testing.assert_frame_equal(collected, want, check_dtype=False)


def test_a_quiet_window_has_no_rows_and_an_empty_folder_is_an_error(
    payload_config: None, records: pd.DataFrame, tmp_path: Path
) -> None:
    """No request in the window is not enough data to decide (drift.py); no collection at all
    is a wrong folder, or a collector that never ran."""
    folder = tmp_path / "model_inputs"
    with pytest.raises(NoCollectedDataError, match=re.escape(str(folder))) as caught:
        read_window(folder, days=1, now=NOW)
    assert "no data was ever collected" in str(caught.value)
    write_hour(folder, NOW - timedelta(days=3), records.head(5))
    quiet = read_window(folder, days=1, now=NOW)
    assert list(quiet.columns) == list(FEATURES)
    assert quiet.empty


def test_drift_reads_every_deployment_of_an_endpoint_and_only_its_inputs(
    payload_config: None, records: pd.DataFrame, tmp_path: Path
) -> None:
    """What the drift job mounts: modelDataCollector/<endpoint>/, where each release left a
    deployment folder with model_inputs and model_outputs."""
    endpoint = tmp_path / "modelDataCollector" / "ep"
    write_hour(endpoint / "v3-r1-1" / "model_inputs", NOW - timedelta(days=3), records.iloc[:20])
    write_hour(endpoint / "v4-r2-1" / "model_inputs", NOW - timedelta(hours=5), records.iloc[20:50])
    outputs = endpoint / "v4-r2-1" / "model_outputs" / f"{NOW:%Y/%m/%d/%H}" / "instance-1.jsonl"
    outputs.parent.mkdir(parents=True)
    outputs.write_text('{"data": [{"label": "a class"}]}\n')  # no features: must not be read

    assert len(read_window(endpoint, days=7, now=NOW)) == 50
    assert len(read_window(endpoint, days=1, now=NOW)) == 30

    reference = tmp_path / "reference.csv"
    records.to_csv(reference, index=False)
    same_rows = tmp_path / "same-rows.csv"
    records.iloc[:50].to_csv(same_rows, index=False)
    summaries = []
    for current in (endpoint, same_rows):
        report = tmp_path / "report" / current.name
        options = ["--window-days", "3650", "--reference", str(reference), "--output-dir"]
        result = CliRunner().invoke(cli_app, ["drift", str(current), *options, str(report)])
        assert result.exit_code in (0, 1), result.output
        summaries.append(json.loads((report / "drift.json").read_text()))
    collected, from_file = summaries
    assert collected["rows"]["current"] == 50
    # The collector's window and a file of the same rows get the same verdict, for the same
    # reasons: what the server stored reads back exactly as the rows it scored.
    assert collected["features"] == from_file["features"]
    assert collected["verdict"] == from_file["verdict"]
