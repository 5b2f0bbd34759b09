"""The trend across saved releases, for the HTML page of a `--kick-compare` run: each gate's compressed-model score
in every saved run of the compared run's folder (oldest first) and in this run, with 95% intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING

from ..errors import KickUsageError
from . import baseline  # as the plugin imports it: one module, one set of stash keys, even where sys.modules is reset

if TYPE_CHECKING:  # pragma: no cover
    from .baseline import Compared, SavedGate, SavedRun

LEVEL = 0.95  # two-sided: each point's interval, not a test
THIS_RUN = "this run"


@dataclass(frozen=True)
class Point:
    """One gate's score in one release: the share right (accuracy gates) or the mean score (quality gates)."""

    release: str
    value: float
    lower: float
    upper: float
    n: int
    method: str = ""  # the saved gate's method (matched as the comparison matches: it may differ from this run's)


@dataclass(frozen=True)
class Series:
    test: str
    task: str
    method: str
    kind: str
    points: tuple[Point, ...]  # in the order of Trend.releases; releases without this gate are left out


@dataclass(frozen=True)
class Trend:
    releases: tuple[str, ...]  # the saved runs by their time stamp, then THIS_RUN
    series: tuple[Series, ...]
    notes: tuple[str, ...] = ()  # files that could not be read, and why


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The two-sided Wilson score interval of a proportion seen k times in n (NaN for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # exact at the edges: rounding must not leave k = 0 or k = n outside its own interval
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def point(release: str, gate: SavedGate, seed: int = 0) -> Point:
    """Accuracy: the share right with its Wilson interval. Quality: the mean score with its bootstrap-t interval
    (examples without a score left out)."""
    if gate.kind == "accuracy":
        n, k = len(gate.examples), sum(e.correct for e in gate.examples)
        return Point(release, k / n if n else math.nan, *wilson(k, n), n, gate.method)
    from ..gates.stats import mean_bounds

    scores = [e.score for e in gate.examples if e.score is not None and math.isfinite(e.score)]
    if not scores:
        return Point(release, math.nan, math.nan, math.nan, 0, gate.method)
    lower, upper = mean_bounds(scores, (1 - LEVEL) / 2, seed=seed)
    return Point(release, sum(scores) / len(scores), lower, upper, len(scores), gate.method)


def saved_runs(folder: Path, skip: Path | None = None) -> tuple[list[tuple[str, SavedRun]], list[str]]:
    """Every readable saved run in `folder` as (file stem, run), oldest first, and a note for each unreadable file.
    `skip`: the file this very run wrote (--kick-save with --kick-compare), shown as THIS_RUN instead."""
    runs, notes = [], []
    for path in sorted(Path(folder).glob("*.json")):
        if skip is not None and path.resolve() == Path(skip).resolve():
            continue
        try:
            runs.append((path.stem, baseline.SavedRun.load(path)))
        except KickUsageError as exc:  # named by its file name: the page is shared, its paths are not
            why = str(exc).removeprefix("--kick-compare ").replace(str(path), path.name)
            notes.append(f"{path.name} left out of the trend: {why}")
    runs.sort(key=lambda item: (item[1].created, item[0]))
    return runs, notes


def collect(compared: Compared, seed: int = 0) -> Trend | None:
    """The trend of every gate of this run that at least one saved run of the compared folder also has (matched as
    the comparison matches: `SavedRun.find`); None when nothing was compared."""
    if compared.folder is None:
        return None
    runs, notes = saved_runs(compared.folder, compared.written)
    releases = tuple(stem for stem, _ in runs) + (THIS_RUN,)
    series, unscored = [], []
    for gate in _unique(compared.gates):
        if gate.kind not in ("accuracy", "quality"):  # safety and fidelity gates have no one score to plot
            continue
        past = [(stem, saved) for stem, run in runs if (saved := run.find(gate)) is not None]
        if not past:
            continue
        points = tuple(point(stem, g, seed) for stem, g in past) + (point(THIS_RUN, gate, seed),)
        if any(math.isfinite(p.value) for p in points):
            series.append(Series(gate.test, gate.task, gate.method, gate.kind, points))
        else:
            unscored.append(f"{gate.test} [{gate.task}] {gate.method}")
    if unscored:
        notes.append(f"no per-example score saved, so no trend, for: {', '.join(unscored)}")
    return Trend(releases, tuple(series), tuple(notes))


def _unique(gates: Sequence[SavedGate]) -> list[SavedGate]:
    """One gate per (test, task, method): the first (a test asserting twice on one task keeps its first gate)."""
    seen: dict[tuple[str, str, str], SavedGate] = {}
    for g in gates:
        seen.setdefault((g.test, g.task, g.method), g)
    return sorted(seen.values(), key=lambda g: (g.test, g.task, g.method))
