"""drift.json for machines, drift.html for people: one self-contained file, plots inlined."""

import base64
import html
import io
import json
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..core.files import replaced_together
from .drift import DriftResult, FeatureDrift
from .thresholds import METRICS, MIN_VALUES, SIGNIFICANCE

JSON_FILE = "drift.json"
HTML_FILE = "drift.html"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 64rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.drift { color: #b00020; font-weight: bold; }
.muted { color: #666; }
"""


def write_reports(result: DriftResult, output_dir: Path) -> tuple[Path, Path]:
    """Write both reports, or neither: a reader (or CI artifact upload) never sees half of one,
    nor a drift.json beside the drift.html of another run."""
    summary = json.dumps(result.summary(), indent=2) + "\n"
    page = render_html(result)
    paths = (output_dir / JSON_FILE, output_dir / HTML_FILE)
    with replaced_together(*paths) as (json_file, html_file):
        json_file.write_text(summary, encoding="utf-8")
        html_file.write_text(page, encoding="utf-8")
    return paths


def render_html(result: DriftResult) -> str:
    css = {"drift": "drift", "not enough data": "muted"}.get(result.verdict, "")
    verdict = f'<p class="{css}">{html.escape(result.explain().capitalize())}.</p>'
    lineage = ", ".join(
        f"{k} <code>{html.escape(str(v))}</code>" for k, v in result.lineage.items()
    )
    sections = "".join(
        f"<h2>{html.escape(f.name)}</h2>"
        f'<img alt="{html.escape(f.name)}: reference vs current" src="data:image/png;base64,'
        f'{_plot(f)}">'
        for f in result.features
        if f.drifted
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data drift report</title>
<style>{STYLE}</style></head><body>
<h1>Data drift report</h1>
{verdict}
<p>Reference: {result.reference_rows} rows ({lineage}).<br>
Current: {result.current_rows} rows (<code>{html.escape(result.current)}</code>).</p>
<p class="muted">A feature drifted when its deciding distance (Azure ML's data drift signal:
{html.escape(_deciders(result))}) is above its threshold <em>and</em> more than the noise of
the window's size: a permutation test of that distance, significant at {SIGNIFICANCE} after
Holm's correction over the features. With fewer than {MIN_VALUES} values of a feature, there is
not enough data to decide.</p>
{_verdicts(result)}
<h2>Every metric</h2>
<p class="muted">The deciding metric underlined; the others with advisory thresholds (in
brackets). Distances are breached above their threshold, p-values below.</p>
{_table(result)}
{sections}
</body></html>
"""


def _deciders(result: DriftResult) -> str:
    spec = result.thresholds.as_spec()
    return "; ".join(f"{kind} {m} > {t}" for kind, d in spec.items() for m, t in d.items())


def _verdicts(result: DriftResult) -> str:
    """One row per feature: the verdict, the two rules' numbers, and the reason."""
    rows = []
    for feature in result.features:
        css = {"drift": "drift", "not enough data": "muted"}.get(feature.verdict, "")
        p_values = (
            ""
            if feature.p_value is None or feature.adjusted_p_value is None
            else f"{feature.p_value:.4f} / {feature.adjusted_p_value:.4f}"
        )
        rows.append(
            f'<tr><td>{html.escape(feature.name)}</td><td class="{css}">{feature.verdict}</td>'
            f'<td class="num">{feature.distance:.4f} ({feature.threshold:g})</td>'
            f'<td class="num">{p_values}</td>'
            f'<td class="num">{feature.values[0]} / {feature.values[1]}</td>'
            f"<td>{html.escape(feature.reason)}</td></tr>"
        )
    return (
        "<table><tr><th>feature</th><th>verdict</th><th>distance (threshold)</th>"
        "<th>p / after Holm</th><th>values: reference / current</th><th>why</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _table(result: DriftResult) -> str:
    """One row per feature, one column per metric; the deciding metric's cell is underlined."""
    metrics = list(dict.fromkeys(m for kind in METRICS.values() for m in kind))
    rows = []
    for feature in result.features:
        breaches = feature.breaches()
        cells = []
        for metric in metrics:
            if metric not in feature.metrics:
                cells.append("<td></td>")
                continue
            value = f"{feature.metrics[metric]:.4g}"
            if metric == feature.decider:
                value = f"<u>{value}</u>"
            drift = " drift" if breaches[metric] else ""
            limit = f'<span class="muted">({feature.thresholds[metric]:g})</span>'
            cells.append(f'<td class="num{drift}">{value} {limit}</td>')
        rows.append(
            f"<tr><td>{html.escape(feature.name)}</td><td>{feature.kind}</td>{''.join(cells)}</tr>"
        )
    header = "".join(f"<th>{m.replace('_', ' ')}</th>" for m in metrics)
    return f"<table><tr><th>feature</th><th>kind</th>{header}</tr>{''.join(rows)}</table>"


def _plot(feature: FeatureDrift) -> str:
    """Reference vs current shares: overlaid histograms for numbers, grouped bars for
    categories. A PNG as base64, drawn without pyplot (no global state, no display). Names and
    categories are data: `$` in them is a dollar, never matplotlib's math notation."""
    with matplotlib.rc_context({"text.parse_math": False}):
        return _draw(feature)


def _draw(feature: FeatureDrift) -> str:
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.subplots()
    dist = feature.distribution
    reference, current = dist.shares()
    if dist.edges is not None:
        axes.stairs(reference, dist.edges, fill=True, alpha=0.5, label="reference")
        axes.stairs(current, dist.edges, fill=True, alpha=0.5, label="current")
        axes.set_xlabel(feature.name)
    else:
        x = np.arange(len(dist.labels))
        axes.bar(x - 0.2, reference, width=0.4, label="reference")
        axes.bar(x + 0.2, current, width=0.4, label="current")
        axes.set_xticks(x, dist.labels)
    metric = feature.decider
    axes.set_title(f"{feature.name}: {metric} {feature.metrics[metric]:.3g}")
    axes.set_ylabel("share of rows")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
