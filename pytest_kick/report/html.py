"""`--kick-html=PATH`: the run report as one self-contained HTML file (no network needed to open it): the verdicts,
every gate's table, the examples that flipped or moved, the comparison lines, and plots embedded as PNG (plots.py).
Every verdict word is an element of class `verdict` that wraps with its line and is never cut off; paths are shown
relative to the run's root dir (a page is shared), never absolute."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .plots import interval_plots, trend_plots
from .run import KINDS

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0;max-width:100%}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;overflow-wrap:break-word}th{background:#f3f3f3}
td.long{overflow-wrap:anywhere}
@media (max-width:960px){body{margin:1em}td,th{padding:2px 4px;font-size:12px}th{overflow-wrap:anywhere}}
.verdict{white-space:nowrap;font-weight:600}.pass,.within{color:#176b2c}.FAIL,.regressed{color:#b00020;font-weight:bold}
.inconclusive,.no-evidence{color:#5f5f5f;font-style:italic}
pre,.lines li{background:#f7f7f7;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:13px}
.lines{list-style:none;padding:0}.lines li{margin:4px 0}
img{max-width:100%;height:auto;border:1px solid #ddd;margin:.5em 0}.note{color:#8a5a00;overflow-wrap:anywhere}"""
LONG_WORD = 16  # a table cell of one longer word (a test id) may break anywhere; others break between words
WORDS = ("pass", "FAIL", "no evidence", "within", "regressed", "inconclusive")
# a comparison line ends its numbers with "(N unmatched): <outcome> <verdict>"
COMPARED = re.compile(r"(\(\d+ unmatched\): )(within|regressed|inconclusive) (pass|FAIL)")


def verdict(word: str) -> str:
    """A verdict or outcome word as the page shows it: coloured, never broken inside, found by its class."""
    return f"<span class='verdict {word.replace(' ', '-')}'>{html.escape(word)}</span>"


def shown_path(path: Any, root: Path) -> str:
    """A path as a shared page shows it: relative to the run's root dir, else its file name; never absolute."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return Path(path).name


def relative(text: str, root: Path) -> str:
    """`text` with the run's root dir taken off every path under it (what a message may have named in full)."""
    for prefix in {str(root), str(root.resolve())}:
        text = text.replace(prefix + "/", "") if len(Path(prefix).parts) > 1 else text  # never the bare "/"
    return text


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
            css = " class='long'" if len(text) > LONG_WORD and " " not in text else ""  # a test id: may break anywhere
            cells.append(f"<td{css}>{verdict(text) if text in WORDS else html.escape(text)}</td>")
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


def _comparisons(lines: Sequence[str]) -> str:
    """One block per comparison line, wrapped at any width, its outcome and verdict as verdict words."""
    items = [COMPARED.sub(lambda m: m[1] + verdict(m[2]) + " " + verdict(m[3]), html.escape(line), count=1) for line in lines]
    return "<h2>comparison with the saved run</h2><ul class='lines'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _figure(caption: str, png: str) -> str:
    return (
        f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _trend_section(comparisons: Sequence[str], results: Sequence[Any], root: Path) -> list[str]:
    """For a --kick-compare run (baseline.finish's Compared): the trend across the saved runs beside the compared one,
    this run's point of each gate marked by the gate's outcome."""
    from . import baseline  # as the plugin imports it (pytester's in-process runs reset sys.modules, not the package)
    from .trend import collect

    trend = collect(comparisons) if isinstance(comparisons, baseline.Compared) else None
    if trend is None:
        return []
    parts = ["<h2>trend across saved runs</h2>"]
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in trend.notes]
    if not trend.series:
        where = html.escape(shown_path(comparisons.folder, root))  # type: ignore[attr-defined]
        return parts + [f"<p>no gate of this run is in a saved run of {where} (matched as the comparison matches: test, task and kind)</p>"]
    outcomes = {(baseline.unparametrized(r.test), r.task, r.method): getattr(r, "outcome", "") for r in results}
    return parts + [_figure(caption, png) for caption, png in trend_plots(trend, outcomes)]


def _frontier_section(answers: Sequence[dict]) -> list[str]:
    """--kick-sweep: per sweep its candidates' table, its answer, and the Pareto plot."""
    if not answers:
        return []
    from .plots import frontier_plots

    parts = ["<h2>compression frontier</h2>"]
    columns = [("candidate", "method"), ("size", "size"), ("speed vs dense", "speed_vs_dense"), ("outcome", "status"), ("why", "why")]
    for answer in answers:
        fails = f"{answer['fails']} ({answer['failed_by']})" if answer["fails"] else "none"
        parts.append(f"<h3>{html.escape(answer['sweep'])}</h3>")
        parts.append(
            f"<p>most compressed that passes every gate: <b>{html.escape(answer['passes'] or 'none')}</b>; "
            f"first that fails: {html.escape(fails)}; {answer['run']} of {len(answer['candidates'])} candidates run.</p>"
        )
        parts += [f"<p class='verdict-line'>{verdict('FAIL')} monotonicity violated: {html.escape(v)}</p>" for v in answer["violations"]]
        parts.append(_table([{k: "" if v is None else v for k, v in c.items()} for c in answer["candidates"]], columns))
    parts += [_figure(caption, png) for caption, png in frontier_plots(answers)]
    return parts


def render(report: Any, comparisons: Sequence[str] = ()) -> str:
    """The whole page. `comparisons`: the comparison lines; when they come from baseline.finish (a Compared), the
    page also plots the trend across the saved runs, and shows paths relative to its root dir (else the working
    directory)."""
    results = list(report.results)
    root = Path(getattr(comparisons, "root", None) or Path.cwd())
    failed = sum(not r.passed for r in results)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>pytest-kick report</title>",
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
        parts.append(_comparisons(comparisons))
    parts += _trend_section(comparisons, results, root)
    parts += _frontier_section(getattr(report, "frontier", []))
    parts.append("<h2>plots</h2>")
    parts += [_figure(caption, png) for caption, png in interval_plots(list(KINDS.values()), results)]
    parts.append("</body></html>")
    return "\n".join(p if p.startswith("<figure>") else relative(p, root) for p in parts if p)
