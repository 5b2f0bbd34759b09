"""--kick-sweep: the compression frontier. A sweep is one method spec with one knob written as a brace group, its
values from the least compressed to the most: `rtn{8,6,4,3}-g128`, `magnitude{20..70:10}` (20, 30, ..., 70), several
sweeps separated by `;`. The user's own suite runs on the candidates of each sweep, searched by bisection under a
stated assumption: **a more compressed candidate never passes where a less compressed one failed** (monotonicity).

The candidates' tests run grouped by candidate in bisection order (the middle first, then the middles of the two
halves, ...); before a candidate's test runs, its outcome is looked up: a candidate is *implied* to pass when a more
compressed one passed every gate, and implied to fail when a less compressed one failed a gate; an implied
candidate's tests are skipped with the reason, so about log2(K) candidates of K are run. A candidate that failed
skips its remaining tests. Where both neighbours of a step were run, the assumption is checked: a pass beyond a
fail is reported as a violation, and that sweep's frontier is not trusted.

State is files in the session's temporary folder (one per finished test), which xdist workers share; a candidate
has passed once every one of its collected tests passed."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KickUsageError
from ..fingerprint import digest

_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Sweep:
    """One knob of one family, its candidates from the least compressed to the most."""

    text: str
    candidates: tuple[Any, ...]  # CompressionSpec, in the order written

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.candidates]

    def probe_order(self) -> list[int]:
        """Candidate indices in bisection order: the middle, then the middles of each half, breadth first."""
        order, queue = [], [(0, len(self.candidates) - 1)]
        while queue:
            lo, hi = queue.pop(0)
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            order.append(mid)
            queue += [(lo, mid - 1), (mid + 1, hi)]
        return order


def _values(group: str, text: str) -> list[str]:
    """The values of one brace group: a list `8,6,4` or a range `20..70:10` (inclusive; descending when lo > hi)."""
    m = _RANGE.match(group)
    if m:
        lo, hi, step = (float(x) for x in m.groups())
        if step <= 0:
            raise KickUsageError(f"--kick-sweep '{text}': a range's step must be positive")
        count = int(round(abs(hi - lo) / step)) + 1
        if count > 50 or abs(lo + (count - 1) * step * (1 if hi >= lo else -1) - hi) > 1e-9:
            raise KickUsageError(f"--kick-sweep '{text}': the range {group} must reach its end in steps of {step:g} (50 values at most)")
        sign = 1 if hi >= lo else -1
        return [f"{lo + i * step * sign:g}" for i in range(count)]
    values = [v.strip() for v in group.split(",")]
    if len(values) < 2 or any(not v for v in values):
        raise KickUsageError(f"--kick-sweep '{text}': give at least two values in the braces, e.g. rtn{{8,6,4}} or magnitude{{20..70:10}}")
    return values


def parse_sweep(text: str) -> Sweep:
    """One sweep: exactly one brace group; every candidate a valid method of one family; the values in one
    direction (increasing or decreasing), so the order is one knob's."""
    from ..compression import family_of, parse_spec

    groups = _BRACE.findall(text)
    if len(groups) != 1 or "{" in _BRACE.sub("", text) or "}" in _BRACE.sub("", text):
        raise KickUsageError(
            f"--kick-sweep '{text}': write one knob as a brace group, its values from the least compressed to the most, "
            "e.g. rtn{8,6,4,3}-g128 or magnitude{20..70:10}; several sweeps are separated by ';'"
        )
    values = _values(groups[0], text)
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        numbers = []
    if numbers and not (all(a < b for a, b in zip(numbers, numbers[1:])) or all(a > b for a, b in zip(numbers, numbers[1:]))):
        raise KickUsageError(f"--kick-sweep '{text}': the values must run one way, from the least compressed to the most")
    specs = tuple(parse_spec(_BRACE.sub(v, text, count=1)) for v in values)
    if len({family_of(s).name for s in specs}) != 1 or len(set(specs)) != len(specs):
        raise KickUsageError(f"--kick-sweep '{text}': the candidates must be distinct methods of one family")
    from ..report.frontier import size_value

    sizes = [size_value(s) for s in specs]
    if None not in sizes and not all(a > b for a, b in zip(sizes, sizes[1:])):
        order = ", ".join(f"{s.id} keeps {v:.3g}" for s, v in zip(specs, sizes))
        raise KickUsageError(
            f"--kick-sweep '{text}': write the candidates from the least compressed to the most (the search assumes "
            f"each is more compressed than the one before; here {order} of a 16-bit model)"
        )
    return Sweep(text.strip(), specs)


def parse_sweeps(text: str) -> tuple[Sweep, ...]:
    sweeps = tuple(parse_sweep(part) for part in text.split(";") if part.strip())
    if not sweeps:
        raise KickUsageError("--kick-sweep is empty: give e.g. magnitude{20..70:10}")
    ids = [i for s in sweeps for i in s.ids]
    if len(set(ids)) != len(ids):
        raise KickUsageError(f"--kick-sweep '{text}': a candidate appears in two sweeps")
    return sweeps


# ---- the run's state ------------------------------------------------------------------------------------------


class SweepState:
    """What the candidates' finished tests said, as files under `folder` (one per test: 'pass' or 'fail' and the
    failed test's gate), and how many tests each candidate has (`expected`, counted at collection)."""

    def __init__(self, folder: Path, sweeps: tuple[Sweep, ...], expected: dict[str, int]) -> None:
        self.folder, self.sweeps, self.expected = folder, sweeps, expected

    def record(self, method: str, test: str, passed: bool, gate: str = "") -> None:
        where = self.folder / digest(method)[:16]
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"{digest(test)[:16]}.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"test": test, "passed": passed, "gate": gate}), encoding="utf-8")
        os.replace(tmp, path)

    def finished(self, method: str) -> list[dict]:
        where = self.folder / digest(method)[:16]
        out = []
        for path in sorted(where.glob("*.json")) if where.is_dir() else ():
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return out

    def run_status(self, method: str) -> tuple[str, str]:
        """('pass' | 'fail' | 'open', the failed test and gate): pass once every collected test of it passed."""
        done = self.finished(method)
        failed = [d for d in done if not d["passed"]]
        if failed:
            return "fail", f"{failed[0]['test']}" + (f" ({failed[0]['gate']})" if failed[0]["gate"] else "")
        if done and len(done) >= self.expected.get(method, 0) > 0:
            return "pass", ""
        return "open", ""

    def statuses(self, sweep: Sweep) -> list[tuple[str, str]]:
        """Per candidate: 'pass' / 'fail' (run), 'implied pass' / 'implied fail' (by the assumption), or 'open'."""
        run = [self.run_status(m) for m in sweep.ids]
        out = []
        for i, (status, why) in enumerate(run):
            if status != "open":
                out.append((status, why))
            elif any(s == "pass" for s, _ in run[i + 1 :]):
                j = next(j for j in range(i + 1, len(run)) if run[j][0] == "pass")
                out.append(("implied pass", f"{sweep.ids[j]}, more compressed, passed every gate"))
            elif any(s == "fail" for s, _ in run[:i]):
                j = max(j for j in range(i) if run[j][0] == "fail")
                out.append(("implied fail", f"{sweep.ids[j]}, less compressed, failed"))
            else:
                out.append(("open", ""))
        return out

    def skip_reason(self, method: str) -> str | None:
        for sweep in self.sweeps:
            if method in sweep.ids:
                status, why = self.statuses(sweep)[sweep.ids.index(method)]
                if status.startswith("implied"):
                    verb = "passes" if status.endswith("pass") else "fails"
                    return f"--kick-sweep: {method} is not run: it {verb} by the monotonicity assumption ({why})"
                if status == "fail":
                    return f"--kick-sweep: {method} already failed a gate ({why}); its remaining tests are skipped"
        return None


def frontier(state: SweepState, sweep: Sweep) -> dict[str, Any]:
    """The sweep's answer: the most compressed candidate that passes every gate, the first that fails and why,
    the candidates run, and the monotonicity check (a run pass beyond a run fail is a violation)."""
    statuses = state.statuses(sweep)
    passing = [i for i, (s, _) in enumerate(statuses) if s.endswith("pass")]
    failing = [i for i, (s, _) in enumerate(statuses) if s.endswith("fail")]
    ran_fail = [i for i, (s, _) in enumerate(statuses) if s == "fail"]
    violations = [
        f"{sweep.ids[i]} passed although {sweep.ids[j]}, less compressed, failed"
        for i, (s, _) in enumerate(statuses)
        if s == "pass"
        for j in ran_fail
        if j < i
    ]
    first_fail = min(failing) if failing else None
    return {
        "sweep": sweep.text,
        "candidates": [{"method": m, "status": s, "why": w} for m, (s, w) in zip(sweep.ids, statuses)],
        "passes": sweep.ids[max(i for i in passing if first_fail is None or i < first_fail)] if passing else None,
        "fails": sweep.ids[first_fail] if first_fail is not None else None,
        "failed_by": statuses[first_fail][1] if first_fail is not None else "",
        "run": sum(s in ("pass", "fail") for s, _ in statuses),
        "violations": violations,
    }
