"""The run as Markdown (`--kick-markdown`): what a CI job page or a pull-request comment shows. The verdict of
every gate in one line at the top, the summary tables as GitHub-flavoured tables (the terminal's columns), then
for each gate that did not pass its own failure message (the failing groups, the examples lost) folded under its
name, and the comparison with a saved release when there was one."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence

from ..gates.table import cell
from .run import KINDS, RunReport

MARK = {"pass": "✅", "FAIL": "❌", "no evidence": "⚠️"}


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _fence(text: str) -> list[str]:
    """A fenced block that no backtick run in `text` can close early."""
    ticks = "`" * max(3, max(map(len, re.findall("`+", text)), default=0) + 1)
    return [ticks + "text", text.rstrip(), ticks]


def render_markdown(report: RunReport, compared: Sequence[str] = ()) -> str:
    results = sorted(report.results, key=lambda r: (r.test, r.method))
    counts = Counter(r.verdict for r in results)
    head = ", ".join(f"{MARK[v]} {counts[v]} {v}" for v in ("pass", "FAIL", "no evidence") if counts[v]) or "no gate ran"
    lines = [f"## pytest-kick: {len(results)} gate{'s' if len(results) != 1 else ''}: {head}", ""]
    for kind, cls in KINDS.items():
        rows = [r.summary() for r in results if r.kind == kind]
        if not rows:
            continue
        lines += [f"### {kind}", "", _row([h for h, _ in cls.columns]), _row(["---"] * len(cls.columns))]
        lines += [_row([cell(row.get(key, ""), key) for _, key in cls.columns]) for row in rows] + [""]
    failed = [r for r in results if not r.passed]
    if failed:
        lines += ["### What did not pass", ""]
        for r in failed:
            name = html.escape(f"{r.test} [{r.method}] {r.task}")
            lines += [f"<details><summary>{MARK[r.verdict]} <code>{name}</code>: {r.verdict}</summary>", ""]
            lines += _fence(r.explain()) + ["", "</details>", ""]
    if compared:
        lines += ["### Against the saved release", ""] + _fence("\n".join(compared)) + [""]
    return "\n".join(lines).rstrip() + "\n"
