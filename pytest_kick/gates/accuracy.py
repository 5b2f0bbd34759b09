"""The accuracy gate: a paired one-sided non-inferiority test on the same examples (a thin use of `gate.run_gate`),
and its typed result."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import AccuracyRegression, KickUsageError
from ..tasks import Task, get_task
from .gate import Evidence, GateResult, Interval, check_alpha, check_fraction, run_gate
from .scope import resolve_scope
from .sequential import schedule_of
from .stats import NonInferiority, PairedCounts, examples_needed, noninferiority
from .table import COLUMNS, format_table, short_prompt

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair


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
    scope: str = "benchmark"  # what the verdict generalizes to, as a summary cell (gates.scope.Sampling.label)
    population: int = 0  # examples the task holds (before any limit)
    letter_chance: float = math.nan  # a multiple-choice task scored by answer letters: the accuracy of guessing; else NaN
    look: int = 0  # a sequential gate: the look it stopped at (0: a fixed design, one look over every example)
    looks: int = 0  # ... of this many
    nominal_alpha: float = math.nan  # ... deciding at this one-sided level (alpha spent over the looks)
    spending: str = ""  # ... by this spending function

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

    def intervals(self) -> list[Interval]:
        axis = "accuracy Δ (compressed − dense, share of examples)"
        return [
            Interval(f"{self.task} · {self.method}", self.delta, self.lower_bound, self.upper_bound, -self.allowed_drop, self.outcome, axis)
        ]

    def outcomes(self) -> dict[str, str]:
        return {"all": self.outcome}

    def rows(self) -> list[dict[str, Any]]:
        row = asdict(self)
        row.pop("flips")
        row["verdict"] = self.verdict
        if self.looks:  # where a sequential gate stopped, beside what the verdict generalizes to
            row["scope"] = f"{self.scope}; look {self.look}/{self.looks}"
        return [row]

    def deciding_p(self) -> float:
        """The p-value that decided the outcome, and no other: 'within' its p (within), 'regressed' its p
        (regressed); an inconclusive outcome, or one decided exactly over every item, by none (NaN)."""
        if self.scope.startswith("benchmark (all"):
            return math.nan
        return {"within": self.p_value, "regressed": self.p_regressed}.get(self.outcome, math.nan)

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.rows()[0], "p": self.deciding_p()}

    def explain(self) -> str:
        """The failure message: the table, some flipped examples, and what would change the outcome."""
        conf = f"(1 − {self.nominal_alpha:.3g})" if self.looks and self.nominal_alpha < 1 else f"{1 - self.alpha:.0%}"
        how = f"(paired one-sided score test, alpha={self.alpha:g}; the drop must be shown within the allowance; scope: {self.scope})"
        if self.looks and self.scope.startswith("benchmark (all"):
            how += f"; sequential: look {self.look} of {self.looks} ({self.spending}), over every item: exact"
        elif self.looks:
            how += f"; sequential: look {self.look} of {self.looks} ({self.spending}), deciding at {self.nominal_alpha:.3g}"
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
        chance = self.chance_note()
        lines += ["", self.hint()] + (["", chance] if chance else [])
        return "\n".join(lines)

    def chance_note(self) -> str:
        """When the dense model itself is not shown above chance on a task scored by answer letters (a one-sided
        exact binomial test at alpha: its correct answers are no more than guessing among the choices gives), the
        letter format, not the compression, is what the gate measured: say so, and name the cloze scoring."""
        if math.isnan(self.letter_chance):
            return ""
        from scipy.stats import binom

        right = round(self.dense_acc * self.n)
        p = float(binom.sf(right - 1, self.n, self.letter_chance))  # P(at least this many right by guessing)
        if p <= self.alpha:
            return ""
        return (
            f"The dense model itself is at chance on '{self.task}': {right} of {self.n} right ({self.dense_acc:.3f}) "
            f"where guessing among the choices gets {self.letter_chance:.3f} (exact binomial p = {p:.3g} > "
            f"alpha={self.alpha:g}). The letter format sits at chance for this model, so this gate compares two "
            f'guessers: score each choice\'s text instead with the task option scoring="cloze", e.g. '
            f'assert_kick_accuracy_within(pair, "{self.task}", max_drop=..., scoring="cloze").'
        )

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
            need = examples_needed(
                t, self.allowed_drop, self.alpha, population=self.population if self.scope.startswith("benchmark") else None
            )
            if need is not None:
                fix = f"raise {self.limited_by}" if self.limited_by else "the task has no more: use a larger data set"
                if self.population and need > self.population:
                    fix = f"more than the task's {self.population}: a wider allowance, or scope='benchmark' (exact over all its items)"
                parts.append(
                    f"The observed drop is inside the allowance but {self.n} examples are too few to show it: "
                    f"about {need} would give an 80% chance of passing ({fix})."
                )
        return " ".join(parts)


def _letter_chance(ev: Evidence) -> float:
    """The accuracy of guessing on a multiple-choice task that scores answer letters (mmlu's default scoring): the
    mean over the examples of one over their number of choices; NaN for any other task."""
    if getattr(ev.task, "scoring", None) != "letter" or not all(ex.choices for ex in ev.examples):
        return math.nan
    return math.fsum(1.0 / len(ex.choices) for ex in ev.examples) / len(ev.examples)


def assert_kick_accuracy_within(
    pair: ModelPair,
    task: str | Task,
    *,
    max_drop: float,
    relative: bool = False,
    alpha: float = 0.05,
    limit: int | None = None,
    scope: str | None = None,
    sequential: bool | int | None = None,
    spending: str = "obrien-fleming",
    **task_options: Any,
) -> AccuracyResult:
    """Pass when a paired one-sided test rejects H0: acc_compressed <= acc_dense - allowed, at level alpha.

    `max_drop` is absolute accuracy (0.02 = two points), or a fraction of the dense accuracy with
    `relative=True`. `limit` caps the examples; it wins over the test's kick marker, which wins over --kick-limit,
    which wins over the `kick_limit` ini value. `scope` (default: --kick-scope, else 'benchmark') says what the
    verdict generalizes to (see gates.scope): over every item of the benchmark the observed drop decides.
    `sequential` (default: --kick-sequential, else off): True (4 looks) or a number of looks evaluates the examples
    in looks, each a prefix of the next, and stops at the first that decides within or regressed, alpha spent by
    `spending` ('obrien-fleming' or 'pocock', see gates.sequential).
    Extra keyword arguments are task options, e.g. `subjects=("marketing",)` for mmlu.
    """
    __tracebackhide__ = True
    check_fraction("max_drop", max_drop, 0.0, 1.0)
    check_alpha(alpha)
    chosen = resolve_scope(scope, pair)
    schedule = schedule_of(getattr(pair, "sequential", 0) if sequential is None else sequential, spending)

    the_task = get_task(task, **task_options)
    if getattr(the_task, "free_text", False):  # refused before any model runs
        raise KickUsageError(f"task '{the_task.name}' has no right answer to count: gate it with assert_generation_quality_within")

    def decide(ev: Evidence) -> AccuracyResult:
        acc_d = sum(o.correct for o in ev.dense) / len(ev.dense)
        allowed = max_drop * acc_d if relative else max_drop
        sampling = ev.sampling(chosen)
        level = ev.look.nominal if ev.look is not None else alpha  # a look decides at its share of alpha
        test = noninferiority(
            [o.correct for o in ev.dense], [o.correct for o in ev.compressed], allowed, level, sampling.fpc, sampling.exact
        )
        flips = tuple(
            Flip(ex.id, short_prompt(ex.prompt), d.reference, d.prediction, c.prediction)
            for ex, d, c in zip(ev.examples, ev.dense, ev.compressed)
            if d.correct and not c.correct
        )
        result = AccuracyResult.of(
            test, pair.test_id, ev.task.name, pair.method.id, relative=relative, flips=flips, limited_by=ev.limited_by,
            scope=sampling.label(), population=sampling.population, letter_chance=_letter_chance(ev),
        )  # fmt: skip
        if ev.look is None:
            return result
        look = ev.look
        return replace(result, alpha=alpha, look=look.index, looks=look.count, nominal_alpha=level, spending=look.spending)

    sequential_run = (schedule, alpha, chosen) if schedule is not None else None
    return run_gate(pair, the_task, decide, limit=limit, sequential=sequential_run)  # type: ignore[return-value]
