"""assert_* helpers: evaluate both models on the same examples, run the paired test, raise one readable failure."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import AccuracyRegression, KickUsageError
from .report import format_table
from .settings import effective_limit
from .stats import NonInferiority, PairedCounts, examples_needed, noninferiority
from .tasks import Task, get_task, select

if TYPE_CHECKING:  # pragma: no cover
    from .pair import ModelPair

SHOW_FLIPS = 5


@dataclass(frozen=True)
class Flip:
    example_id: str
    prompt: str
    reference: str
    dense: str
    compressed: str


@dataclass(frozen=True)
class AccuracyResult:
    """Everything one accuracy gate measured; `to_dict()` is what the report and JUnit XML carry."""

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

    @classmethod
    def of(cls, test: NonInferiority, test_id: str, task: str, method: str, **extra: Any) -> "AccuracyResult":
        """From the paired test's outcome (`stats.noninferiority`) and what identifies the gate."""
        t = test.counts
        return cls(
            test=test_id, task=task, method=method, n=t.n, dense_acc=t.acc_dense, compressed_acc=t.acc_compressed,
            delta=t.delta, allowed_drop=test.margin, alpha=test.alpha, p_value=test.p_value, lower_bound=test.lower,
            right_to_wrong=t.n10, wrong_to_right=t.n01, passed=test.passed, **extra,
        )

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"

    def to_dict(self, with_flips: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        if not with_flips:
            d.pop("flips")
        return d

    def explain(self) -> str:
        """The failure message: the table, some flipped examples, and what would change the outcome."""
        conf = f"{1 - self.alpha:.0%}"
        lines = [
            f"compressed model '{self.method}' could not be shown to stay within the allowed accuracy drop on "
            f"'{self.task}' (paired one-sided non-inferiority test, alpha={self.alpha:g})",
            "",
        ]
        cols = [
            ("task", "task"), ("n", "n"), ("dense acc", "dense_acc"), ("compressed acc", "compressed_acc"),
            ("Δ", "delta"), ("allowed drop", "allowed_drop"), ("p", "p_value"),
            (f"{conf} lower bound of Δ", "lower_bound"), ("right→wrong", "right_to_wrong"),
            ("wrong→right", "wrong_to_right"),
        ]
        lines += ["  " + line for line in format_table([self.to_dict()], cols)]
        if self.flips:
            lines += ["", f"examples that flipped right→wrong ({min(SHOW_FLIPS, len(self.flips))} of {self.right_to_wrong}):"]
            for f in self.flips[:SHOW_FLIPS]:
                lines.append(f"  [{f.example_id}] {f.prompt}")
                lines.append(f"      expected {f.reference!r}; dense said {f.dense!r}; compressed said {f.compressed!r}")
        lines += ["", self.hint()]
        return "\n".join(lines)

    def hint(self) -> str:
        needed_margin = max(0.0, -self.lower_bound)
        parts = [f"This gate would pass with max_drop > {needed_margin:.3f} at these counts."]
        if self.delta > -self.allowed_drop:
            t = PairedCounts(
                n11=0, n10=self.right_to_wrong, n01=self.wrong_to_right, n00=self.n - self.right_to_wrong - self.wrong_to_right
            )
            need = examples_needed(t, self.allowed_drop, self.alpha)
            if need is not None and need > self.n:
                fix = f"raise {self.limited_by}" if self.limited_by else "the task has no more: use a larger data set"
                parts.append(
                    f"The observed drop is inside the allowance but {self.n} examples are too few to show it: "
                    f"about {need} would be needed ({fix})."
                )
        return " ".join(parts)


def _check_fraction(name: str, value: float, low: float, high: float, *, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not math.isnan(value) and (low < value if open_low else low <= value) and value <= high
    if not ok:
        bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise KickUsageError(f"{name} must be a number in {bound}, got {value!r}")


def assert_kick_accuracy_within(
    pair: "ModelPair",
    task: str | Task,
    *,
    max_drop: float,
    relative: bool = False,
    alpha: float = 0.05,
    limit: int | None = None,
    **task_options: Any,
) -> AccuracyResult:
    """Pass when a paired one-sided test rejects H0: acc_compressed <= acc_dense - allowed, at level alpha.

    `max_drop` is absolute accuracy (0.02 = two points), or a fraction of the dense accuracy with
    `relative=True`. `limit` caps the examples; it wins over the test's kick marker, which wins over --kick-limit,
    which wins over the `kick_limit` ini value.
    Extra keyword arguments are task options, e.g. `subjects=("marketing",)` for mmlu.
    """
    __tracebackhide__ = True
    _check_fraction("max_drop", max_drop, 0.0, 1.0)
    _check_fraction("alpha", alpha, 0.0, 0.5, open_low=True)
    wins = effective_limit(limit, pair.limit)
    the_task = get_task(task, **task_options)
    available = the_task.load(pair.data_dir)
    examples = select(available, wins.value if wins else None, pair.seed)
    if not examples:
        raise KickUsageError(
            f"task '{the_task.name}' has no examples after filtering (check the data files, subjects and limit)"
        )
    dense = the_task.evaluate(pair.dense_runner, examples)
    comp = the_task.evaluate(pair.compressed_runner, examples)
    acc_d = sum(o.correct for o in dense) / len(dense)
    allowed = max_drop * acc_d if relative else max_drop
    test = noninferiority([o.correct for o in dense], [o.correct for o in comp], allowed, alpha)
    flips = tuple(
        Flip(ex.id, _short(ex.prompt), d.reference, d.prediction, c.prediction)
        for ex, d, c in zip(examples, dense, comp)
        if d.correct and not c.correct
    )
    result = AccuracyResult.of(
        test, pair.test_id, the_task.name, pair.method.id, relative=relative, flips=flips,
        limited_by=wins.knob if wins and len(examples) < len(available) else "",
    )
    pair.record(result)
    if not result.passed:
        raise AccuracyRegression(result.explain(), result)
    return result


def _short(prompt: str, width: int = 100) -> str:
    """The last question of a k-shot prompt, on one line."""
    last = prompt.strip().split("\n\n")[-1]
    text = " ".join(last.split())
    return text if len(text) <= width else text[: width - 1] + "…"
