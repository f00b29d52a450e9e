"""Benchmark the model as it serves: requests/s and latency over HTTP, and batch rows/s.

    make bench        # after `make train`; MODEL_URI=<folder or models:/...> for another model

Starts the server (`serve`) on a free port, sends one-record POST /predict requests from a few
threads over keep-alive connections for a few seconds, then times batch predictions of the test
set repeated to BATCH_ROWS rows. Figures, not a test: compare them before and after a change of
the model, on the same machine.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from statistics import quantiles

import pandas as pd

from {{ cookiecutter.package_name }}.core.predictor import (
    load_predictor,
)
from {{ cookiecutter.package_name }}.core.schemas import (
    FEATURES,
)
from {{ cookiecutter.package_name }}.core.settings import (
    ServingSettings,
    Settings,
)
from {{ cookiecutter.package_name }}.data.prepare import (
    TEST_FILE,
)
from {{ cookiecutter.package_name }}.serving.source import (
    locate_model,
)

SECONDS, THREADS, BATCH_ROWS = 5.0, 2, 100_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not get ready within 60 s")


def load(port: int, body: bytes) -> tuple[list[float], float]:
    """Latencies (s) of every request the threads sent in SECONDS, and the time it took."""
    latencies: list[float] = []
    failures: list[int] = []
    end = time.perf_counter() + SECONDS

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"content-type": "application/json"}
        while (start := time.perf_counter()) < end:
            connection.request("POST", "/predict", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
                return
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"/predict answered {failures[0]}: see the server's log above")
    return latencies, time.perf_counter() - started


def main() -> None:
    settings = Settings()
    uri = os.environ.get("MODEL_URI") or f"models:/{settings.model_name}@champion"
    source = locate_model(ServingSettings(model_uri=uri))
    test = pd.read_parquet(Path(settings.curated_dir) / TEST_FILE)[list(FEATURES)]
    body = json.dumps({"records": json.loads(test.head(1).to_json(orient="records"))}).encode()

    port = free_port()
    env = os.environ | {
        "MODEL_URI": str(source.folder),
        "SERVING_PORT": str(port),
        "SERVING_LOG_LEVEL": "warning",
    }
    package = "{{ cookiecutter.package_name }}"
    server = subprocess.Popen([sys.executable, "-m", package, "serve"], env=env)
    try:
        wait_ready(port, server)
        latencies, seconds = load(port, body)
    finally:
        server.terminate()
        server.wait(10)

    predictor = load_predictor(source.folder, threads=0)  # as batch scoring runs it
    rows = pd.concat([test] * (BATCH_ROWS // len(test) + 1), ignore_index=True)[:BATCH_ROWS]
    columns = predictor.contract.to_columns(rows)
    start = time.perf_counter()
    predictor.predict(columns)
    batch_seconds = time.perf_counter() - start

    cuts = quantiles(latencies, n=100)
    print(f"model       {uri} (version {source.version}), served by {predictor.flavor}")
    rate = len(latencies) / seconds
    print(f"HTTP        {rate:,.0f} requests/s, 1-record calls from {THREADS} threads")
    print(f"latency     p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms")
    print(f"batch       {BATCH_ROWS / batch_seconds:,.0f} rows/s ({BATCH_ROWS:,} rows at once)")


if __name__ == "__main__":
    main()
