"""The `drift` command's logic, apart from its CLI wiring: print the verdict, return the code."""

from pathlib import Path

import typer

from ..data.ingest import DataValidationError
from ..settings import Settings
from .drift import run_drift
from .inputs import DriftInputError
from .reference import LineageError
from .report import HTML_FILE

DEFAULT_OUTPUT_DIR = Path("reports/drift")
NO_DRIFT, DRIFT, BAD_INPUT = 0, 1, 2


def main(
    current: Path,
    settings: Settings,
    reference: Path | None = None,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    window_days: float = 7,
) -> int:
    """Exit code 0: no drift; 1: drift (a retraining trigger may act on it); 2: nothing could be
    compared (bad input or lost lineage), with the reason on stderr."""
    try:
        result = run_drift(
            current, output_dir, settings, reference_path=reference, window_days=window_days
        )
    except (DriftInputError, DataValidationError, LineageError) as err:
        typer.secho(f"✗ drift: {err}", fg=typer.colors.RED, err=True)
        return BAD_INPUT
    for feature in result.features:
        value = feature.metrics[feature.decider]
        flag = "DRIFT" if feature.drifted else "ok"
        typer.echo(
            f"{flag:>5}  {feature.name:<20} {feature.decider} {value:.4f}"
            f" (threshold {feature.thresholds[feature.decider]})"
        )
    report = Path(output_dir) / HTML_FILE
    if result.drifted:
        typer.secho(
            f"drift in {', '.join(result.drifted_features)}: see {report}", fg="red", err=True
        )
        return DRIFT
    typer.secho(f"no drift in {len(result.features)} features: see {report}", fg="green", err=True)
    return NO_DRIFT
