"""Servers under test and a plain HTTP/1.1 client: the API is always tested over real HTTP,
either `serve` in a process of its own (as `make serve` runs it) or an app under uvicorn in a
thread of the test process (to compare it with MLflow's, or to look inside it)."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

PACKAGE = "{{ cookiecutter.package_name }}"
JSON = "application/json"


def free_port() -> int:
    """A TCP port nobody listens on, for a server under test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Client:
    """Requests to a server on 127.0.0.1, one connection each; `log` is the server's log file,
    when it runs in a process of its own."""

    def __init__(self, port: int, log: Path | None = None) -> None:
        self.port = port
        self.log = log

    def logged(self) -> list[dict[str, Any]]:
        """The server's JSON log lines so far."""
        assert self.log is not None, "the server runs in this process"
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = JSON,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """The status, the raw body and the headers (lower-case names) of the answer."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if content_type is not None:
            sent["content-type"] = content_type
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """`body` sent as JSON (or `raw` bytes), the answer parsed as JSON."""
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        status, data, answer_headers = self.send(method, path, payload, headers=headers)
        return status, json.loads(data) if data else None, answer_headers

    def answers(self, path: str) -> bool:
        """GET `path` gets a 200."""
        try:
            return self.send("GET", path, content_type=None)[0] == 200
        except OSError:
            return False


@contextmanager
def served_in_thread(app: Any, ready: str = "/ready") -> Iterator[Client]:
    """An ASGI app under uvicorn, in a thread of the test process, once GET `ready` answers
    200 (the model is loaded)."""
    client = Client(free_port())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=client.port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not client.answers(ready):
            assert thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, f"GET {ready} did not answer 200 within 30 s"
            time.sleep(0.05)
        yield client
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serving(
    model_folder: Path, log_file: Path, until: str = "ready", **settings: str
) -> Iterator[Client]:
    """`python -m <package> serve` on a free port, as `make serve` runs it, with `settings` as
    SERVING_* variables, until /ready reports `until` ("ready", or "failed" for a model that
    cannot load)."""
    client = Client(free_port(), log_file)
    env = os.environ | {"MODEL_URI": str(model_folder), "SERVING_PORT": str(client.port)}
    env |= {f"SERVING_{name.upper()}": value for name, value in settings.items()}
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", PACKAGE, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    if client.call("GET", "/ready")[1]["status"] == until:
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
