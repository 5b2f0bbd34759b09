"""The fidelity gate as users run it: a team's own multiple-choice task over the fact model's questions, real
compression. Both 8-bit RTN and 50% magnitude pruning keep every answer here; the KL over the answer choices
still tells them apart."""

import pytest

pytestmark = pytest.mark.slow  # trains and compresses a real (tiny) model

CONFTEST = '''
import random
from dataclasses import dataclass

from pytest_kick import Example, LoglikelihoodRequest, Outcome, register_task


@register_task("fact_choice")
@dataclass(frozen=True)
class FactChoice:
    """The fact model's questions as four-way multiple choice (the other options: other facts' answers)."""

    name: str = "fact_choice"

    def load(self, data_dir):
        lines = (data_dir / "freebaseqa" / "FreebaseQA-eval.txt").read_text().splitlines()
        rows = [line.rsplit(" | ", 1) for line in lines if line]
        answers = [a for _, a in rows]
        rng = random.Random(0)
        out = []
        for i, (q, a) in enumerate(rows):
            choices = tuple(sorted([a, *rng.sample([x for x in answers if x != a], 3)]))
            out.append(Example(id=str(i), prompt=f"Question: {q}\\nAnswer:", choices=choices, gold=choices.index(a)))
        return out

    def evaluate(self, runner, examples):
        results = runner.loglikelihood([LoglikelihoodRequest(e.prompt, f" {c.capitalize()}") for e in examples for c in e.choices])
        out = []
        for k, e in enumerate(examples):
            scores = tuple(r.logprob for r in results[4 * k : 4 * k + 4])
            pick = max(range(4), key=scores.__getitem__)
            out.append(Outcome(e.id, pick == e.gold, e.choices[pick], e.choices[e.gold], scores=scores, choice=pick))
        return out
'''

GATE = """
from pytest_kick import assert_fidelity_within


def test_fidelity(kick_pair):
    assert_fidelity_within(kick_pair, "fact_choice", max_flip_rate=0.15, max_kl=1e-6, min_top1_agreement=0.85)
"""


def test_rtn8_passes_and_magnitude50_fails_on_kl_with_a_table(pytester, kick_args):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_team_fidelity=GATE)
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8,magnitude50", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_fidelity?rtn8? PASSED*",
            "*test_fidelity?magnitude50? FAILED*",
            "*FidelityRegression: compressed model 'magnitude50' regressed on 'fact_choice' (fidelity): kl shown beyond the limit*",
            "*metric*value*95% bound*limit*outcome*",
            "*flip_rate*",
            "*kl*regressed (FAIL)*",
            "*top1_agreement*",
            "*pytest-kick summary*",
            "*flip rate*KL*top-1*verdict*",
        ]
    )
