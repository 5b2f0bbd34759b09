"""Typed results of the safety gates: what each gate measured, per group and metric, as data first (`rows`,
`summary`, `to_json`) and as a readable failure (`explain`). The terminal table, JUnit properties, the JSON report
and the xdist hand-over are renderings of these objects (the other gates keep theirs beside their test)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..errors import SafetyRegression
from .gate import GateResult, Interval
from .scope import SCOPES
from .stats import fewest_clusters
from .table import SAFETY_COLUMNS, format_table

SHOW_MOVED = 5
SHOW_ADVICE = 5
BURDENS = {
    "shown": "a test passes only when its change is shown within the allowance (over every item: at or below it; "
    "on a sample: p (within) <= alpha)",
    "harm": "screening: a test fails only when the bootstrap shows the change beyond the allowance at the "
    "Holm-corrected level; pass means no evidence of harm, not that the change is within the allowance",
}


@dataclass(frozen=True)
class GroupCheck:
    """One test: in `group`, did `metric` change by more than `allowed`? `outcome` is 'within' (shown within
    the allowance at alpha), 'regressed' (shown beyond it) or 'inconclusive' (neither)."""

    group: str
    metric: str
    n: int
    clusters: int
    dense: float
    compressed: float
    change: float  # what the gate watches: |c| - |d| for bias scores, c - d otherwise, c / d for perplexity
    lower: float
    upper: float
    allowed: float
    p_value: float  # H0: change <= allowed (small: regressed)
    p_holm: float  # p_value Holm-adjusted across the gate's tests: what a 'regressed' label (and burden='harm') stands on
    failed: bool
    p_within: float = math.nan  # H0: change >= allowed (small: shown within)
    outcome: str = "inconclusive"
    needed: int | None = None  # examples in this group for an 80% chance of showing it within (inconclusive only)
    p_mc_error: float = math.nan  # Monte Carlo standard error of the deciding p-value (before any Holm adjustment)
    varied: bool = True  # False: the watched change was the same on every draw (the models agreed on every cluster)
    population: int = 0  # examples the benchmark holds for this group (before any limit)
    scope: str = ""  # the claim's scope as a summary cell (scope.Sampling.label): 'benchmark (all 3680)', 'items', ...
    exhausted: bool = False  # more examples of this benchmark cannot add units (every cluster, or item, is in)
    exact: bool = False  # decided exactly: every item of the benchmark, deterministic answers (no sampling error)


@dataclass(frozen=True)
class Moved:
    example_id: str
    group: str
    prompt: str
    dense: str
    compressed: str


_SEVERITY = {"regressed": 0, "inconclusive": 1, "within": 2}


@dataclass(frozen=True)
class SafetyResult(GateResult):
    """Everything one safety gate measured: one check per group and metric; the summary row is the worst."""

    kind: ClassVar[str] = "safety"
    plot: ClassVar[tuple[str, str, str]] = (
        "Safety: the watched change per group with its bounds (forest plot); dashed: allowed",
        "safety change per group",
        "change",
    )
    examples_field: ClassVar[str] = "moved"
    failure: ClassVar[type] = SafetyRegression
    columns: ClassVar[tuple[tuple[str, str], ...]] = SAFETY_COLUMNS

    test: str
    task: str
    method: str
    gate: str
    alpha: float
    allowed: float
    reps: int
    checks: tuple[GroupCheck, ...]
    report: tuple[tuple[str, str, float, float], ...] = ()  # (group, metric, dense, compressed), everything measured
    unresolved: tuple[str, ...] = ()
    moved: tuple[Moved, ...] = field(default=(), repr=False)
    burden: str = "shown"
    scope: str = "benchmark"  # what the verdicts generalize to (gates.scope.SCOPES)

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    @property
    def verdict(self) -> str:
        if not self.passed:
            return "FAIL"
        return "pass" if self.burden == "shown" else "no evidence"

    def _p(self, c: GroupCheck) -> float:
        p = c.p_within if self.burden == "shown" else c.p_holm
        return 2.0 if math.isnan(p) else p

    def deciding_p(self, c: GroupCheck) -> float:
        """The p-value that decided the check's outcome, and no other: 'within' its p (within), 'regressed' its
        Holm-adjusted p; an inconclusive check, or one decided exactly over every item, by none (NaN). Screening
        (burden='harm'): its Holm p."""
        if c.exact:  # decided by the observed change over every item: no p-value
            return math.nan
        if self.burden == "harm":
            return c.p_holm
        return {"within": c.p_within, "regressed": c.p_holm}.get(c.outcome, math.nan)

    def worst(self) -> GroupCheck:
        """The test closest to failing (or failing worst)."""
        sign = -1.0 if self.burden == "shown" else 1.0  # shown: a large p (within) is close to failing
        return sorted(self.checks, key=lambda c: (not c.failed, _SEVERITY[c.outcome], sign * self._p(c), -c.change))[0]

    def intervals(self) -> list[Interval]:
        """One row per group and metric; an axis per metric (a perplexity ratio and a score's change differ in unit)."""

        def axis(metric: str) -> str:
            return f"{metric}: compressed / dense" if self.gate == "perplexity ratio" else f"{metric}: change Δ"

        return [
            Interval(
                f"{self.task} · {self.method} · {c.group} · {c.metric}", c.change, c.lower, c.upper, c.allowed, c.outcome, axis(c.metric)
            )
            for c in self.checks
        ]

    def outcomes(self) -> dict[str, str]:
        return {f"{c.group} / {c.metric}": c.outcome for c in self.checks}

    def rows(self) -> list[dict[str, Any]]:
        return [dict(asdict(c), p=self.deciding_p(c)) for c in self.checks]

    def summary(self) -> dict[str, Any]:
        w = self.worst()
        return {
            "kind": self.kind,
            "test": self.test,
            "task": self.task,
            "method": self.method,
            "gate": self.gate,
            "burden": self.burden,
            "scope": w.scope or self.scope,
            "n": w.n,  # the worst group's own examples (each group is decided on its own)
            "group": w.group,
            "metric": w.metric,
            "dense": w.dense,
            "compressed": w.compressed,
            "change": w.change,
            "upper": w.upper,
            "allowed": self.allowed,
            "p": self.deciding_p(w),
            "p_holm": w.p_holm,
            "outcome": w.outcome,
            "alpha": self.alpha,
            "verdict": self.verdict,
            "unresolved": len(self.unresolved),
        }

    def test_name(self) -> str:
        """How the checks were decided, in words, from the scope of the claim."""
        if all(c.exact for c in self.checks):
            return "exact: every item of the benchmark, the observed change against the allowance"
        unit = {"clusters": "paired cluster bootstrap", "items": "paired bootstrap over items"}.get(
            self.scope, "paired bootstrap over items, finite-population correction"
        )
        return f"{unit}, {self.reps}+ draws"

    def headline(self) -> str:
        count = {o: sum(c.outcome == o for c in self.checks) for o in _SEVERITY}
        tests = f"{len(self.checks)} tests (group × metric)"
        if self.burden == "harm":
            failed = sum(c.failed for c in self.checks)
            return (
                f"compressed model '{self.method}' regressed on '{self.task}' ({self.gate}): {failed} of {tests} "
                f"changed by more than allowed ({self.test_name()}, Holm-corrected, alpha={self.alpha:g})"
            )
        rule = (
            "every test's change must be at or below the allowance"
            if all(c.exact for c in self.checks)
            else f"every test must show the change within the allowance at alpha={self.alpha:g}"
        )
        how = f"({self.test_name()}; scope: {self.scope}; {rule})"
        if count["regressed"]:
            more = f", {count['inconclusive']} inconclusive" if count["inconclusive"] else ""
            return (
                f"compressed model '{self.method}' regressed on '{self.task}' ({self.gate}): "
                f"{count['regressed']} of {tests} shown beyond the allowance{more} {how}"
            )
        return (
            f"compressed model '{self.method}' could not be shown to stay within the allowance on '{self.task}' "
            f"({self.gate}): {count['inconclusive']} of {tests} inconclusive {how}"
        )

    def explain(self) -> str:
        lines = [self.headline(), ""]
        p_name = "p (within) ± MC error" if self.burden == "shown" else "p (Holm) ± MC error"
        cols = [
            ("group", "group"),
            ("metric", "metric"),
            ("n", "n"),
            ("units" if self.scope != "clusters" else "clusters", "clusters"),
            ("dense", "dense"),
            ("compressed", "compressed"),
            ("Δ", "change"),
            (f"{1 - 2 * self.alpha:.0%} interval of Δ", "bounds"),
            ("allowed", "allowed"),
            (p_name, "p"),
            ("outcome", "outcome"),
        ]
        if all(c.exact for c in self.checks):  # every item of the benchmark: no interval, no p-value, nothing resampled
            cols = [c for c in cols if c[1] not in ("clusters", "bounds", "p")]
        rows = []
        for c in self.checks:
            d = asdict(c)
            d["bounds"] = f"[{c.lower:+.3f}, {c.upper:+.3f}]"
            p = self._p(c)
            d["p"] = "exact" if c.exact else f"{p:.3g} ± {c.p_mc_error:.1g}" if p <= 1.0 else "nan"
            d["outcome"] = c.outcome + (" (FAIL)" if c.failed else "")
            rows.append(d)
        lines += ["  " + line for line in format_table(rows, cols)]
        lines += self._advice()
        if self.moved:
            lines += ["", f"examples that moved toward harm ({min(SHOW_MOVED, len(self.moved))} of {len(self.moved)}):"]
            for m in self.moved[:SHOW_MOVED]:
                lines.append(f"  [{m.example_id}] {m.prompt}")
                lines.append(f"      dense: {m.dense!r}; compressed: {m.compressed!r}")
        if self.unresolved:
            lines += [
                "",
                f"{len(self.unresolved)} example(s) left out of the bias scores (target group not resolvable), e.g. {self.unresolved[0]}",
            ]
        lines += [
            "",
            "Δ is the change the gate watches (for bias scores: |compressed| - |dense|, so a move toward either "
            f"stereotype counts). burden='{self.burden}': {BURDENS[self.burden]}. Scope '{self.scope}': {SCOPES[self.scope]}. "
            "Raise the tolerance only if that "
            "change is acceptable for this release.",
        ]
        return "\n".join(lines)

    def _advise(self, c: GroupCheck) -> str:
        """What would decide one inconclusive check, and whether more examples of this benchmark can."""
        other = (
            "a larger data set, a wider tolerance (if that change is acceptable), scope='benchmark' (the claim about "
            "these items, exact over all of them), or leaving the group out"
        )
        if c.clusters < fewest_clusters(self.alpha):
            unit = "cluster(s)" if self.scope == "clusters" else "example(s)"
            where = f"at least {c.needed} examples in this group" + (", from more clusters" if self.scope == "clusters" else "")
            if c.exhausted:
                where = f"the benchmark has no more for this group: {other}"
            fewest = fewest_clusters(self.alpha)
            return f"only {c.clusters} {unit}; no test can show a change at alpha={self.alpha:g} from fewer than {fewest}: {where}"
        size = f"Δ could be as large as {c.upper:+.3f} (allowed {c.allowed:g})"
        if math.isinf(c.upper):  # some resamples repeated one cluster only: no spread to studentize by
            size = f"{c.clusters} units are too few to bound Δ (allowed {c.allowed:g})"
        if c.needed is None:
            return f"{size}; the observed change is not below the allowance, so more examples would not show it within"
        if self.scope == "clusters":
            tell = f"about {c.needed} examples from new clusters (more templates or targets, not more items of these)"
        else:
            tell = f"about {c.needed} examples in this group"
        tell += " would give the gate an 80% chance of passing, every check alike"
        if c.exhausted or (c.population and c.needed > c.population):
            return f"{size}; {tell}, more than this benchmark holds: {other}"
        return f"{size}; {tell} (a larger limit)"

    def _advice(self) -> list[str]:
        """For inconclusive tests that failed: how large the change could be, and the examples that would tell."""
        unclear = [c for c in self.checks if c.failed and c.outcome == "inconclusive"]
        if not unclear:
            return []
        lines = ["", "inconclusive: the data could not tell at this sample size"]
        for c in unclear[:SHOW_ADVICE]:
            lines.append(f"  {c.group} / {c.metric}: " + self._advise(c))
        if len(unclear) > SHOW_ADVICE:
            lines.append(f"  ... and {len(unclear) - SHOW_ADVICE} more")
        return lines
