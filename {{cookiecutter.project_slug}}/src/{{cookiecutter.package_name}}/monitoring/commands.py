"""The `drift` and `should-retrain` commands, which monitoring adds to the CLI (`plugin.py`).

Like the commands of `cli.py`, each imports what it runs when it runs: `--help` stays fast.
"""

import json
from pathlib import Path
from typing import Annotated

import typer

from ..core.console import fail, load_settings, step
from ..core.errors import UserError
from ..core.settings import Settings

# `drift`'s exit code for each verdict of drift.py; 2 is bad input (or lost lineage).
EXIT_CODES = {"no drift": 0, "drift": 1, "not enough data": 3}
BAD_INPUT = 2
COLORS = {"no drift": "green", "drift": "red", "not enough data": "yellow"}


def drift(
    current: Annotated[
        Path,
        typer.Argument(help="New data: a CSV or Parquet file, or a data collector's folder."),
    ],
    reference: Annotated[
        Path | None, typer.Option(help="Compare with this file, not the champion's training set.")
    ] = None,
    output_dir: Annotated[Path, typer.Option(help="Where drift.json and drift.html go.")] = Path(
        "reports/drift"
    ),
    window_days: Annotated[
        float, typer.Option(min=0, help="For a collector's folder: the days to read back.")
    ] = 7,
) -> None:
    """Compare CURRENT with the champion's training data: exit 0 no drift, 1 drift, 2 bad input
    (or lost lineage), 3 not enough data to decide; the reason on stderr."""
    from .drift import check_drift
    from .report import HTML_FILE, write_reports

    settings = load_settings(Settings)
    try:
        result = check_drift(current, settings, reference, window_days=window_days)
    except UserError as err:
        raise fail(f"drift: {err}", BAD_INPUT) from None
    write_reports(result, output_dir)
    for feature in result.features:
        typer.echo(f"{feature.verdict.upper():>15}  {feature.name}: {feature.reason}")
    message = f"{result.explain()}: see {output_dir / HTML_FILE}"
    typer.secho(message, fg=COLORS[result.verdict], err=True)
    raise typer.Exit(EXIT_CODES[result.verdict])


def should_retrain(
    drift_json: Annotated[Path, typer.Argument(help="The drift.json that `drift` wrote.")],
    labelled: Annotated[
        Path | None, typer.Option(help="Recent production data with labels (CSV or Parquet).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Where the decision goes (JSON).")] = Path(
        "reports/drift/decision.json"
    ),
) -> None:
    """Apply the retraining policy (monitoring/policy.py) to a drift report; write the decision."""
    from ..core.files import replaced_atomically
    from ..data.ingest import read_table
    from .policy import gather_evidence
    from .policy import should_retrain as decide

    try:
        summary = json.loads(drift_json.read_text(encoding="utf-8"))
        data = read_table(labelled, "labelled") if labelled else None
    except (OSError, ValueError, UserError) as err:
        raise fail(f"should-retrain: {err}", BAD_INPUT) from None
    with step("should we retrain?"):
        decision = decide(gather_evidence(summary, load_settings(Settings), data))
    with replaced_atomically(output) as partial:
        partial.write_text(json.dumps({"retrain": decision.retrain, "reasons": decision.reasons}))
    verdict = "retrain" if decision.retrain else "no retraining"
    typer.echo(f"{verdict}: {'; '.join(decision.reasons)}")


def add_commands(app: typer.Typer) -> None:
    """The plugin hook: add `drift` and `should-retrain` to the CLI."""
    app.command()(drift)
    app.command(name="should-retrain")(should_retrain)
