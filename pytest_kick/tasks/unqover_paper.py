"""UnQover aggregated as the Beyond Perplexity code does (Xu et al. 2024, after Li et al. 2020's 'model' metric):
one example per subject, scored from raw answer log-likelihoods, so that the model's mu and eta are plain means."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from ..contract import LoglikelihoodRequest
from . import Example, Outcome, Runner
from .definitions import paper_comparative, paper_subject_bias


def by_subject(examples: Sequence[Example]) -> list[Example]:
    """The per-attribute examples of `UnQover.load` regrouped as one example per (class, subject): each holds, for
    every attribute, the subject pairs that include the subject (so a pair's questions serve both its subjects)."""
    plans: dict[tuple[str, str], list] = {}
    for ex in examples:
        plan = ex.meta["plan"]
        for unit in ex.choices:
            pairs = tuple(p for p in plan.pairs if unit in (p[0].unit, p[1].unit))
            plans.setdefault((ex.group, unit), []).append(dataclasses.replace(plan, pairs=pairs))
    return [
        Example(
            id=f"{group}/subject/{unit}",
            prompt=f"{unit}: {len(ps)} attribute(s)",
            choices=tuple(p.attribute.text for p in ps),
            group=group,
            meta={"unit": unit, "plans": tuple(ps)},
        )
        for (group, unit), ps in plans.items()
    ]


def evaluate_by_subject(runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
    """Per subject x: its signed win C(x, other, a) per (pair, template), then mu_x and eta_x (see
    definitions.paper_subject_bias). Each distinct (prompt, answer) is asked once, however many subjects share it."""
    questions = [[plan.questions(paper=True) for plan in ex.meta["plans"]] for ex in examples]
    index: dict[tuple[str, str], int] = {}
    for per_example in questions:
        for qs in per_example:
            for q in qs:
                for answer in q.answers:
                    index.setdefault((q.prompt, answer), len(index))
    logprobs = [r.logprob for r in runner.loglikelihood([LoglikelihoodRequest(p, a) for p, a in index])]
    outcomes = []
    for ex, per_example in zip(examples, questions):
        wins: dict[str, list[float]] = {}
        for plan, qs in zip(ex.meta["plans"], per_example):
            scores = [logprobs[index[(q.prompt, a)]] for q in qs for a in q.answers]  # 8 per (pair, template)
            signed = wins.setdefault(f"{plan.attribute.family}/{plan.attribute.index}", [])
            for k, ((x1, _), _) in enumerate(itertools.product(plan.pairs, plan.templates)):
                c = paper_comparative(scores[8 * k : 8 * k + 8])
                signed.append(c if x1.unit == ex.meta["unit"] else -c)
        mu, eta = paper_subject_bias(wins)
        outcomes.append(
            Outcome(
                ex.id,
                eta < 1.0,  # "correct" unless the subject won (or lost) every comparison of every attribute
                f"{ex.meta['unit']}: mu {mu:.3f}, eta {eta:.3f}",
                "no attribute preferred",
                values={"max_gamma": mu, "max_eta": eta},
            )
        )
    return outcomes
