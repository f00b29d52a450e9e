"""The scoring script of the Azure ML batch deployment (azureml/deploy/batch-deployment.yml).

Azure ML calls `init()` once per worker and `run()` with each mini-batch of input files. Both go
through `score_files`, the code of `make score`: the same contract checks, the same model file,
the same output columns; this module only adapts it to the batch deployment's interface.
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

if not __package__:  # Azure ML loads this file by its path, outside of its package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from {{ cookiecutter.package_name }}.core.predictor import (
    Predictor,
    load_predictor,
)
from {{ cookiecutter.package_name }}.core.settings import (
    ServingSettings,
)
from {{ cookiecutter.package_name }}.serving.batch import (
    score_files,
)
from {{ cookiecutter.package_name }}.serving.source import (
    ModelSource,
    locate_model,
)

_loaded: dict[str, tuple[ModelSource, Predictor]] = {}


def init() -> None:
    """Load the model that Azure ML mounted under AZUREML_MODEL_DIR, once per worker."""
    source = locate_model(ServingSettings())
    _loaded["model"] = (source, load_predictor(source.folder, threads=0))


def run(mini_batch: list[str]) -> pd.DataFrame:
    """Score each file of the mini-batch; the rows are appended to the job's predictions.csv."""
    source, predictor = _loaded["model"]
    frames = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in map(Path, mini_batch):
            scored = score_files(path, Path(scratch) / "scored.parquet", predictor, source.version)
            frames.append(pd.read_parquet(scored.output).assign(source_file=path.name))
    return pd.concat(frames, ignore_index=True)
