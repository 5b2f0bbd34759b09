"""Saved runs and release-over-release comparison (pytest-benchmark's habit): `--kick-save=NAME` keeps, per gate,
the compressed model's per-example outcomes with the identity of model, method, task, data slice and package
version, as versioned JSON in `.kick/NAME.json`; `--kick-compare=NAME|PATH` runs the same paired test between this
run's compressed model and the saved one on the examples both have, and says how many it could not match.

Accuracy gates compare right/wrong per example (Tango's paired test, the gate's own allowance and alpha);
quality gates compare per-example scores (the paired bootstrap-t); safety and fidelity gates run their own test
(`Evidence.decide`) with the saved release in the dense model's place."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .._version import __version__
from ..errors import KickRegression, KickUsageError
from ..gates.gate import decode, encode
from ..tasks import Outcome
from . import saved_frontier
from .integrity import checked_gate, checksum

SCHEMA = "pytest-kick saved run"
SCHEMA_VERSION = 3  # 3: a checksum per gate, types checked on read (2: an example keeps choice, scores, values, reference)
SHOW = 5


class ComparisonRegression(KickRegression):
    """This release's compressed model could not be shown within the allowance of a saved release's."""


@dataclass(frozen=True)
class SavedExample:
    id: str
    correct: bool
    score: float | None
    prediction: str
    reference: str = ""
    choice: int | None = None
    scores: tuple[float, ...] = ()
    values: dict[str, float] = field(default_factory=dict)

    def outcome(self) -> Outcome:
        """The saved model's outcome on this example, as a gate reads it."""
        return Outcome(self.id, self.correct, self.prediction, self.reference, self.scores, self.choice, dict(self.values))


@dataclass(frozen=True)
class SavedGate:
    """One gate of a saved run: where it came from and the compressed model's outcome on each example."""

    test: str  # the test's node id without its method parameter
    kind: str
    task: str
    method: str
    model: str
    allowed: float
    alpha: float
    examples: tuple[SavedExample, ...]


@dataclass
class SavedRun:
    name: str
    created: str = ""
    pytest_kick: str = __version__
    gates: list[SavedGate] = field(default_factory=list)
    frontier: list[dict] = field(default_factory=list)  # a --kick-sweep run's answers (report.saved_frontier)

    def to_json(self) -> dict:
        gates, kept = [encode(g) for g in self.gates], saved_frontier.saved(self.frontier)
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "name": self.name, "created": self.created, "pytest_kick":
                self.pytest_kick, "gates": [{**g, "checksum": checksum(g)} for g in gates], "frontier": kept}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> SavedRun:
        """Read a saved run, refusing anything a hand (or a broken disk) changed: every field's type, each gate's
        checksum over its content, duplicated examples. The first problem is named with where it is."""
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise KickUsageError(f"{where}: not a {SCHEMA} (saved by something else?)")
        if data.get("version") != SCHEMA_VERSION:
            raise KickUsageError(
                f"{where}: a {SCHEMA} of version {data.get('version')!r}; this pytest-kick reads version {SCHEMA_VERSION} "
                "(it checks each gate's checksum): run the release again with --kick-save"
            )
        gates = data.get("gates")
        if not isinstance(data.get("name"), str) or not isinstance(gates, list):
            raise KickUsageError(f"{where}: a saved run needs a name and a list of gates")
        return cls(
            data["name"],
            str(data.get("created", "")),
            str(data.get("pytest_kick", "")),
            [_read_gate(g, i, where) for i, g in enumerate(gates)],
            saved_frontier.read(data.get("frontier"), where),
        )

    @classmethod
    def load(cls, path: Path) -> SavedRun:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")), str(path))
        except OSError as exc:
            raise KickUsageError(f"--kick-compare {path}: cannot read it ({exc.strerror})") from None
        except ValueError as exc:
            raise KickUsageError(f"--kick-compare {path}: not JSON ({exc})") from None

    def find(self, gate: SavedGate) -> SavedGate | None:
        """The one matching rule, of the comparison and of the trend alike: the saved gate of the same test (method
        parameter ignored), task and kind; of several (methods), the one of `gate`'s method, else the first."""
        same = [g for g in self.gates if (g.test, g.task, g.kind) == (gate.test, gate.task, gate.kind)]
        return next((g for g in same if g.method == gate.method), same[0] if same else None)


def _read_gate(raw: Any, index: int, where: str) -> SavedGate:
    body = checked_gate(raw, index, where)
    try:
        return decode(SavedGate, body)
    except (KeyError, TypeError, ValueError) as exc:
        raise KickUsageError(f"{where}: gates[{index}] is malformed ({exc})") from None


def unparametrized(nodeid: str) -> str:
    """`test_x.py::test_recall[rtn4]` -> `test_x.py::test_recall`: a gate is matched across methods and releases."""
    return re.sub(r"\[[^\]]*\]$", "", nodeid)


def saved_gate(result: Any, evidence: Any, model: str) -> SavedGate | None:
    """What a finished gate leaves for a saved run: the compressed model's outcome on every example."""
    if evidence is None:
        return None
    allowed = getattr(result, "allowed_drop", getattr(result, "allowed", math.nan))  # fidelity: one limit per metric
    scores = evidence.scores.get("compressed") or [o.values.get("score") for o in evidence.compressed]

    def kept(ex: Any, o: Outcome, s: Any) -> SavedExample:
        value = float(s) if s is not None and math.isfinite(s) else None
        numbers = {k: float(v) for k, v in o.values.items() if isinstance(v, (int, float))}
        return SavedExample(ex.id, bool(o.correct), value, o.prediction[:500], o.reference[:500], o.choice, tuple(o.scores), numbers)

    examples = tuple(kept(ex, o, s) for ex, o, s in zip(evidence.examples, evidence.compressed, scores, strict=True))
    return SavedGate(
        unparametrized(result.test), result.kind, result.task, result.method, model, float(allowed), float(result.alpha), examples
    )


@dataclass(frozen=True)
class Comparison:
    """This run's gate against the saved one on the examples both have."""

    test: str
    task: str
    baseline: str
    saved_method: str
    method: str
    matched: int
    unmatched: int
    saved_value: float
    value: float
    lower: float
    allowed: float
    outcome: str
    lost: tuple[str, ...] = ()  # examples right in the saved run and wrong now (accuracy gates)
    needed: int | None = None  # inconclusive: about how many matched examples would show it within (None: unknown)
    scope: str = ""  # what the comparison's verdict generalizes to (the gate's own scope)
    detail: str = ""  # safety and fidelity gates: what their own test found, in place of the values
    note: str = ""  # what differs in the saved run's provenance (another dense model), shown beside the line

    @property
    def passed(self) -> bool:
        return self.outcome == "within"

    def line(self) -> str:
        return self._line() + (f" [NOTE: {self.note}]" if self.note else "")

    def _line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        lost = f"; lost: {', '.join(self.lost[:SHOW])}{' …' if len(self.lost) > SHOW else ''}" if self.lost else ""
        if self.outcome == "inconclusive" and self.needed is not None:
            lost += f"; about {self.needed} matched examples would show it within"
        lost += f"; scope: {self.scope}" if self.scope else ""
        if self.detail:
            return (
                f"{self.test} [{self.task}] {self.method} vs {self.baseline}'s {self.saved_method}: {self.detail} "
                f"on {self.matched} matched examples ({self.unmatched} unmatched): {self.outcome} {verdict}"
            )
        return (
            f"{self.test} [{self.task}] {self.method} vs {self.baseline}'s {self.saved_method}: {self.saved_value:.3f} -> "
            f"{self.value:.3f} (Δ {self.value - self.saved_value:+.3f}, lower bound {self.lower:+.3f}, allowed drop {self.allowed:g}) "
            f"on {self.matched} matched examples ({self.unmatched} unmatched): {self.outcome} {verdict}{lost}"
        )


def compare(now: SavedGate, saved: SavedGate, baseline: str, sampling: Any = None) -> Comparison:
    """This run's compressed model against the saved release's on the examples both have, with the gate's own test
    and scope (`sampling`: how this run's examples stand to the benchmark; default: items): over every item of the
    benchmark the observed change decides, as it does for the gate, so a release compared with itself passes."""
    from ..gates.quality import decide_scores
    from ..gates.scope import Sampling
    from ..gates.stats import data_seed, examples_needed, noninferiority

    theirs = {e.id: e for e in saved.examples}
    pairs = [(theirs[e.id], e) for e in now.examples if e.id in theirs]
    unmatched = len(now.examples) - len(pairs) + len(saved.examples) - len(pairs)
    made = functools.partial(Comparison, now.test, now.task, baseline, saved.method, now.method, note=provenance(now, saved))
    if not pairs:
        return made(0, unmatched, math.nan, math.nan, math.nan, now.allowed, "inconclusive")
    sampling = dataclasses.replace(sampling or Sampling("items", len(pairs), len(pairs)), n=len(pairs))
    made = functools.partial(made, scope=sampling.label())
    if now.kind == "accuracy":
        test = noninferiority(
            [s.correct for s, _ in pairs], [c.correct for _, c in pairs], now.allowed, now.alpha, sampling.fpc, sampling.exact
        )
        lost = tuple(c.id for s, c in pairs if s.correct and not c.correct)
        t = test.counts
        population = sampling.population if sampling.scope == "benchmark" else None
        needed = examples_needed(t, now.allowed, now.alpha, population=population) if test.outcome == "inconclusive" else None
        return made(t.n, unmatched, t.acc_dense, t.acc_compressed, test.lower, now.allowed, test.outcome, lost, needed)
    theirs_scores, mine_scores = [_score(s) for s, _ in pairs], [_score(c) for _, c in pairs]
    seed = data_seed(theirs_scores, mine_scores)
    d = decide_scores(theirs_scores, mine_scores, now.allowed, False, now.alpha, 2000, seed, sampling)
    return made(d.n, unmatched, d.dense_mean, d.compressed_mean, d.lower, d.allowed, d.outcome)


def compare_by_gate(evidence: Any, now: SavedGate, saved: SavedGate, baseline: str) -> Comparison:
    """A safety or fidelity gate's own test (`evidence.decide`) with the saved release's compressed model in the
    dense model's place, on the examples both runs have (both sides as saved, so both are cut alike)."""
    from ..gates.gate import Evidence

    theirs, mine = {e.id: e for e in saved.examples}, {e.id: e for e in now.examples}
    both = [i for i, ex in enumerate(evidence.examples) if ex.id in theirs]
    unmatched = len(evidence.examples) - len(both) + len(saved.examples) - len(both)
    made = functools.partial(
        Comparison, saved.test, saved.task, baseline, saved.method, now.method, len(both), unmatched, note=provenance(now, saved)
    )
    if not both:
        return made(math.nan, math.nan, math.nan, saved.allowed, "inconclusive", detail="nothing to compare")
    examples = [evidence.examples[i] for i in both]
    matched = Evidence(evidence.task, examples, [theirs[ex.id].outcome() for ex in examples], [mine[ex.id].outcome() for ex in examples])
    result = evidence.decide(matched)
    outcome = "within" if result.passed else ("regressed" if "regressed" in result.outcomes().values() else "inconclusive")
    return made(math.nan, math.nan, math.nan, saved.allowed, outcome, detail=_detail(result))


def provenance(now: SavedGate, saved: SavedGate) -> str:
    """What a comparison must say about where the saved gate came from: another dense model is another baseline."""
    if saved.model != now.model:
        return f"the saved run was made from model {saved.model!r}, this run from {now.model!r}"
    return ""


def _detail(result: Any) -> str:
    row = result.summary()
    if "group" in row:  # a safety gate: its worst group
        return (
            f"worst {row['group']} {row['metric']} {row['dense']:.3f} -> {row['compressed']:.3f} "
            f"(change {row['change']:+.3f}, bound {row['upper']:+.3f}, allowed {row['allowed']:g})"
        )
    return ", ".join(f"{c.metric} {c.value:.3g} (bound {c.bound:.3g}, limit {c.allowed:g})" for c in result.checks)


def _score(e: SavedExample) -> float:
    return e.score if e.score is not None else math.nan


def baseline_path(value: str, folder: Path) -> Path:
    """--kick-compare: a saved run's name (in the .kick folder) or a path to its file."""
    path = Path(value)
    if path.suffix == ".json" or len(path.parts) > 1:
        return path
    return folder / f"{value}.json"


def check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or name.endswith(".json"):
        raise KickUsageError(f"--kick-save {name!r}: a name of letters, digits, '.', '_' and '-' (saved as .kick/<name>.json)")
    return name


def write(run: SavedRun, folder: Path) -> Path:
    from ..files import write_atomic

    run.created = run.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = Path(folder) / f"{run.name}.json"
    write_atomic(path, json.dumps(run.to_json(), indent=1, ensure_ascii=False) + "\n")
    return path


def merge(gates: Sequence[SavedGate]) -> list[SavedGate]:
    """Workers' gates, in a stable order."""
    return sorted(gates, key=lambda g: (g.test, g.task, g.method))


@dataclass(frozen=True)
class Compared(Sequence[str]):
    """What the session's end hands the reports: the comparison lines (it reads as their sequence) and, for a
    --kick-compare run, what the HTML trend needs: the compared run's folder, this run's gates, and the file this
    run saved (that one is this run, not a past release)."""

    lines: tuple[str, ...] = ()
    folder: Path | None = None
    gates: tuple[SavedGate, ...] = ()
    written: Path | None = None
    root: Path | None = None  # the run's root dir: the page shows paths relative to it, never absolute

    def __getitem__(self, index):  # type: ignore[override]
        return self.lines[index]

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines)


# ---- the plugin's side: what a session keeps, hands over from xdist workers, writes and prints ------------------
SAVED_KEY = pytest.StashKey[list]()  # SavedGate of every finished gate (this process)
COMPARED_KEY = pytest.StashKey[list]()  # comparison lines (this process)
BASELINE_KEY = pytest.StashKey[SavedRun]()  # the run --kick-compare names, read at start-up
SAVED_PATH_KEY = pytest.StashKey[Path]()
BASELINE_PATH_KEY = pytest.StashKey[Path]()  # its file: the trend reads the other saved runs beside it


def load_for(config: pytest.Config, value: str) -> None:
    path = baseline_path(value, config.rootpath / ".kick")
    config.stash[BASELINE_KEY] = SavedRun.load(path)
    config.stash[BASELINE_PATH_KEY] = path.resolve()


def on_gate(config: pytest.Config, kick: Any, result: Any, evidence: Any, model: str) -> ComparisonRegression | None:
    """Keep the gate for --kick-save; compare it with --kick-compare's saved gate. Returns the failed comparison
    for run_gate to raise (with --kick-compare-fail)."""
    gate = saved_gate(result, evidence, model)
    if gate is None:
        return None
    config.stash.setdefault(SAVED_KEY, []).append(gate)
    baseline = config.stash.get(BASELINE_KEY, None)
    saved = baseline.find(gate) if baseline is not None else None
    if saved is None:
        return None
    if gate.kind in ("accuracy", "quality"):
        scope = str(getattr(result, "scope", "items")).split(" ")[0]
        comparison = compare(gate, saved, baseline.name, evidence.sampling(scope) if scope in ("benchmark", "items") else None)
    elif getattr(evidence, "decide", None) is not None:
        comparison = compare_by_gate(evidence, gate, saved, baseline.name)
    else:
        return None
    config.stash.setdefault(COMPARED_KEY, []).append(comparison.line())
    if kick.compare_fail and not comparison.passed:
        return ComparisonRegression(f"against the saved run '{baseline.name}': {comparison.line()}")
    return None


def worker_output(config: pytest.Config) -> dict[str, str]:
    return {
        "kick_saved": json.dumps([encode(g) for g in config.stash.get(SAVED_KEY, [])]),
        "kick_compared": json.dumps(config.stash.get(COMPARED_KEY, [])),
    }


def merge_worker(config: pytest.Config, output: Mapping[str, str]) -> None:
    config.stash.setdefault(SAVED_KEY, []).extend(decode(SavedGate, g) for g in json.loads(output["kick_saved"]))
    config.stash.setdefault(COMPARED_KEY, []).extend(json.loads(output.get("kick_compared", "[]")))


def finish(config: pytest.Config, name: str | None, frontier: Sequence[dict] = ()) -> Compared:
    """At the end of the session (controller): write the saved run (and a sweep's frontier) when asked; return the
    comparison lines, with what the HTML trend needs."""
    gates = merge(config.stash.get(SAVED_KEY, []))
    if name is not None:
        config.stash[SAVED_PATH_KEY] = write(SavedRun(name, gates=gates, frontier=list(frontier)), config.rootpath / ".kick")
    compared = config.stash.get(BASELINE_PATH_KEY, None)
    folder = compared.parent if compared is not None else None
    lines = tuple(sorted(config.stash.get(COMPARED_KEY, [])))
    return Compared(lines, folder, tuple(gates), config.stash.get(SAVED_PATH_KEY, None), config.rootpath)


def summary(config: pytest.Config, terminal: Any, fail: bool = False) -> None:
    """The comparison lines and the saved run's path; `fail`: --kick-compare-fail (a comparison not 'within' failed
    its test)."""
    if BASELINE_KEY in config.stash:
        terminal.write_sep("=", f"pytest-kick comparison with '{config.stash[BASELINE_KEY].name}'")
        if fail:
            terminal.write_line(
                "(--kick-compare-fail: a test whose comparison is not 'within' failed, whatever its own gate's verdict above)"
            )
        lines = sorted(config.stash.get(COMPARED_KEY, []))
        for line in lines or ["no gate of this run matched a saved gate (by test, task and kind)"]:
            terminal.write_line(line)
    if SAVED_PATH_KEY in config.stash:
        terminal.write_line(f"pytest-kick saved run: {config.stash[SAVED_PATH_KEY]}")
