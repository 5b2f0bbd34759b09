"""`--kick-html=PATH`: the run report as one self-contained HTML file (no network needed to open it): the verdicts,
every gate's table, the examples that flipped or moved, and plots embedded as PNG (matplotlib, Agg):
accuracy Δ per task and method with its one-sided bounds against the allowance; the change per group of every
safety gate with its bounds (a forest plot); the quality gates' Δ with bounds; fidelity bounds against limits; for a
--kick-compare run, each gate's score across the saved releases of the compared run's folder (trend.py)."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

from ..errors import MissingBackend
from .run import KINDS

PER_FIGURE = 12  # gates per trend figure (3 columns)
TREND_CAPTION = (
    "Trend: each gate's compressed-model score in the saved runs (oldest first, by their time stamp) and in this run, "
    "with 95% intervals per release (accuracy: Wilson; mean score: bootstrap-t), not a paired comparison"
)

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}
.pass{color:#176b2c}.FAIL{color:#b00020;font-weight:bold}pre{background:#f7f7f7;padding:8px;overflow-x:auto}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}.note{color:#8a5a00}"""


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _interval_plot(title: str, rows: Sequence[tuple[str, float, float, float, float]], xlabel: str) -> str | None:
    """One row per label: (label, value, lower, upper, limit); a dashed line at each row's limit."""
    import matplotlib.pyplot as plt

    rows = [r for r in rows if all(math.isfinite(v) for v in r[1:2])]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.2))
    for y, (_, value, lower, upper, limit) in enumerate(rows):
        lo = lower if math.isfinite(lower) else value
        hi = upper if math.isfinite(upper) else value
        ax.plot([lo, hi], [y, y], color="#555", linewidth=2)
        ax.plot([value], [y], "o", color="#1f5fa8")
        if math.isfinite(limit):
            ax.plot([limit, limit], [y - 0.4, y + 0.4], "--", color="#b00020")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _use_matplotlib() -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise MissingBackend("--kick-html needs matplotlib: pip install 'pytest-kick[report]'") from None


def _trend_axes(ax: Any, series: Any, releases: Sequence[str]) -> None:
    """One gate: its score per release (gaps where a release lacks it), this run's point in red."""
    xs = [releases.index(p.release) for p in series.points]
    values = [p.value for p in series.points]
    below = [max(0.0, p.value - p.lower) if math.isfinite(p.lower) else 0.0 for p in series.points]
    above = [max(0.0, p.upper - p.value) if math.isfinite(p.upper) else 0.0 for p in series.points]
    ax.errorbar(xs, values, yerr=[below, above], fmt="-o", color="#1f5fa8", ecolor="#555", capsize=3, markersize=4)
    ax.plot(xs[-1:], values[-1:], "o", color="#b00020", markersize=6)
    ax.set_xticks(range(len(releases)), releases, rotation=40, ha="right", fontsize=7)
    ax.set_xlim(-0.5, len(releases) - 0.5)
    ax.set_ylabel("accuracy" if series.kind == "accuracy" else "mean score", fontsize=8)
    ax.set_title(f"{series.test.rsplit('::', 1)[-1]}\n{series.task} · {series.method}", fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def trend_plots(trend: Any) -> list[tuple[str, str]]:
    """(caption, base64 PNG): the trend as small multiples, PER_FIGURE gates a figure."""
    _use_matplotlib()
    import matplotlib.pyplot as plt

    out = []
    for start in range(0, len(trend.series), PER_FIGURE):
        chunk = trend.series[start : start + PER_FIGURE]
        cols = min(3, len(chunk))
        rows = math.ceil(len(chunk) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 2.8 * rows + 0.4), squeeze=False)
        for ax, series in zip(axes.flat, chunk):
            _trend_axes(ax, series, trend.releases)
        for ax in list(axes.flat)[len(chunk) :]:
            ax.set_visible(False)
        fig.tight_layout()
        out.append((TREND_CAPTION, _png(fig)))
    return out


def plots(results: Sequence[Any]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for every kind of gate the run has: each kind says what it plots (`intervals`)."""
    _use_matplotlib()
    out = []
    for kind in KINDS.values():
        rows = [row for r in results if isinstance(r, kind) for row in r.intervals()]
        if rows:
            caption, title, axis = kind.plot
            out.append((caption, _interval_plot(title, rows, axis)))
    return [(caption, png) for caption, png in out if png]


def _table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in columns)
    body = []
    for row in rows:
        cells = []
        for _, key in columns:
            value = row.get(key, "")
            text = f"{value:.3g}" if isinstance(value, float) else str(value)
            css = f' class="{value}"' if key == "verdict" else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _examples(result: Any) -> str:
    field = result.examples_field
    items = getattr(result, field, ()) if field else ()
    if not items:
        return ""
    lines = [f"[{e.example_id}] {e.prompt}\n    dense: {e.dense}\n    compressed: {e.compressed}" for e in items[:10]]
    summary = f"{html.escape(result.test or result.task)}: {len(items)} example(s)"
    return f"<details><summary>{summary}</summary><pre>{html.escape(chr(10).join(lines))}</pre></details>"


def _figure(caption: str, png: str) -> str:
    return (
        f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _trend_section(comparisons: Sequence[str]) -> list[str]:
    """For a --kick-compare run (baseline.finish's Compared): the trend across the saved runs beside the compared one."""
    from . import baseline  # as the plugin imports it (pytester's in-process runs reset sys.modules, not the package)
    from .trend import collect

    trend = collect(comparisons) if isinstance(comparisons, baseline.Compared) else None
    if trend is None:
        return []
    parts = ["<h2>trend across saved runs</h2>"]
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in trend.notes]
    if not trend.series:
        where = html.escape(str(comparisons.folder))  # type: ignore[attr-defined]
        return parts + [f"<p>no gate of this run is in a saved run of {where} (matched by test, task and method)</p>"]
    return parts + [_figure(caption, png) for caption, png in trend_plots(trend)]


def render(report: Any, comparisons: Sequence[str] = ()) -> str:
    """The whole page. `comparisons`: the comparison lines; when they come from baseline.finish (a Compared), the
    page also plots the trend across the saved runs."""
    results = list(report.results)
    failed = sum(not r.passed for r in results)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pytest-kick report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>pytest-kick report</h1>",
        f"<p>{len(results)} gate(s): {len(results) - failed} passed, {failed} failed.</p>",
    ]
    for kind in KINDS.values():
        of_kind = [r for r in results if isinstance(r, kind)]
        if of_kind:
            parts.append(f"<h2>{kind.kind} gates</h2>")
            parts.append(_table([r.summary() for r in of_kind], of_kind[0].columns))
            parts += [_examples(r) for r in of_kind]
    if comparisons:
        parts.append("<h2>comparison with the saved run</h2><pre>" + html.escape("\n".join(comparisons)) + "</pre>")
    parts += _trend_section(comparisons)
    parts.append("<h2>plots</h2>")
    parts += [_figure(caption, png) for caption, png in plots(results)]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)
