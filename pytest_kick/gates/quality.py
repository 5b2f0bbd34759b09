"""The generation-quality gate: per-example scores of free text (ROUGE against the reference, agreement with the
dense output, a judge's score, or the task's own score such as TruthfulQA MC2), paired example by example, and a
one-sided non-inferiority test on the mean difference: pass when the (1 - alpha) lower bound of
mean(compressed - dense) is above -allowed. The bound is a paired bootstrap-t (`stats.mean_bounds`), whose size at
the boundary is checked by simulation (tests/unit/test_simulate.py, benchmarks/gate_calibration.py)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import KickUsageError, QualityRegression
from ..tasks import Task
from .gate import Evidence, GateResult, Interval, check_alpha, check_fraction, check_reps, check_tolerance, run_gate
from .scope import Sampling, exact_within, resolve_scope
from .stats import data_seed, fewest_clusters, mean_test, outcome, reaches
from .table import QUALITY_COLUMNS, format_table, short_prompt
from .textscores import TaskScore, TextScorer, text_scorer

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair

SHOW_WORST = 5


@dataclass(frozen=True)
class ScoreMove:
    """One example and how its score moved."""

    example_id: str
    prompt: str
    dense: str
    compressed: str
    dense_score: float
    compressed_score: float


@dataclass(frozen=True)
class Decision:
    """The paired test on per-example scores (NaN scores, e.g. unparseable verdicts, are left out and counted)."""

    n: int
    unscored: int
    dense_mean: float
    compressed_mean: float
    lower: float
    upper: float
    allowed: float
    outcome: str
    draws: int = 0  # bootstrap draws behind the bounds (0: exact, or no spread)
    mc_error: float = 0.0  # Monte Carlo standard error of the lower bound (what a pass stands on)


def decide_scores(
    dense: list[float],
    compressed: list[float],
    max_drop: float,
    relative: bool,
    alpha: float,
    reps: int,
    seed: int,
    sampling: Sampling | None = None,
) -> Decision:
    """The gate's decision, model-free (simulations call exactly this). `sampling` (default: items drawn from a wider
    population): over every item of the benchmark the observed mean change decides; a limited run of it carries
    the finite-population correction. Unscored examples make a full run a sample of the scored ones."""
    pairs = [(d, c) for d, c in zip(dense, compressed, strict=True) if math.isfinite(d) and math.isfinite(c)]
    unscored = len(dense) - len(pairs)
    # a difference at float noise's scale is no difference (the test is scale-free, so 1e-42 would decide like 1.0)
    noise = 1e-12 * max([1.0] + [max(abs(d), abs(c)) for d, c in pairs])
    pairs = [(d, d if abs(c - d) <= noise else c) for d, c in pairs]
    if not pairs:
        return Decision(0, unscored, math.nan, math.nan, math.nan, math.nan, math.nan, "inconclusive")
    d_mean = sum(d for d, _ in pairs) / len(pairs)
    c_mean = sum(c for _, c in pairs) / len(pairs)
    allowed = max_drop * abs(d_mean) if relative else max_drop
    sampling = dataclasses.replace(sampling or Sampling("items", len(pairs), len(pairs)), n=len(pairs))
    if sampling.exact:
        change = c_mean - d_mean
        return Decision(
            len(pairs),
            unscored,
            d_mean,
            c_mean,
            change,
            change,
            allowed,
            "within" if exact_within(change, -allowed, "min") else "regressed",
        )
    b = mean_test([c - d for d, c in pairs], alpha, reps=reps, seed=seed, fpc=sampling.fpc, threshold=-allowed)
    verdict = outcome(reaches(b.lower, -allowed, "min"), reaches(b.upper, -allowed, "max"))
    if len(pairs) < fewest_clusters(alpha):  # too few examples for any bound at alpha, whatever the bootstrap says
        verdict = "inconclusive"
    return Decision(len(pairs), unscored, d_mean, c_mean, b.lower, b.upper, allowed, verdict, b.draws, b.mc_lower)


@dataclass(frozen=True)
class QualityResult(GateResult):
    """One quality gate: the scorer, the paired means and bounds, and the examples that lost most."""

    kind: ClassVar[str] = "quality"
    plot: ClassVar[tuple[str, str, str]] = (
        "Generation quality: Δ mean score with one-sided bounds; dashed: −allowed drop",
        "quality change",
        "score Δ",
    )
    examples_field: ClassVar[str] = "worst"
    failure: ClassVar[type] = QualityRegression
    columns: ClassVar[tuple[tuple[str, str], ...]] = QUALITY_COLUMNS

    test: str
    task: str
    method: str
    scorer: str
    n: int
    unscored: int
    dense_mean: float
    compressed_mean: float
    lower: float
    upper: float
    allowed: float
    relative: bool
    alpha: float
    outcome: str
    worst: tuple[ScoreMove, ...] = field(default=(), repr=False)
    limited_by: str = ""
    scope: str = "benchmark"  # what the verdict generalizes to, as a summary cell (gates.scope.Sampling.label)
    draws: int = 0  # bootstrap draws behind the bounds (0: exact, or no spread)
    no_reference: int = 0  # examples a judge could not score against the reference because they have none
    mc_error: float = 0.0  # Monte Carlo standard error of the lower bound

    @property
    def passed(self) -> bool:
        return self.outcome == "within"

    @property
    def delta(self) -> float:
        return self.compressed_mean - self.dense_mean

    def intervals(self) -> list[Interval]:
        axis = f"{self.scorer} score Δ (compressed − dense)"  # each scorer has its own scale
        return [
            Interval(f"{self.task} · {self.method} · {self.scorer}", self.delta, self.lower, self.upper, -self.allowed, self.outcome, axis)
        ]

    def outcomes(self) -> dict[str, str]:
        return {self.scorer: self.outcome}

    def rows(self) -> list[dict[str, Any]]:
        return [self.summary()]

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "test": self.test,
            "task": self.task,
            "method": self.method,
            "scorer": self.scorer,
            "n": self.n,
            "unscored": self.unscored,
            "dense": self.dense_mean,
            "compressed": self.compressed_mean,
            "delta": self.delta,
            "lower": self.lower,
            "allowed_drop": self.allowed,
            "alpha": self.alpha,
            "outcome": self.outcome,
            "scope": self.scope,
            "verdict": self.verdict,
        }

    def _how(self) -> str:
        if not self.draws:
            return "exact: every item of the benchmark" if self.scope.startswith("benchmark (all") else "no spread"
        return f"paired bootstrap-t, {self.draws} draws; Monte Carlo error of the lower bound ± {self.mc_error:.1g}"

    def explain(self) -> str:
        conf = f"{1 - self.alpha:.0%}"
        what = f"'{self.task}' scored by {self.scorer}"
        if self.n == 0:
            head = f"no example of {what} could be scored ({self.unscored} unscored): nothing was shown"
        elif self.outcome == "regressed":
            head = f"compressed model '{self.method}' regressed on {what}: the mean score fell by more than {self.allowed:g}"
        else:
            head = f"compressed model '{self.method}' could not be shown to keep {what} within a drop of {self.allowed:g}"
        lines = [
            head,
            f"  dense {self.dense_mean:.4g}, compressed {self.compressed_mean:.4g}, Δ {self.delta:+.4g} over n={self.n} paired examples;"
            f" one-sided {conf} bounds of Δ: [{self.lower:+.4g}, {self.upper:+.4g}]"
            f" ({self._how()}, alpha={self.alpha:g}; scope: {self.scope})",
        ]
        if self.no_reference:
            lines.append(
                f"  {self.no_reference} example(s) have no reference answer to judge against: judge head to head with "
                "against='dense' (the dense model's answer is the reference that always exists)"
            )
        if self.unscored > self.no_reference:
            lines.append(
                f"  {self.unscored - self.no_reference} example(s) could not be scored (unparseable verdicts, or scores off the "
                "judge's scale) and are not in n"
            )
        if self.n and self.outcome != "regressed":
            lines.append("  more examples narrow the bound (raise the limit), or the allowed drop is too tight")
        if self.limited_by and self.outcome == "inconclusive":
            lines.append(f"  the examples were cut by {self.limited_by}")
        if self.worst:
            lines += ["", f"examples that lost most ({len(self.worst)} shown):"]
            rows = [
                {"id": w.example_id, "prompt": w.prompt, "dense": f"{w.dense_score:.3g}", "compressed": f"{w.compressed_score:.3g}"}
                for w in self.worst
            ]
            lines += [
                "  " + line
                for line in format_table(rows, (("example", "id"), ("prompt", "prompt"), ("dense", "dense"), ("compressed", "compressed")))
            ]
            for w in self.worst:
                lines += [
                    f"  {w.example_id}:",
                    f"    dense:      {short_prompt(w.dense, 160)}",
                    f"    compressed: {short_prompt(w.compressed, 160)}",
                ]
        return "\n".join(lines)


def _scores(scorer: TextScorer, ev: Evidence) -> tuple[list[float], list[float]]:
    if isinstance(scorer, TaskScore):
        try:
            return [float(o.values["score"]) for o in ev.dense], [float(o.values["score"]) for o in ev.compressed]
        except KeyError:
            raise KickUsageError(
                f"task '{ev.task.name}' gives no per-example score: pass scorer='rougeL', 'agreement' or a judge"
            ) from None
    prompts = [ex.prompt for ex in ev.examples]
    dense_text = [o.prediction for o in ev.dense]
    comp_text = [o.prediction for o in ev.compressed]
    if scorer.against == "dense" and callable(getattr(scorer, "score_pair", None)):  # a judge: head to head
        return scorer.score_pair(dense_text, comp_text, prompts)  # type: ignore[attr-defined]
    if scorer.against == "dense":
        return scorer.score(dense_text, dense_text, prompts), scorer.score(comp_text, dense_text, prompts)
    refs = [o.reference for o in ev.dense]
    return scorer.score(dense_text, refs, prompts), scorer.score(comp_text, refs, prompts)


def _with_judge_options(scorer: Any, against: str | None, prompt: Any) -> Any:
    """A judge with this gate's own `against` and prompt (a copy: the session's judge is unchanged)."""
    if against is None and prompt is None:
        return scorer
    from .judges import Judge, JudgePrompt, judge_prompt

    if not isinstance(scorer, Judge):
        raise KickUsageError("against= and judge_prompt= apply to a judge: pass scorer=kick_judge (or another judge)")
    if against not in (None, "reference", "dense"):
        raise KickUsageError(f"against must be 'reference' or 'dense', got {against!r}")
    changes: dict[str, Any] = {"against": against} if against is not None else {}
    if prompt is not None:
        changes["prompt"] = prompt if isinstance(prompt, JudgePrompt) else judge_prompt(str(prompt))
        changes["prompt"].render("question", "first answer", "second answer", "reference")  # its placeholders, now
    return dataclasses.replace(scorer, **changes)


def _no_reference(scorer: Any, ev: Evidence) -> int:
    """Examples a judge scoring against the reference cannot score (they have none)."""
    from .judges import Judge

    if not isinstance(scorer, Judge) or scorer.against != "reference":
        return 0
    return sum(not o.reference.strip() for o in ev.dense)


def assert_generation_quality_within(
    pair: ModelPair,
    task: str | Task,
    *,
    max_drop: float,
    scorer: str | TextScorer | None = None,
    relative: bool = False,
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = 2000,
    scope: str | None = None,
    against: str | None = None,
    judge_prompt: Any = None,
    **task_options: Any,
) -> QualityResult:
    """Pass when the paired one-sided test shows mean(compressed score - dense score) > -allowed at level alpha.

    `scorer`: 'rouge1' / 'rouge2' / 'rougeL' against the task's reference, 'agreement' (ROUGE-L of the compressed
    output against the dense one), a judge object, or None / 'score' for the task's own per-example score.
    `max_drop` is in the scorer's units (0.05 ROUGE, 1 point of a 1-10 judge score), or a fraction of the dense
    mean with `relative=True`. With a judge: `against='dense'` judges the answers head to head (every example has
    that reference); `judge_prompt` (a name, PATH:NAME or JudgePrompt) replaces --kick-judge-prompt here."""
    __tracebackhide__ = True
    if relative:
        check_fraction("max_drop", max_drop, 0.0, 1.0)
    else:
        check_tolerance("max_drop", max_drop)
    check_alpha(alpha)
    check_reps(reps, alpha)
    chosen = _with_judge_options(text_scorer(scorer), against, judge_prompt)
    claim = resolve_scope(scope, pair)

    def decide(ev: Evidence) -> QualityResult:
        dense, comp = _scores(chosen, ev)
        ev.scores.update(dense=list(dense), compressed=list(comp))  # kept for a saved run (--kick-save)
        sampling = ev.sampling(claim)
        seed = data_seed([ex.id for ex in ev.examples], dense)  # from the data, never from the compressed answers
        d = decide_scores(dense, comp, max_drop, relative, alpha, reps, seed, sampling)
        order = sorted(
            (i for i in range(len(dense)) if math.isfinite(dense[i]) and math.isfinite(comp[i]) and comp[i] < dense[i]),
            key=lambda i: comp[i] - dense[i],
        )
        worst = tuple(
            ScoreMove(
                ev.examples[i].id,
                short_prompt(ev.examples[i].prompt),
                ev.dense[i].prediction,
                ev.compressed[i].prediction,
                dense[i],
                comp[i],
            )
            for i in order[:SHOW_WORST]
        )
        return QualityResult(
            pair.test_id, ev.task.name, pair.method.id, chosen.name, **dataclasses.asdict(d),
            relative=relative, alpha=alpha, worst=worst, limited_by=ev.limited_by,
            scope=dataclasses.replace(sampling, n=d.n).label(), no_reference=_no_reference(chosen, ev),
        )  # fmt: skip

    return run_gate(pair, task, decide, limit=limit, task_options=task_options)  # type: ignore[return-value]
