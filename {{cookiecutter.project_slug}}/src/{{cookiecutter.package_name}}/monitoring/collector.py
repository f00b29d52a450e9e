"""Production data collection on an Azure ML online deployment, off the request path.

Azure ML's data collector stores what a deployment scores in the workspace's blob storage, where
model monitoring and `window.read_window` read it back. A custom container reaches it through
`azureml-ai-monitoring` (the `collect` extra): its `Collector` posts pandas DataFrames to a
sidecar that Azure ML runs when the deployment spec has a `data_collector:` block, and points
the package to with environment variables (`AZUREML_MDC_CONFIG_PATH`, a JSON file listing the
enabled collections; or `AZUREML_MDC_ENABLED=true`, with `AZUREML_MDC_HOST` and `_PORT`).
Scored requests become two collections, correlated row by row:
- `model_inputs`: the records, one column per feature (the names of the data contract);
- `model_outputs`: the predicted class, in a column named by SERVING_PREDICTION_COLUMN (the
  deployment sets it to the training set's target, the column the model monitor compares
  predictions with; `label` by default), and `probability_<class>` for each class.

Without those variables (a laptop, CI, any other host), or without the package, nothing is
collected and nothing is paid: `model_data_collector()` returns None. When collecting, a request
only puts its arrays on a bounded queue (~1.5 µs). A thread gathers the requests of up to a
second into one DataFrame per collection, which the package's own queue and thread post. Sent
request by request instead, the package's two DataFrames and two HTTP posts per request held
the GIL long enough to take a busy server (2 cores, 1-record requests back to back) from 0.58
to 2.3 ms per request, and most data was dropped; batched, 0.58 to 0.62 ms, every row stored.
A batch goes out under its first request's id (the caller's `x-request-id`, else the app's),
and its inputs and outputs rows are in the same order: Azure ML's monitor pairs them as
`<correlationid>_<row>`. A full queue drops data rather than slow requests, and a failure of
collection never reaches a request. Data still queued when the process stops (normally at most
a second's worth) is lost.
"""

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

log = logging.getLogger(__name__)

INPUTS, OUTPUTS = "model_inputs", "model_outputs"
# The variables the package reads its configuration from (azureml/ai/monitoring/config).
CONFIG_PATH_VARIABLE = "AZUREML_MDC_CONFIG_PATH"
ENABLED_VARIABLE = "AZUREML_MDC_ENABLED"
PREDICTION_COLUMN_VARIABLE = "SERVING_PREDICTION_COLUMN"
QUEUE_CAPACITY = 10_000  # scored requests waiting for the collection thread
LINGER_S = 1.0  # how long a batch waits for more requests
MAX_BATCH_ROWS = 5_000  # keeps a payload well under the 4 MB the sidecar stores inline
WARNING_INTERVAL_S = 60.0


class CollectionOffError(RuntimeError):
    """The data collector's configuration enables neither collection."""


class Scored(NamedTuple):
    """One scored request, as the app observed it."""

    timestamp: int
    request_id: str
    columns: Mapping[str, np.ndarray]
    labels: np.ndarray
    probabilities: np.ndarray
    classes: Sequence[str]


def collection_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether Azure ML set up a data collector for this process (the package's own test)."""
    return bool(environ.get(CONFIG_PATH_VARIABLE)) or (
        environ.get(ENABLED_VARIABLE, "").lower() == "true"
    )


def scoring_observers() -> list["ModelDataCollector"]:
    """The plugin hook: the data collector as the server's observer, when there is one."""
    collector = model_data_collector()
    return [] if collector is None else [collector]


def model_data_collector() -> "ModelDataCollector | None":
    """The collector of this deployment, or None: off Azure ML, without the `collect` extra, or
    when the deployment's `data_collector:` enables neither collection. It never raises: the
    server starts either way, and a warning says why nothing is collected."""
    if not collection_configured():
        return None
    try:
        return ModelDataCollector(
            prediction_column=os.environ.get(PREDICTION_COLUMN_VARIABLE) or "label"
        )
    except ImportError as err:
        log.warning("data collection is configured, but %s: install the `collect` extra", err)
    except Exception as err:  # a bad configuration must not stop the server
        log.warning("data collection is configured, but off: %s", err)
    return None


class ModelDataCollector:
    """Send scored requests' inputs and outputs to Azure ML's data collector, in batches.

    Call it as the app's observer: `collector(request_id, columns, labels, probabilities,
    classes)`. Only the collections the configuration enables are sent; with neither,
    construction fails with `CollectionOffError`.
    """

    def __init__(self, capacity: int = QUEUE_CAPACITY, prediction_column: str = "label") -> None:
        import pandas  # noqa: F401  (the package needs it; fail here, not in the thread)
        from azureml.ai.monitoring import Collector
        from azureml.ai.monitoring.context import BasicCorrelationContext

        self._context = BasicCorrelationContext
        self._prediction_column = prediction_column
        self.dropped = 0
        self._warned_at = -math.inf
        # The package reports a disabled collection through on_error when it is created: keep
        # those reports to decide what to collect; later ones are dropped data, logged.
        self._setup_errors: list[Exception] | None = []
        self._collectors: dict[str, Any] = {}
        for name in (INPUTS, OUTPUTS):
            collector = Collector(name=name, on_error=self._on_error)
            if self._setup_errors:
                log.info("data collection of %s is off: %s", name, self._setup_errors[-1])
                self._setup_errors.clear()
            else:
                self._collectors[name] = collector
        self._setup_errors = None
        if not self._collectors:
            raise CollectionOffError(f"neither {INPUTS} nor {OUTPUTS} is enabled")

        self._queue: queue.Queue[Scored] = queue.Queue(maxsize=capacity)
        threading.Thread(target=self._run, name="model-data-collector", daemon=True).start()
        log.info("collecting model data", extra={"fields": {"collections": [*self._collectors]}})

    def __call__(
        self,
        request_id: str,
        columns: Mapping[str, np.ndarray],
        labels: np.ndarray,
        probabilities: np.ndarray,
        classes: Sequence[str],
    ) -> None:
        """Queue one scored request, without copying it; never blocks nor raises."""
        try:
            self._queue.put_nowait(
                Scored(int(time.time()), request_id, columns, labels, probabilities, classes)
            )
        except queue.Full:
            self._warn("the collection queue is full: a request's data was dropped")

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._send(batch)
            except Exception as err:  # one bad batch must not stop collection
                self._warn(f"{len(batch)} request(s) could not be collected: {err!r}")

    def _next_batch(self) -> list[Scored]:
        """Wait for a request, then let others join it for LINGER_S, up to MAX_BATCH_ROWS."""
        batch = [self._queue.get()]
        rows = len(batch[0].labels)
        deadline = time.monotonic() + LINGER_S
        while rows < MAX_BATCH_ROWS and (wait := deadline - time.monotonic()) > 0:
            try:
                batch.append(self._queue.get(timeout=wait))
            except queue.Empty:
                break
            rows += len(batch[-1].labels)
        return batch

    def _send(self, batch: list[Scored]) -> None:
        import pandas as pd

        first = batch[0]
        context = self._context(id=first.request_id, timestamp=first.timestamp)
        if INPUTS in self._collectors:
            inputs = pd.DataFrame(
                {name: np.concatenate([s.columns[name] for s in batch]) for name in first.columns}
            )
            context = self._collectors[INPUTS].collect(inputs, context)
        if OUTPUTS in self._collectors:
            outputs = pd.DataFrame(
                np.concatenate([s.probabilities for s in batch]),
                columns=[f"probability_{c}" for c in first.classes],
            )
            predicted = [str(label) for s in batch for label in s.labels]
            outputs.insert(0, self._prediction_column, predicted)
            self._collectors[OUTPUTS].collect(outputs, context)

    def _on_error(self, err: Exception) -> None:
        if self._setup_errors is not None:
            self._setup_errors.append(err)
        else:
            self._warn(f"the data collector dropped data: {err}")

    def _warn(self, message: str) -> None:
        """Log a drop, at most once a minute: a lost sidecar must not flood the logs."""
        self.dropped += 1
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL_S:
            self._warned_at = now
            log.warning("%s (%d dropped so far)", message, self.dropped)
