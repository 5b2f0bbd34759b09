"""The HTML page's figures (matplotlib, Agg): every check with its bounds against its allowance, one axis per unit,
each point marked by its outcome in colour and in shape (with a legend), and the trend across saved releases.
matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MissingBackend

if TYPE_CHECKING:  # pragma: no cover
    from ..gates.gate import GateResult, Interval
    from .trend import Series, Trend

# colour, marker, filled: the outcomes differ in shape as well as colour (grey print, colour-blind readers)
OUTCOME_STYLE = {
    "within": ("#1b7f3b", "o", True),
    "regressed": ("#b00020", "X", True),
    "inconclusive": ("#6b6b6b", "D", False),
}
UNKNOWN = ("#333333", "s", False)  # an outcome this page does not know (a newer result kind)
SAVED = "#4a6fa5"  # a saved release's point on the trend
LIMIT = "#b00020"
PER_FIGURE = 12  # gates per trend figure (3 columns)
TREND_CAPTION = (
    "Trend: each gate's compressed-model score in the saved runs (oldest first, by their time stamp) and in this run, "
    "with 95% intervals per release (accuracy: Wilson; mean score: bootstrap-t), not a paired comparison; "
    "this run's point is marked by its gate's outcome"
)


def use_matplotlib() -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise MissingBackend("--kick-html needs matplotlib: pip install 'pytest-kick[report]'") from None


def png(fig: Any) -> str:
    """The figure as base64 PNG (and closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def mark(ax: Any, x: float, y: float, outcome: str, size: float = 8) -> None:
    colour, marker, filled = OUTCOME_STYLE.get(outcome, UNKNOWN)
    face = colour if filled else "white"
    ax.plot([x], [y], marker=marker, markersize=size, color=colour, markerfacecolor=face, markeredgewidth=1.5, linestyle="none", zorder=3)


def outcome_handles(prefix: str = "") -> list[Any]:
    from matplotlib.lines import Line2D

    handles = []
    for outcome, (colour, marker, filled) in OUTCOME_STYLE.items():
        face = colour if filled else "white"
        handles.append(
            Line2D([], [], marker=marker, color=colour, markerfacecolor=face, markeredgewidth=1.5, linestyle="none", label=prefix + outcome)
        )
    return handles


def missing_bound(lower: float, upper: float) -> str:
    """What the plot says beside a point whose interval is not (wholly) known: never drawn as a clean pass."""
    if not math.isfinite(lower) and not math.isfinite(upper):
        return "no interval"
    return "" if math.isfinite(lower) and math.isfinite(upper) else ("no upper bound" if math.isfinite(lower) else "no lower bound")


def _axis_rows(ax: Any, rows: Sequence[Interval]) -> None:
    """One axis (one unit): each row's interval, its outcome's marker, its limit (dashed); a missing bound said."""
    for y, row in enumerate(rows):
        if not math.isfinite(row.value):  # nothing measured: said in words, no point
            ax.text(
                0.5,
                y,
                "no estimate (inconclusive)",
                transform=ax.get_yaxis_transform(),
                ha="center",
                va="center",
                fontsize=8,
                color="#6b6b6b",
            )
            continue
        lo = row.lower if math.isfinite(row.lower) else row.value
        hi = row.upper if math.isfinite(row.upper) else row.value
        ax.plot([lo, hi], [y, y], color="#555", linewidth=2, zorder=2)
        mark(ax, row.value, y, row.outcome)
        if math.isfinite(row.limit):
            ax.plot([row.limit, row.limit], [y - 0.4, y + 0.4], "--", color=LIMIT, zorder=1)
        missing = missing_bound(row.lower, row.upper)
        if missing:
            ax.annotate(missing, (row.value, y), xytext=(8, 5), textcoords="offset points", fontsize=7, color="#6b6b6b", style="italic")
    ax.set_yticks(range(len(rows)), [f"{r.label}  [{r.outcome}]" for r in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first row on top
    ax.grid(axis="x", alpha=0.3)


def interval_figure(title: str, rows: Sequence[Interval]) -> Any | None:
    """Every row on the axis of its unit (one subplot per unit, each labelled with it), with a legend of outcomes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if not rows:
        return None
    units: dict[str, list[Interval]] = {}
    for row in rows:
        units.setdefault(row.axis, []).append(row)
    heights = [len(r) + 1.2 for r in units.values()]
    fig, axes = plt.subplots(
        len(units), 1, figsize=(7.5, 0.42 * sum(heights) + 1.2), height_ratios=heights, layout="constrained", squeeze=False
    )
    for ax, (axis, of_unit) in zip(axes[:, 0], units.items()):
        _axis_rows(ax, of_unit)
        ax.set_xlabel(axis, fontsize=9)
    axes[0, 0].set_title(title, fontsize=10)
    limit = Line2D([], [], linestyle="--", color=LIMIT, label="allowed (limit)")
    bounds = Line2D([], [], color="#555", linewidth=2, label="bounds")
    fig.legend(handles=[*outcome_handles(), bounds, limit], loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    return fig


def interval_plots(kinds: Sequence[type[GateResult]], results: Sequence[GateResult]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for every kind of gate the run has: each kind says what it plots (`intervals`)."""
    use_matplotlib()
    out = []
    for kind in kinds:
        rows = [row for r in results if isinstance(r, kind) for row in r.intervals()]
        caption, title, _ = kind.plot
        fig = interval_figure(title, rows)
        if fig is not None:
            out.append((caption, png(fig)))
    return out


def frontier_figure(answer: Mapping[str, Any]) -> Any | None:
    """One sweep as a Pareto plot: each run candidate's size (x) against its worst accuracy gate's margin (y; 0 is
    the allowance), marked by outcome; implied candidates as hollow marks on the axis; the frontier drawn at the
    most compressed candidate that passes every gate."""
    import matplotlib.pyplot as plt

    points = [c for c in answer["candidates"] if c["size_value"] is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    style = {"pass": "within", "fail": "regressed"}
    for c in points:
        if c["status"] in style and c["worst_margin"] is not None:
            mark(ax, c["size_value"], c["worst_margin"], style[c["status"]])
        else:  # implied, or no accuracy gate to take a margin from: on the allowance line, hollow
            mark(ax, c["size_value"], 0.0, "inconclusive")
        ax.annotate(c["method"], (c["size_value"], c["worst_margin"] or 0.0), textcoords="offset points", xytext=(4, 6), fontsize=7)
    ax.axhline(0.0, color="#a00", linestyle="--", linewidth=1)
    best = next((c for c in points if c["method"] == answer["passes"]), None)
    if best is not None:
        ax.axvline(best["size_value"], color="#1a7f37", linestyle=":", linewidth=1.5)
    ax.set_xlabel("size vs a 16-bit dense model (bits per weight / 16, or share of weights kept)")
    ax.set_ylabel("worst accuracy margin")
    ax.set_title(f"frontier of {answer['sweep']}")
    ax.invert_xaxis()  # more compressed to the right
    handles = outcome_handles()
    ax.legend(handles=handles, labels=["pass (run)", "fail (run)", "implied / no margin"], fontsize=7, loc="best")
    return fig


def frontier_plots(answers: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for answer in answers:
        fig = frontier_figure(answer)
        if fig is not None:
            caption = (
                f"Frontier of {answer['sweep']}: worst accuracy margin against size; dashed: the allowance; dotted: "
                f"the most compressed candidate that passes every gate ({answer['passes'] or 'none'})"
            )
            out.append((caption, png(fig)))
    return out


def _trend_axes(ax: Any, series: Series, releases: Sequence[str], outcome: str) -> None:
    """One gate: its score per release (gaps where a release lacks it); this run's point marked by its outcome."""
    xs = [releases.index(p.release) for p in series.points]
    values = [p.value for p in series.points]
    below = [max(0.0, p.value - p.lower) if math.isfinite(p.lower) else 0.0 for p in series.points]
    above = [max(0.0, p.upper - p.value) if math.isfinite(p.upper) else 0.0 for p in series.points]
    ax.errorbar(xs, values, yerr=[below, above], fmt="-o", color=SAVED, ecolor="#555", capsize=3, markersize=4)
    if math.isfinite(values[-1]):
        mark(ax, xs[-1], values[-1], outcome, size=9)
    labels = list(releases)
    for x, p in zip(xs, series.points):  # a saved gate of another method (matched as the comparison matches)
        labels[x] += f" ({p.method})" if p.method and p.method != series.method else ""
    ax.set_xticks(range(len(releases)), labels, rotation=40, ha="right", fontsize=7)
    ax.set_xlim(-0.5, len(releases) - 0.5)
    ax.set_ylabel("accuracy (share right)" if series.kind == "accuracy" else "mean score", fontsize=8)
    ax.set_title(f"{series.test.rsplit('::', 1)[-1]}\n{series.task} · {series.method} · this run: {outcome}", fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def trend_figures(trend: Trend, outcomes: Mapping[tuple[str, str, str], str]) -> list[Any]:
    """The trend as small multiples, PER_FIGURE gates a figure. `outcomes`: this run's outcome per gate, by
    (test without its method parameter, task, method)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    figures = []
    for start in range(0, len(trend.series), PER_FIGURE):
        chunk = trend.series[start : start + PER_FIGURE]
        cols = min(3, len(chunk))
        rows = math.ceil(len(chunk) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 2.8 * rows + 0.8), squeeze=False, layout="constrained")
        for ax, series in zip(axes.flat, chunk):
            _trend_axes(ax, series, trend.releases, outcomes.get((series.test, series.task, series.method), "unknown"))
        for ax in list(axes.flat)[len(chunk) :]:
            ax.set_visible(False)
        saved = Line2D([], [], marker="o", color=SAVED, markersize=4, label="saved release (95% interval)")
        fig.legend(
            handles=[saved, *outcome_handles("this run: ")], loc="outside lower center", ncol=min(4, 2 * cols), fontsize=8, frameon=False
        )
        figures.append(fig)
    return figures


def trend_plots(trend: Trend, outcomes: Mapping[tuple[str, str, str], str]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) of each trend figure."""
    use_matplotlib()
    return [(TREND_CAPTION, png(fig)) for fig in trend_figures(trend, outcomes)]
