"""Typed results of the accuracy and safety gates: what each gate measured, as data first (`rows`, `summary`,
`to_json`) and as a readable failure (`explain`). The terminal table, JUnit properties, the JSON report and the
xdist hand-over are renderings of these objects."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..errors import AccuracyRegression, SafetyRegression
from .gate import GateResult
from .stats import NonInferiority, PairedCounts, examples_needed, fewest_clusters
from .table import COLUMNS, SAFETY_COLUMNS, format_table

SHOW_FLIPS = 5


@dataclass(frozen=True)
class Flip:
    example_id: str
    prompt: str
    reference: str
    dense: str
    compressed: str


@dataclass(frozen=True)
class AccuracyResult(GateResult):
    """Everything one accuracy gate measured: the paired counts, both one-sided tests, and the flipped examples."""

    kind: ClassVar[str] = "accuracy"
    plot: ClassVar[tuple[str, str, str]] = (
        "Accuracy: Δ (compressed − dense) with one-sided bounds; dashed: −allowed drop",
        "accuracy change per task and method",
        "accuracy Δ",
    )
    examples_field: ClassVar[str] = "flips"
    failure: ClassVar[type] = AccuracyRegression
    columns: ClassVar[tuple[tuple[str, str], ...]] = COLUMNS

    test: str
    task: str
    method: str
    n: int
    dense_acc: float
    compressed_acc: float
    delta: float
    allowed_drop: float
    relative: bool
    alpha: float
    p_value: float
    lower_bound: float
    right_to_wrong: int
    wrong_to_right: int
    passed: bool
    flips: tuple[Flip, ...] = field(default=(), repr=False)
    limited_by: str = ""  # the knob whose limit cut the task's examples ("" when every example was used)
    p_regressed: float = math.nan  # H0: the drop is within the allowance (small: shown to have lost more)
    upper_bound: float = math.nan
    outcome: str = "inconclusive"

    @classmethod
    def of(cls, test: NonInferiority, test_id: str, task: str, method: str, **extra: Any) -> AccuracyResult:
        """From the paired test's outcome (`stats.noninferiority`) and what identifies the gate."""
        t = test.counts
        return cls(
            test=test_id,
            task=task,
            method=method,
            n=t.n,
            dense_acc=t.acc_dense,
            compressed_acc=t.acc_compressed,
            delta=t.delta,
            allowed_drop=test.margin,
            alpha=test.alpha,
            p_value=test.p_value,
            lower_bound=test.lower,
            right_to_wrong=t.n10,
            wrong_to_right=t.n01,
            passed=test.passed,
            p_regressed=test.p_regressed,
            upper_bound=test.upper,
            outcome=test.outcome,
            **extra,
        )

    def intervals(self) -> list[tuple[str, float, float, float, float]]:
        return [(f"{self.task} · {self.method}", self.delta, self.lower_bound, self.upper_bound, -self.allowed_drop)]

    def outcomes(self) -> dict[str, str]:
        return {"all": self.outcome}

    def rows(self) -> list[dict[str, Any]]:
        row = asdict(self)
        row.pop("flips")
        row["verdict"] = self.verdict
        return [row]

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.rows()[0]}

    def explain(self) -> str:
        """The failure message: the table, some flipped examples, and what would change the outcome."""
        conf = f"{1 - self.alpha:.0%}"
        how = f"(paired one-sided score test, alpha={self.alpha:g}; the drop must be shown within the allowance)"
        if self.outcome == "regressed":
            head = f"compressed model '{self.method}' regressed on '{self.task}' (accuracy): the drop is shown beyond the allowance"
        else:
            head = f"compressed model '{self.method}' could not be shown to stay within the allowed accuracy drop on '{self.task}'"
        lines = [f"{head} {how}"]
        if self.relative and self.dense_acc > 0:
            lines.append(f"the allowance is relative: {self.allowed_drop / self.dense_acc:.3f} of the dense accuracy")
        lines.append("")
        cols = [
            ("task", "task"),
            ("n", "n"),
            ("dense acc", "dense_acc"),
            ("compressed acc", "compressed_acc"),
            ("Δ", "delta"),
            ("allowed drop", "allowed_drop"),
            ("p (within)", "p_value"),
            (f"{conf} lower bound of Δ", "lower_bound"),
            ("outcome", "outcome"),
            ("right→wrong", "right_to_wrong"),
            ("wrong→right", "wrong_to_right"),
        ]
        lines += ["  " + line for line in format_table(self.rows(), cols)]
        if self.flips:
            lines += ["", f"examples that flipped right→wrong ({min(SHOW_FLIPS, len(self.flips))} of {self.right_to_wrong}):"]
            for f in self.flips[:SHOW_FLIPS]:
                lines.append(f"  [{f.example_id}] {f.prompt}")
                lines.append(f"      expected {f.reference!r}; dense said {f.dense!r}; compressed said {f.compressed!r}")
        lines += ["", self.hint()]
        return "\n".join(lines)

    def hint(self) -> str:
        needed_margin = max(0.0, -self.lower_bound)
        if self.relative and self.dense_acc > 0:
            margin = f"max_drop > {needed_margin / self.dense_acc:.3f} (relative; {needed_margin:.3f} absolute)"
        else:
            margin = f"max_drop > {needed_margin:.3f}"
        parts = [f"This gate would pass with {margin} at these counts."]
        if self.delta > -self.allowed_drop and not self.passed:
            t = PairedCounts(
                n11=0, n10=self.right_to_wrong, n01=self.wrong_to_right, n00=self.n - self.right_to_wrong - self.wrong_to_right
            )
            need = examples_needed(t, self.allowed_drop, self.alpha)
            if need is not None:
                fix = f"raise {self.limited_by}" if self.limited_by else "the task has no more: use a larger data set"
                parts.append(
                    f"The observed drop is inside the allowance but {self.n} examples are too few to show it: "
                    f"about {need} would give an 80% chance of passing ({fix})."
                )
        return " ".join(parts)


SHOW_MOVED = 5
SHOW_ADVICE = 5
BURDENS = {
    "shown": "a test passes only when the bootstrap shows the change within the allowance (p (within) <= alpha)",
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
        Holm-adjusted p; an inconclusive check was decided by none (NaN). Screening (burden='harm'): its Holm p."""
        if self.burden == "harm":
            return c.p_holm
        return {"within": c.p_within, "regressed": c.p_holm}.get(c.outcome, math.nan)

    def worst(self) -> GroupCheck:
        """The test closest to failing (or failing worst)."""
        sign = -1.0 if self.burden == "shown" else 1.0  # shown: a large p (within) is close to failing
        return sorted(self.checks, key=lambda c: (not c.failed, _SEVERITY[c.outcome], sign * self._p(c), -c.change))[0]

    def intervals(self) -> list[tuple[str, float, float, float, float]]:
        return [(f"{self.task} · {self.method} · {c.group} · {c.metric}", c.change, c.lower, c.upper, c.allowed) for c in self.checks]

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

    def headline(self) -> str:
        count = {o: sum(c.outcome == o for c in self.checks) for o in _SEVERITY}
        tests = f"{len(self.checks)} tests (group × metric)"
        if self.burden == "harm":
            failed = sum(c.failed for c in self.checks)
            return (
                f"compressed model '{self.method}' regressed on '{self.task}' ({self.gate}): {failed} of {tests} "
                f"changed by more than allowed (paired cluster bootstrap, {self.reps}+ draws, Holm-corrected, "
                f"alpha={self.alpha:g})"
            )
        how = (
            f"(paired cluster bootstrap, {self.reps}+ draws; every test must show the change within the allowance at alpha={self.alpha:g})"
        )
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
            ("clusters", "clusters"),
            ("dense", "dense"),
            ("compressed", "compressed"),
            ("Δ", "change"),
            (f"{1 - 2 * self.alpha:.0%} interval of Δ", "bounds"),
            ("allowed", "allowed"),
            (p_name, "p"),
            ("outcome", "outcome"),
        ]
        rows = []
        for c in self.checks:
            d = asdict(c)
            d["bounds"] = f"[{c.lower:+.3f}, {c.upper:+.3f}]"
            p = self._p(c)
            d["p"] = f"{p:.3g} ± {c.p_mc_error:.1g}" if p <= 1.0 else "nan"
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
            f"stereotype counts). burden='{self.burden}': {BURDENS[self.burden]}. Raise the tolerance only if that "
            "change is acceptable for this release.",
        ]
        return "\n".join(lines)

    def _advice(self) -> list[str]:
        """For inconclusive tests that failed: how large the change could be, and the examples that would tell."""
        unclear = [c for c in self.checks if c.failed and c.outcome == "inconclusive"]
        if not unclear:
            return []
        lines = ["", "inconclusive: the data could not tell at this sample size"]
        for c in unclear[:SHOW_ADVICE]:
            if c.clusters < fewest_clusters(self.alpha):
                lines.append(
                    f"  {c.group} / {c.metric}: only {c.clusters} cluster(s); no test can show a change at alpha={self.alpha:g} "
                    f"from fewer than {fewest_clusters(self.alpha)}: at least {c.needed} examples in this group, from more clusters"
                )
                continue
            if not c.varied and c.needed is not None:  # the bootstrap never varied
                lines.append(
                    f"  {c.group} / {c.metric}: no draw varied (the models agreed on all {c.clusters} sampled clusters); "
                    f"that few cannot bound the change below the allowance: at least {c.needed} examples in this group"
                )
                continue
            if c.needed is not None:
                tell = f"about {c.needed} examples in this group would give an 80% chance of showing it within (a larger limit or data set)"
            else:
                tell = "the observed change is not below the allowance, so more examples would not show it within"
            if math.isinf(c.upper):  # some resamples repeated one cluster only: no spread to studentize by
                lines.append(f"  {c.group} / {c.metric}: {c.clusters} clusters are too few to bound Δ (allowed {c.allowed:g}); {tell}")
            else:
                lines.append(f"  {c.group} / {c.metric}: Δ could be as large as {c.upper:+.3f} (allowed {c.allowed:g}); {tell}")
        if len(unclear) > SHOW_ADVICE:
            lines.append(f"  ... and {len(unclear) - SHOW_ADVICE} more")
        return lines
