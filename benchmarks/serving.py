"""Benchmark a freshly baked project's serving path against `mlflow models serve`.

It bakes the template with the default answers (level 0), runs the baked project's `make install`
and `make train`, then measures, inside the baked project's venv, on its champion: our API (ONNX
Runtime) against `mlflow models serve` with the same 1-row request, the in-process predict floor
(ONNX predictor and native scikit-learn pipeline), batch scoring, and the installed size of the
serving dependencies against full MLflow's. It prints a table and a verdict per bar.

    .venv/bin/python benchmarks/serving.py                 # from the template root (`make bench`)
    .venv/bin/python benchmarks/serving.py --duration 3    # quick, for CI

Exit codes: 0 measured (whatever the figures), 1 could not run (bake, install, train, a server
that never got ready), 3 a bar missed under --strict. The measuring half runs as
`<project>/.venv/bin/python benchmarks/serving.py --measure --project <dir>`, because it imports
the baked package; run it so yourself to measure a project kept with --workdir again.
"""

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib  # the baked project's default Python is 3.11, so its venv has it too
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CHUNK_ROWS = 65_536  # score_files' default batch size
SCORED = "score_files end to end: read+predict+write"
# Where the driver finds uv, which the baked project's `make install` calls.
TEMPLATE_BIN = TEMPLATE / ".venv" / "bin"
# Unset for the baked project's make: this process's venv and make are not the project's.
UNSET = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")

# The bars of the template's design (see benchmarks/README.md).
MIN_SPEEDUP = 10.0
MAX_P99_MS = 10.0
MIN_BATCH_ROWS_PER_S = 200_000
MAX_SIZE_RATIO = 1 / 3


class BenchmarkError(Exception):
    """The benchmark cannot run: bake, install, train, a server or the model failed."""


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers on kill too
    try:
        return measure(args) if args.measure else drive(args)
    except BenchmarkError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--workdir", type=Path, help="bake here and keep it (default: a temporary folder)")
    add("--strict", action="store_true", help="exit 3 when a figure misses its bar")
    add("--duration", type=int, default=10, help="seconds of load per endpoint (1-120)")
    add("--warmup", type=int, default=2, help="seconds of unmeasured load before each (0-30)")
    add("--connections", type=int, default=8, help="concurrent keep-alive connections (1-64)")
    add("--workers", type=int, default=1, help="server worker processes, ours and mlflow's")
    add("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    add("--wrk-threads", type=int, default=1, help="wrk threads (the machine has few cores)")
    add("--rows", type=int, default=1_000_000, help="rows of the synthetic batch input")
    add("--native-rows", type=int, default=200_000, help="rows for the native batch predict")
    add("--calls", type=int, default=2000, help="1-row calls to time the ONNX predictor")
    add("--native-calls", type=int, default=200, help="1-row calls to time the native pipeline")
    add("--no-mlflow", action="store_true", help="skip `mlflow models serve`")
    add("--no-sizes", action="store_true", help="skip the installed-size comparison")
    inner = parser.add_argument_group("the measuring half, in a baked project's venv")
    inner.add_argument("--measure", action="store_true", help="measure an installed project")
    inner.add_argument("--project", type=Path, default=Path("."), help="its folder, trained")
    inner.add_argument("--package", help="its import name (default: the one under src/)")
    args = parser.parse_args()
    bounds = {"duration": (1, 120), "warmup": (0, 30), "connections": (1, 64), "workers": (1, 8)}
    for name, (low, high) in bounds.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name} must be between {low} and {high}")
    return args


def say(message: str) -> None:
    print(f"> {message}", file=sys.stderr, flush=True)


# The driver: bake, install, train, measure -----------------------------------------------


def drive(args: argparse.Namespace) -> int:
    """Bake the defaults into the work folder, install and train there, measure with its venv."""
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PATH"] = f"{TEMPLATE_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if not shutil.which("uv", path=env["PATH"]):
        raise BenchmarkError(
            f"no uv in {TEMPLATE_BIN} or on PATH: run `make install` in {TEMPLATE}"
        )
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        else:
            base = args.workdir.resolve()
            base.mkdir(parents=True, exist_ok=True)
        say(f"template {_template_version()}, baking into {base}")
        # -f: a kept work folder is baked over, so its venv and tracking store are reused.
        bake = [sys.executable, "-m", "cookiecutter", "--no-input", "-f", "-o", str(base)]
        _step("bake", [*bake, str(TEMPLATE)], TEMPLATE, env, base)
        project = _baked_project(base)
        _step("make install", ["make", "install"], project, env, base)
        _step("make train", ["make", "train"], project, env, base)
        package = find_package(project)
        command = [str(project / ".venv" / "bin" / "python"), str(Path(__file__).resolve())]
        command += [*sys.argv[1:], "--measure", "--project", str(project), "--package", package]
        say(f"measuring {package} with {project}/.venv/bin/python")
        code = _wait(subprocess.Popen(command, cwd=project, env=env))
    say(f"total wall time {time.perf_counter() - start:.0f} s")
    return code


def _step(name: str, command: list[str], cwd: Path, env: dict[str, str], logs: Path) -> None:
    """Run one step with its output in a log file; its tail in the failure if it fails."""
    say(f"{name}...")
    log = logs / f"{name.replace(' ', '-')}.log"
    start = time.perf_counter()
    with log.open("wb") as out:
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = _tail(log, lines=25, sep="\n")
        raise BenchmarkError(f"{name} exited with {done.returncode}, its log ends:\n{tail}")
    say(f"{name} done ({time.perf_counter() - start:.1f} s, log {log})")


def _wait(process: "subprocess.Popen[bytes]") -> int:
    """The exit code of the measuring process; on our own exit, stop it so it stops its servers."""
    try:
        return process.wait()
    except BaseException:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        raise


def _baked_project(base: Path) -> Path:
    found = [p for p in base.iterdir() if (p / "Makefile").is_file() and (p / "src").is_dir()]
    if len(found) != 1:
        raise BenchmarkError(
            f"expected one baked project in {base}, found {[p.name for p in found]}"
        )
    return found[0]


def find_package(project: Path) -> str:
    found = [p.parent.name for p in (project / "src").glob("*/__init__.py")]
    if len(found) != 1:
        raise BenchmarkError(f"expected one package under {project}/src, found {found}")
    return found[0]


def _template_version() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=TEMPLATE, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "(not a git checkout)"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


# The measuring half: in the baked project's venv ----------------------------------------


def import_project(package: str) -> SimpleNamespace:
    """The modules of the baked package this benchmark uses, by their role."""
    modules = {
        "settings": "core.settings",
        "contract": "core.contract",
        "predictor": "core.predictor",
        "tracking": "core.tracking",
        "prepare": "data.prepare",
        "batch": "serving.batch",
    }
    return SimpleNamespace(
        name=package,
        **{role: importlib.import_module(f"{package}.{path}") for role, path in modules.items()},
    )


def measure(args: argparse.Namespace) -> int:
    project = args.project.resolve()
    os.chdir(project)  # the settings' paths (data/, mlruns.db) are relative to the project
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    pkg = import_project(args.package or find_package(project))
    settings = pkg.settings.Settings()
    with tempfile.TemporaryDirectory(prefix="bench-measure-") as tmp:
        workdir = Path(tmp)
        version, folder = download_champion(pkg, settings, workdir)
        contract = pkg.contract.Contract.load(folder)
        _, test = pkg.prepare.read_curated(settings.curated_dir)
        test = test[list(contract.names)]
        row = test.dropna().iloc[[0]]
        records = json.loads(row.to_json(orient="records"))
        split = json.loads(row.to_json(orient="split", index=False))
        payloads = {
            "records": json.dumps({"records": records}),
            "split": json.dumps({"dataframe_split": split}),
        }
        generator = pick_generator(args, workdir)
        report = Report(args, pkg.name, version, generator.name)
        http_benchmarks(args, pkg.name, folder, payloads, generator, workdir, report)

        say("timing 1-row predictions in process")
        native = pkg.tracking.load_model(str(folder))
        report.floors["native scikit-learn pipeline"] = _time_calls(
            lambda: native.predict_proba(row), args.native_calls
        )
        try:
            predictor = pkg.predictor.load_predictor(folder)
        except Exception as err:
            raise BenchmarkError(f"load_predictor failed: {type(err).__name__}: {err}") from err
        report.flavor = predictor.flavor
        columns = contract.to_columns(row)
        report.floors[f"{predictor.flavor} predictor"] = _time_calls(
            lambda: predictor.predict(columns), args.calls
        )
        # Batch scoring runs ONNX Runtime with one thread per core, as `score` does.
        batch_predictor = pkg.predictor.load_predictor(folder, threads=0)
        batch(args, pkg, batch_predictor, native, test, version, workdir, report)
        if not args.no_sizes:
            sizes(pkg.name, folder, workdir, report)
    report.print()
    if report.failures:
        return 1
    return 3 if args.strict and report.missed else 0


def download_champion(pkg: SimpleNamespace, settings: Any, workdir: Path) -> tuple[str, Path]:
    """The champion's version and a local copy of its folder."""
    import mlflow  # type: ignore[import-not-found]  # the project venv has it, not the template's

    pkg.tracking.use_tracking_store(settings)
    try:
        alias = mlflow.MlflowClient().get_model_version_by_alias(settings.model_name, "champion")
    except mlflow.exceptions.MlflowException as err:
        raise BenchmarkError(
            f"no champion model ({str(err).splitlines()[0]}): run `make train`"
        ) from err
    say(f"downloading {settings.model_name} version {alias.version} (champion)")
    uri = f"models:/{settings.model_name}/{alias.version}"
    # The folder is named after the version: the version our server reports for a folder.
    root = pkg.tracking.download_model(uri, workdir / str(alias.version))
    folder = min(root.rglob("MLmodel"), key=lambda p: len(p.parts)).parent
    return str(alias.version), folder


# Servers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Launch:
    """How to start a server, and the path that answers 200 once it is ready."""

    command: list[str]
    env: dict[str, str]
    probe: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(name: str, launch: Launch, port: int, log: Path) -> Iterator[None]:
    """Start a server in its own process group, wait until its probe answers 200, stop it after."""
    say(f"starting {name} on port {port}")
    with log.open("wb") as out:
        process = subprocess.Popen(
            launch.command,
            env=launch.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, port, launch.probe, log, timeout=180)
        yield
    finally:
        _stop(process)


def _wait_ready(
    process: "subprocess.Popen[bytes]", port: int, probe: str, log: Path, timeout: float
) -> None:
    """Poll until 200; give up early when the process dies or says its model failed to load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"exited with {process.returncode}: {_tail(log)}")
        status, body = _send(port, Target("GET", probe), timeout=2)
        if status == 200:
            return
        if status == 503 and b'"failed"' in body:  # our /ready: the model will not load
            raise BenchmarkError(f"{probe} answered {body[:300]!r}")
        time.sleep(0.25)
    raise BenchmarkError(f"not ready after {timeout:.0f} s: {_tail(log)}")


def _stop(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM to the server's process group (uvicorn workers included), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
            return


def _tail(log: Path, lines: int = 5, sep: str = " | ") -> str:
    text = log.read_text(errors="replace").strip().splitlines()
    return sep.join(text[-lines:]) or "(no output)"


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
    package: str,
    folder: Path,
    payloads: dict[str, str],
    generator: "Generator",
    workdir: Path,
    report: "Report",
) -> None:
    """Our server at log level warning (then info), then `mlflow models serve`, one at a time."""
    predict = Target("POST", "/predict", payloads["records"].encode())
    invocations = Target("POST", "/invocations", payloads["split"].encode())
    health = Target("GET", "/health")
    runs: list[tuple[str, Callable[[int], Launch], list[tuple[str, Target]]]] = [
        (
            "ours, log level warning",
            lambda port: _ours(package, folder, port, "warning", args.workers),
            [("our /predict", predict), ("our /invocations", invocations), ("health", health)],
        ),
        (
            "ours, log level info",
            lambda port: _ours(package, folder, port, "info", args.workers),
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
                        raise BenchmarkError(f"{target.path} answered {status}: {body[:200]!r}")
                    say(f"{label}: {args.warmup} s warm-up, {args.duration} s measured")
                    generator.run(port, target, args.warmup)
                    report.http[label] = generator.run(port, target, args.duration)
        except (BenchmarkError, OSError, subprocess.SubprocessError) as err:
            say(f"{name} failed: {err}")  # measure the rest, then exit 1
            report.failures.append(f"{name}: {err}")


def _ours(package: str, folder: Path, port: int, level: str, workers: int) -> Launch:
    env = os.environ | {
        "MODEL_URI": str(folder),
        "SERVING_HOST": HOST,
        "SERVING_PORT": str(port),
        "SERVING_LOG_LEVEL": level,
        "SERVING_WORKERS": str(workers),
    }
    return Launch([sys.executable, "-m", package, "serve"], env, "/ready")


def _mlflow(folder: Path, port: int, workers: int) -> Launch:
    bin_dir = Path(sys.executable).parent  # `--env-manager local` calls uvicorn from PATH
    env = os.environ | {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(folder)]
    command += ["--env-manager", "local", "-h", HOST, "-p", str(port), "-w", str(workers)]
    return Launch(command, env, "/ping")


# Load generators --------------------------------------------------------------------------


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
            raise BenchmarkError(f"wrk said: {done.stdout[-300:]} {done.stderr[-300:]}")
        requests, micros, p50, p99, errors = (float(x) for x in line.split()[1:])
        return Load(int(requests), micros / 1e6, p50 / 1e3, p99 / 1e3, int(errors))


class PythonClient(Generator):
    """asyncio (uvloop when installed) raw HTTP/1.1 keep-alive connections, prebuilt requests."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        self.runner: Callable[[Coroutine[Any, Any, Load]], Load] = asyncio.run
        self.name = "built-in asyncio client"
        with contextlib.suppress(ImportError):  # uvicorn[standard] installs it
            self.runner = importlib.import_module("uvloop").run
            self.name += " (uvloop)"

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
        p50, p99 = _p50_p99(latencies)
        return Load(len(latencies), elapsed, p50 * 1e3, p99 * 1e3, errors)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise BenchmarkError(f"an answer without Content-Length: {head[:200]!r}")


def pick_generator(args: argparse.Namespace, workdir: Path) -> Generator:
    wrk = shutil.which("wrk")
    if args.load_generator == "wrk" and not wrk:
        raise BenchmarkError("wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)")
    if wrk and args.load_generator != "python":
        return Wrk(wrk, args.connections, args.wrk_threads, workdir)
    return PythonClient(args.connections)


def _p50_p99(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


# In process -------------------------------------------------------------------------------


def _time_calls(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median and p99 milliseconds of `calls` calls, after a few untimed ones."""
    for _ in range(min(20, calls)):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return _p50_p99(times)


def batch(
    args: argparse.Namespace,
    pkg: SimpleNamespace,
    predictor: Any,
    native: Any,
    test: Any,
    version: str,
    workdir: Path,
    report: "Report",
) -> None:
    """score_files on a Parquet file of `--rows` test rows, then the predict calls alone."""
    say(f"batch scoring {args.rows:,} rows")
    big = test.sample(n=args.rows, replace=True, random_state=0, ignore_index=True)
    source = workdir / "batch-input.parquet"
    big.to_parquet(source, index=False)
    output = workdir / "batch-output.parquet"
    done = pkg.batch.score_files(source, output, predictor, version, CHUNK_ROWS)
    report.batch[SCORED] = (done.rows, done.seconds)

    columns = predictor.contract.to_columns(big)
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
    report.batch["native pipeline predict_proba only"] = (rows, time.perf_counter() - start)


# Sizes ------------------------------------------------------------------------------------


def sizes(package: str, folder: Path, workdir: Path, report: "Report") -> None:
    """Install each set into a fresh venv with uv (its cache makes this fast) and measure it."""
    uv = shutil.which("uv")  # the driver puts the template's .venv/bin on PATH
    if uv is None:
        report.notes.append("sizes skipped: uv is not on PATH")
        return
    # What the serving image installs: `[project].dependencies`, no extras.
    core = tomllib.loads(Path("pyproject.toml").read_text())["project"]["dependencies"]
    sets = {
        Report.SERVING: core,
        Report.MLFLOW: ["mlflow<3.18"],
        "mlflow models serve env (model requirements.txt)": (folder / "requirements.txt")
        .read_text()
        .split(),
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
    """Everything measured, printed as one aligned table and a verdict per bar."""

    SERVING = "serving dependencies (core, no extras)"
    MLFLOW = "full mlflow (mlflow<3.18)"

    def __init__(self, args: argparse.Namespace, package: str, version: str, generator: str):
        self.args, self.package, self.version, self.generator = args, package, version, generator
        self.flavor = "?"
        self.http: dict[str, Load] = {}
        self.floors: dict[str, tuple[float, float]] = {}
        self.batch: dict[str, tuple[int, float]] = {}
        self.sizes: dict[str, int] = {}
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.missed = False

    def print(self) -> None:
        a = self.args
        print(
            f"\n{self.package}, champion version {self.version} ({self.flavor}),"
            f" Python {sys.version.split()[0]}, {os.cpu_count()} CPUs,"
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
            self.missed |= verdict.startswith("MISS")
            print(verdict)
        for note in self.notes:
            print(f"note: {note}")
        for failure in self.failures:
            print(f"FAILED: {failure}")

    def _rows(self) -> list[tuple[str, ...]]:
        mlflow_rps = self._rps("mlflow models serve /invocations")
        rows: list[tuple[str, ...]] = [
            ("HTTP, 1-row requests", "req/s", "p50 ms", "p99 ms", "errors", "vs mlflow")
        ]
        for name, load in self.http.items():
            ratio = f"{load.per_second / mlflow_rps:.1f}x" if mlflow_rps else ""
            if name == "health":
                name, ratio = "load generator check: our GET /health", ""
            rate, latency = f"{load.per_second:,.0f}", (f"{load.p50_ms:.2f}", f"{load.p99_ms:.2f}")
            rows.append((f"  {name}", rate, *latency, str(load.errors), ratio))
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
        yield _verdict(
            "the champion is served by ONNX Runtime (the fast path)",
            None if self.flavor == "?" else float(self.flavor == "onnx"),
            bool,
            self.flavor,
        )
        yield _verdict(
            f"/predict req/s >= {MIN_SPEEDUP:.0f}x mlflow's",
            predict.per_second / mlflow_rps if predict and mlflow_rps else None,
            MIN_SPEEDUP.__le__,
            "{:.1f}x",
        )
        yield _verdict(
            f"/predict p99 < {MAX_P99_MS:.0f} ms at {self.args.connections} connections",
            predict.p99_ms if predict and predict.requests else None,
            MAX_P99_MS.__gt__,
            "{:.2f} ms",
        )
        yield _verdict(
            f"batch scoring > {MIN_BATCH_ROWS_PER_S:,} rows/s",
            batch[0] / batch[1] if batch else None,
            float(MIN_BATCH_ROWS_PER_S).__lt__,
            "{:,.0f} rows/s",
        )
        yield _verdict(
            "serving dependencies <= 1/3 of full mlflow's size",
            serving / full if serving and full else None,
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
