"""Benchmark the serving path on the champion: our API against `mlflow models serve`, the
in-process predict floor, batch scoring, and the installed size of the serving dependencies.

Run it from the project root in the dev environment, after `make train`: `make bench`, or
`.venv/bin/python scripts/bench.py --help` for the knobs. Servers run on loopback, one at a time,
each loaded for a fixed time with the same 1-row request. It measures and prints, and exits 0
whatever the numbers: timings on a shared laptop or CI runner are a report, not a test.
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data.layers import (
    TEST_FILE,
)
from {{ cookiecutter.package_name }}.serving.batch import (
    score_files,
)
from {{ cookiecutter.package_name }}.serving.contract import (
    Contract,
)
from {{ cookiecutter.package_name }}.serving.runtime import (
    Predictor,
    load_predictor,
)
from {{ cookiecutter.package_name }}.settings import (
    Settings,
)
from {{ cookiecutter.package_name }}.training.tracking import (
    load_model,
    use_tracking_store,
)

PACKAGE = Settings.__module__.split(".")[0]
HOST = "127.0.0.1"
CHUNK_ROWS = 65_536  # score_files' default batch size
SCORED = "score_files end to end: read+predict+write"

# The bars.
MIN_SPEEDUP = 10.0
MAX_P99_MS = 10.0
MIN_BATCH_ROWS_PER_S = 200_000
MAX_SIZE_RATIO = 1 / 3


@dataclass(frozen=True)
class Load:
    """What a load generator saw: completed requests, elapsed time, latency, non-200 answers."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# How to start a server: its command, its environment, and the path that answers 200 when ready.
Launch = tuple[list[str], dict[str, str], str]


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    body: bytes | None = None


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers on kill too
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        version, folder = download_champion(settings, workdir)
        contract = Contract.load(folder)
        test = pd.read_parquet(settings.curated_dir / TEST_FILE)[list(contract.names)]
        row = test.dropna().iloc[[0]]
        payloads = {
            "records": json.dumps({"records": _records(row)}).encode(),
            "split": json.dumps({"dataframe_split": _split(row)}).encode(),
        }
        generator = pick_generator(args.load_generator, args, workdir)
        report = Report(args, version, generator.name)
        http_benchmarks(args, folder, payloads, generator, workdir, report)
        native = load_model(str(folder))
        say("timing 1-row predictions in process")
        report.floors["native scikit-learn pipeline"] = _time_calls(
            lambda: native.predict_proba(row), args.native_calls
        )
        try:
            predictor = load_predictor(folder)
        except Exception as err:  # reported; the other measurements still stand
            report.notes.append(f"load_predictor failed: {type(err).__name__}: {err}")
        else:
            report.flavor = predictor.flavor
            columns = _columns(row, predictor.contract)
            report.floors[f"{predictor.flavor} predictor"] = _time_calls(
                lambda: predictor.predict(columns), args.calls
            )
            # Batch scoring runs ONNX Runtime with one thread per core, as `score` does.
            batch(args, load_predictor(folder, threads=0), native, test, version, workdir, report)
        if not args.no_sizes:
            sizes(folder, workdir, report)
    report.print()
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--duration", type=int, default=10, help="seconds of load per endpoint (1-120)")
    add("--warmup", type=int, default=2, help="seconds of unmeasured load before each (0-30)")
    add("--connections", type=int, default=8, help="concurrent keep-alive connections (1-64)")
    add("--workers", type=int, default=1, help="server worker processes, ours and mlflow's")
    add("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    add("--wrk-threads", type=int, default=1, help="wrk threads (the machine has few cores)")
    add("--rows", type=int, default=1_000_000, help="rows of the synthetic batch input")
    add("--native-rows", type=int, default=200_000, help="rows for the native batch predict")
    add("--calls", type=int, default=2000, help="1-row calls to time the compiled predictor")
    add("--native-calls", type=int, default=200, help="1-row calls to time the native pipeline")
    add("--no-mlflow", action="store_true", help="skip `mlflow models serve`")
    add("--no-sizes", action="store_true", help="skip the installed-size comparison")
    args = parser.parse_args()
    bounds = {"duration": (1, 120), "warmup": (0, 30), "connections": (1, 64), "workers": (1, 8)}
    for name, (low, high) in bounds.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name} must be between {low} and {high}")
    return args


def say(message: str) -> None:
    print(f"> {message}", file=sys.stderr, flush=True)


# The champion -----------------------------------------------------------------------------


def download_champion(settings: Settings, workdir: Path) -> tuple[str, Path]:
    """The champion's version and a local copy of its folder; exit 2 when there is none."""
    uri = use_tracking_store(settings)
    store = uri.removeprefix("sqlite:///")
    if uri.startswith("sqlite:///") and not Path(store).exists():
        _no_champion(f"{store} does not exist")
    try:
        alias = mlflow.MlflowClient().get_model_version_by_alias(settings.model_name, "champion")
    except mlflow.exceptions.MlflowException as err:
        _no_champion(str(err).splitlines()[0])
    say(f"downloading {settings.model_name} version {alias.version} (champion)")
    target = workdir / str(alias.version)  # the folder name is the version our server reports
    uri = f"models:/{settings.model_name}/{alias.version}"
    root = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(target)))
    folder = min(root.rglob("MLmodel"), key=lambda p: len(p.parts)).parent
    return str(alias.version), folder


def _no_champion(reason: str) -> None:
    print(f"no champion model ({reason}): run `make train` first", file=sys.stderr)
    sys.exit(2)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _split(frame: pd.DataFrame) -> dict[str, Any]:
    return json.loads(frame.to_json(orient="split", index=False))


# Servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(name: str, launch: Launch, port: int, log: Path) -> Iterator[None]:
    """Start a server in its own process group, wait until its probe answers 200, stop it after."""
    command, env, probe = launch
    say(f"starting {name} on port {port}")
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(process, port, probe, log, timeout=180)
        yield
    finally:
        _stop(process)


def _wait_ready(
    process: subprocess.Popen, port: int, probe: str, log: Path, timeout: float
) -> None:
    """Poll until 200; give up early when the process dies or says its model failed to load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {_tail(log)}")
        status, body = _send(port, Target("GET", probe), timeout=2)
        if status == 200:
            return
        if status == 503 and b'"failed"' in body:  # our /ready: the model will not load
            raise RuntimeError(f"{probe} answered {body[:300]!r}")
        time.sleep(0.25)
    raise RuntimeError(f"not ready after {timeout:.0f} s: {_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (uvicorn workers included), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
            return


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(no output)"


def _send(port: int, target: Target, timeout: float = 30) -> tuple[int, bytes]:
    """One request with the standard library: (status, body), or (0, reason) if unreachable."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}{target.path}",
        data=target.body,
        method=target.method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError as err:
        return 0, str(err).encode()


def http_benchmarks(
    args: argparse.Namespace,
    folder: Path,
    payloads: dict[str, bytes],
    generator: "Generator",
    workdir: Path,
    report: "Report",
) -> None:
    """Our server at log level warning (then info), then `mlflow models serve`, one at a time."""
    predict = Target("POST", "/predict", payloads["records"])
    invocations = Target("POST", "/invocations", payloads["split"])
    health = Target("GET", "/health")
    runs: list[tuple[str, Callable[[int], Launch], list[tuple[str, Target]]]] = [
        (
            "ours, log level warning",
            lambda port: _ours(folder, port, "warning", args.workers),
            [("our /predict", predict), ("our /invocations", invocations), ("health", health)],
        ),
        (
            "ours, log level info",
            lambda port: _ours(folder, port, "info", args.workers),
            [("our /predict, log level info", predict)],
        ),
    ]
    if not args.no_mlflow:
        runs.append(
            (
                "mlflow models serve",
                lambda port: _mlflow(folder, port, args.workers),
                [("mlflow models serve /invocations", invocations)],
            )
        )
    for name, build, targets in runs:
        port = free_port()
        try:
            with server(name, build(port), port, workdir / f"server-{port}.log"):
                for label, target in targets:
                    status, body = _send(port, target)
                    if status != 200:
                        raise RuntimeError(f"{target.path} answered {status}: {body[:200]!r}")
                    say(f"{label}: {args.warmup} s warm-up, {args.duration} s measured")
                    generator.run(port, target, args.warmup)
                    report.http[label] = generator.run(port, target, args.duration)
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            say(f"{name} failed: {err}")
            report.notes.append(f"{name} failed: {err}")


def _ours(folder: Path, port: int, level: str, workers: int) -> Launch:
    env = os.environ | {
        "MODEL_URI": str(folder),
        "SERVING_HOST": HOST,
        "SERVING_PORT": str(port),
        "SERVING_LOG_LEVEL": level,
        "SERVING_WORKERS": str(workers),
    }
    return [sys.executable, "-m", PACKAGE, "serve"], env, "/ready"


def _mlflow(folder: Path, port: int, workers: int) -> Launch:
    bin_dir = Path(sys.executable).parent  # `mlflow models serve` calls uvicorn from PATH
    env = os.environ | {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(folder)]
    command += ["--env-manager", "local", "-h", HOST, "-p", str(port), "-w", str(workers)]
    return command, env, "/ping"


# Load generators --------------------------------------------------------------------------


class Generator:
    name = ""

    def run(self, port: int, target: Target, seconds: int) -> Load:
        raise NotImplementedError


class Wrk(Generator):
    """wrk, with a Lua script for the POST body and a parseable summary line."""

    SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %.0f %.0f %.1f %.1f %.0f\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""

    def __init__(self, binary: str, connections: int, threads: int, workdir: Path) -> None:
        self.binary, self.connections, self.workdir = binary, connections, workdir
        self.threads = max(1, min(threads, connections))
        version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout
        self.name = " ".join(version.split()[:2]) or "wrk"

    def run(self, port: int, target: Target, seconds: int) -> Load:
        if seconds <= 0:
            return Load(0, 0.0, 0.0, 0.0, 0)
        body = f"[==[{target.body.decode()}]==]" if target.body else "nil"
        script = self.workdir / "bench.lua"
        script.write_text(self.SCRIPT.format(method=target.method, body=body))
        command = [self.binary, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s"]
        command += ["--timeout", "10s", "-s", str(script), f"http://{HOST}:{port}{target.path}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
        if line is None:
            raise RuntimeError(f"wrk said: {done.stdout[-300:]} {done.stderr[-300:]}")
        requests, micros, p50, p99, errors = (float(x) for x in line.split()[1:])
        return Load(int(requests), micros / 1e6, p50 / 1e3, p99 / 1e3, int(errors))


class PythonClient(Generator):
    """asyncio (uvloop when installed) raw HTTP/1.1 keep-alive connections, prebuilt requests."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        try:
            import uvloop

            self.runner: Callable = uvloop.run
            self.name = "built-in asyncio client (uvloop)"
        except ImportError:
            self.runner = asyncio.run
            self.name = "built-in asyncio client"

    def run(self, port: int, target: Target, seconds: int) -> Load:
        if seconds <= 0:
            return Load(0, 0.0, 0.0, 0.0, 0)
        return self.runner(self._load(port, target, seconds))

    async def _load(self, port: int, target: Target, seconds: int) -> Load:
        body = target.body or b""
        head = f"{target.method} {target.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        if target.body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        request = head.encode() + b"\r\n" + body
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def connection() -> None:
            nonlocal errors
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                while (start := time.perf_counter()) < deadline:
                    writer.write(request)
                    answer = await reader.readuntil(b"\r\n\r\n")
                    await reader.readexactly(_content_length(answer))
                    latencies.append(time.perf_counter() - start)
                    errors += not answer.startswith(b"HTTP/1.1 200 ")
            finally:
                writer.close()

        start = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(connection() for _ in range(self.connections))), seconds + 60
        )
        elapsed = time.perf_counter() - start
        p50, p99 = np.percentile(latencies, [50, 99]) * 1e3 if latencies else (0.0, 0.0)
        return Load(len(latencies), elapsed, float(p50), float(p99), errors)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")


def pick_generator(choice: str, args: argparse.Namespace, workdir: Path) -> Generator:
    wrk = shutil.which("wrk")
    if choice == "wrk" and not wrk:
        sys.exit("wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)")
    if wrk and choice != "python":
        return Wrk(wrk, args.connections, args.wrk_threads, workdir)
    return PythonClient(args.connections)


# In process -------------------------------------------------------------------------------


def _columns(frame: pd.DataFrame, contract: Contract) -> dict[str, np.ndarray]:
    """Column arrays as the API hands them to the predictor: float64 numbers, None for NA."""
    return {
        f.name: frame[f.name].to_numpy(dtype=np.float64, na_value=np.nan)
        if f.kind == "number"
        else frame[f.name].to_numpy(dtype=object, na_value=None)
        for f in contract.features
    }


def _time_calls(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median and p99 milliseconds of `calls` calls, after a few untimed ones."""
    for _ in range(min(20, calls)):
        call()
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        call()
        times[i] = time.perf_counter_ns() - start
    p50, p99 = np.percentile(times, [50, 99]) / 1e6
    return float(p50), float(p99)


def batch(
    args: argparse.Namespace,
    predictor: Predictor,
    native: Any,
    test: pd.DataFrame,
    version: str,
    workdir: Path,
    report: "Report",
) -> None:
    say(f"batch scoring {args.rows:,} rows")
    big = test.sample(n=args.rows, replace=True, random_state=0, ignore_index=True)
    source = workdir / "batch-input.parquet"
    big.to_parquet(source, index=False)
    start = time.perf_counter()
    done = score_files(source, workdir / "batch-output.parquet", predictor, version)
    seconds = time.perf_counter() - start
    report.batch[SCORED] = (done.rows, seconds)

    columns = _columns(big, predictor.contract)
    start = time.perf_counter()
    for low in range(0, args.rows, CHUNK_ROWS):
        predictor.predict(
            {name: values[low : low + CHUNK_ROWS] for name, values in columns.items()}
        )
    label = f"{predictor.flavor} predictor only, 1 thread per core"
    report.batch[label] = (args.rows, time.perf_counter() - start)

    rows = min(args.native_rows, args.rows)
    start = time.perf_counter()
    for low in range(0, rows, CHUNK_ROWS):
        native.predict_proba(big.iloc[low : min(low + CHUNK_ROWS, rows)])
    label = "native pipeline predict_proba only (as trained)"
    report.batch[label] = (rows, time.perf_counter() - start)


# Sizes ------------------------------------------------------------------------------------


def core_requirements() -> list[str]:
    """`[project].dependencies`: what the serving image installs (no `train` extra)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the installed metadata says the same
        dist = metadata.packages_distributions()[PACKAGE][0]
        return [r for r in metadata.requires(dist) or [] if "extra ==" not in r]
    return tomllib.loads(Path("pyproject.toml").read_text())["project"]["dependencies"]


def sizes(folder: Path, workdir: Path, report: "Report") -> None:
    """Install each set into a fresh venv with uv (its cache makes reruns fast) and measure."""
    uv = next(
        (u for u in (os.environ.get("UV"), shutil.which("uv")) if u and Path(u).exists()), None
    )
    if uv is None:
        report.notes.append("sizes skipped: uv not found (set UV=/path/to/uv)")
        return
    model_requirements = (folder / "requirements.txt").read_text().split()
    sets = {
        "serving dependencies (core, no extras)": core_requirements(),
        "full mlflow (mlflow<3.18)": ["mlflow<3.18"],
        "mlflow models serve env (model requirements.txt)": model_requirements,
    }
    for i, (label, requirements) in enumerate(sets.items()):
        say(f"measuring installed size: {label}")
        venv = workdir / f"venv-{i}"
        try:
            subprocess.run(
                [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                check=True,
                capture_output=True,
            )
            python = str(venv / "bin" / "python")
            subprocess.run(
                [uv, "pip", "install", "--quiet", "--python", python, *requirements],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            stderr = (err.stderr or b"").decode(errors="replace").strip().splitlines()
            report.notes.append(f"size of {label} unknown: {stderr[-1:] or err}")
            continue
        report.sizes[label] = _tree_bytes(next(venv.glob("lib/python*/site-packages")))


def _tree_bytes(root: Path) -> int:
    """Apparent size of the files under `root`, each hard-linked file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for parent, _, files in os.walk(root):
        for name in files:
            stat = os.lstat(os.path.join(parent, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


# The report -------------------------------------------------------------------------------


class Report:
    """Everything measured, printed as one aligned table and a verdict per target."""

    SERVING = "serving dependencies (core, no extras)"
    MLFLOW = "full mlflow (mlflow<3.18)"

    def __init__(self, args: argparse.Namespace, version: str, generator: str) -> None:
        self.args, self.version, self.generator = args, version, generator
        self.flavor = "?"
        self.http: dict[str, Load] = {}
        self.floors: dict[str, tuple[float, float]] = {}
        self.batch: dict[str, tuple[int, float]] = {}
        self.sizes: dict[str, int] = {}
        self.notes: list[str] = []

    def print(self) -> None:
        a = self.args
        print(
            f"\nmodel version {self.version} ({self.flavor}), {os.cpu_count()} CPUs,"
            f" {a.workers} server worker(s), {a.connections} connections,"
            f" {a.duration} s per endpoint after {a.warmup} s of warm-up,"
            f" load generator: {self.generator}\n"
        )
        _print_table(self._rows())
        print()
        health, predict = self.http.get("health"), self.http.get("our /predict")
        if health and predict and predict.per_second:
            ratio = health.per_second / predict.per_second
            verdict = "server-bound" if ratio > 1.5 else "perhaps limited by the client"
            print(
                f"The load generator did {health.per_second:,.0f} req/s on /health,"
                f" {ratio:.1f}x the /predict rate: /predict is {verdict}.\n"
            )
        for verdict in self._verdicts():
            print(verdict)
        for note in self.notes:
            print(f"note: {note}")

    def _rows(self) -> list[tuple[str, ...]]:
        mlflow_rps = self._rps("mlflow models serve /invocations")
        rows = [("HTTP, 1-row requests", "req/s", "p50 ms", "p99 ms", "errors", "vs mlflow")]
        for label, load in self.http.items():
            ratio = f"{load.per_second / mlflow_rps:.1f}x" if mlflow_rps else ""
            if label == "health":
                label, ratio = "load generator check: our GET /health", ""
            rate, p50, p99 = f"{load.per_second:,.0f}", f"{load.p50_ms:.2f}", f"{load.p99_ms:.2f}"
            rows.append((f"  {label}", rate, p50, p99, str(load.errors), ratio))
        if self.floors:
            rows.append(("In process, 1-row predict", "", "p50 ms", "p99 ms", "", ""))
        for label, (p50, p99) in self.floors.items():
            rows.append((f"  {label}", "", f"{p50:.3f}", f"{p99:.3f}", "", ""))
        if self.batch:
            rows.append(("Batch", "rows/s", "rows", "seconds", "", ""))
        for label, (count, seconds) in self.batch.items():
            rate = f"{count / seconds:,.0f}"
            rows.append((f"  {label}", rate, f"{count:,}", f"{seconds:.2f}", "", ""))
        if self.sizes:
            rows.append(("Installed size of site-packages", "MB", "", "", "", "vs mlflow"))
        full = self.sizes.get(self.MLFLOW)
        for label, size in self.sizes.items():
            ratio = f"{size / full:.2f}" if full else ""
            rows.append((f"  {label}", f"{size / 1e6:,.0f}", "", "", "", ratio))
        return rows

    def _verdicts(self) -> Iterator[str]:
        predict = self.http.get("our /predict")
        mlflow_rps = self._rps("mlflow models serve /invocations")
        batch = self.batch.get(SCORED)
        serving, full = self.sizes.get(self.SERVING), self.sizes.get(self.MLFLOW)
        speedup = predict.per_second / mlflow_rps if predict and mlflow_rps else None
        p99 = predict.p99_ms if predict and predict.requests else None
        rate = batch[0] / batch[1] if batch else None
        share = serving / full if serving and full else None
        connections = self.args.connections
        yield _verdict(
            f"/predict req/s >= {MIN_SPEEDUP:.0f}x mlflow's", speedup, MIN_SPEEDUP.__le__, "{:.1f}x"
        )
        yield _verdict(
            f"/predict p99 < {MAX_P99_MS:.0f} ms at {connections} connections",
            p99,
            MAX_P99_MS.__gt__,
            "{:.2f} ms",
        )
        yield _verdict(
            f"batch scoring > {MIN_BATCH_ROWS_PER_S:,} rows/s",
            rate,
            float(MIN_BATCH_ROWS_PER_S).__lt__,
            "{:,.0f} rows/s",
        )
        yield _verdict(
            "serving dependencies <= 1/3 of full mlflow's size",
            share,
            MAX_SIZE_RATIO.__ge__,
            "{:.2f}",
        )

    def _rps(self, label: str) -> float | None:
        load = self.http.get(label)
        return load.per_second if load and load.requests else None


def _verdict(label: str, value: float | None, passes: Callable[[float], bool], shown: str) -> str:
    if value is None:
        return f"n/a   {label}: not measured"
    return f"{'PASS' if passes(value) else 'MISS'}  {label}: {shown.format(value)}"


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells).rstrip())


if __name__ == "__main__":
    sys.exit(main())
