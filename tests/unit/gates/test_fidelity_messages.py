"""The fidelity gate's failure message on scripted models: each failing metric lists the examples that decided it
(a passing one lists none), the last line names the gate's own bound arguments, and a share not shown within says
exactly how many examples would show it (checked against a scan of every sample size in test_fidelity_needed.py)."""

import math

import pytest

from pytest_kick import FakeRunner, FidelityRegression, ModelPair, assert_fidelity_within, get_task
from pytest_kick.gates.fidelity import SHOW_DIVERGENT, FidelityResult
from pytest_kick.gates.stats import binomial_upper, share_examples_needed


def letters(answers):
    prompts = [e.prompt for e in get_task("mmlu").load(None)]
    return FakeRunner({p: answers[i % len(answers)] for i, p in enumerate(prompts)}, miss=-3.0)


def golds():
    return ["ABCD"[e.gold] for e in get_task("mmlu").load(None)]


def failure(pair, **kwargs) -> tuple[FidelityResult, str]:
    with pytest.raises(FidelityRegression) as err:
        assert_fidelity_within(pair, "mmlu", **kwargs)
    return err.value.result, str(err.value)


def wrong(letter):
    return "B" if letter == "A" else "A"


def scored(table):
    """A model whose letter scores are given per example: table[i] maps a letter to its log-probability."""
    prompts = [e.prompt for e in get_task("mmlu").load(None)]
    return FakeRunner(logprobs={(p, f" {x}"): table[i].get(x, -3.0) for i, p in enumerate(prompts) for x in "ABCD"})


def test_a_flip_rate_failure_lists_the_flipped_examples_not_those_with_equal_answers():
    """Every 15th answer flips right→wrong by a hair (a small KL); every 7th other one keeps its answer but spreads
    its scores (a larger KL): sorted by KL, the message would show only unchanged answers; it shows the flips."""
    g = golds()
    dense = [{a: 0.0} for a in g]
    comp = [
        {wrong(a): 0.0, a: -0.001}
        if i % 15 == 0
        else ({a: 0.0, wrong(a): -1e-4, "D" if a != "D" else "C": -1e-4} if i % 7 == 0 else {a: 0.0})
        for i, a in enumerate(g)
    ]
    for d in comp:
        d.update({x: -20.0 for x in "ABCD" if x not in d} if len(d) == 3 else {})
    flips = {i for i in range(len(g)) if i % 15 == 0}
    r, msg = failure(ModelPair(scored(dense), scored(comp), method="rtn4"), max_flip_rate=0.05, max_kl=10.0, scope="items")
    assert [c.passed for c in r.checks] == [False, True]  # a generous KL limit: its examples are kept, not shown
    by_kl = sorted(r.divergent, key=lambda d: -d.kl)
    assert not by_kl[0].right and by_kl[0].dense == by_kl[0].compressed  # the largest KL: an unchanged answer
    section = msg.split("flip_rate: ", 1)[1].split("\n\n", 1)[0]
    assert section.startswith(f"{len(flips)} of {len(g)} examples flipped correctness ({SHOW_DIVERGENT} shown):")
    shown = [line.split("]")[0].strip(" [") for line in section.splitlines() if line.startswith("  [")]
    assert len(shown) == SHOW_DIVERGENT and {int(s.rsplit("/", 1)[1]) for s in shown} <= flips
    assert "(right) → compressed" in section and "(wrong)" in section
    assert "kl: " not in msg and "top1_agreement: " not in msg  # KL passed; agreement was not asked


def test_a_passing_metric_lists_no_examples_and_a_failing_kl_lists_the_largest_kl():
    """One changed answer: the flip rate and agreement pass at generous limits, KL fails at a tiny one."""
    g = golds()
    comp = [wrong(a) if i == 3 else a for i, a in enumerate(g)]
    pair = ModelPair(letters(g), letters(comp), method="rtn4")
    r, msg = failure(pair, max_flip_rate=0.5, max_kl=1e-6, min_top1_agreement=0.5, scope="items")
    assert [c.metric for c in r.checks if not c.passed] == ["kl"]
    assert "\nkl: the examples with the largest KL(dense ‖ compressed) (1 shown):" in msg
    assert "flip_rate: " not in msg and "top1_agreement: " not in msg
    assert "[general_knowledge/test/3]" in msg and "(KL " in msg
    assert "Loosen max_kl=1e-06 (the allowed bound given to assert_fidelity_within; not --kick-limit" in msg


def test_the_last_line_names_every_failing_bound_argument():
    g = golds()
    half = len(g) // 2
    dense = [a if i < half else "Z" for i, a in enumerate(g)]
    comp = ["Z" if i < half else a for i, a in enumerate(g)]
    r, msg = failure(ModelPair(letters(dense), letters(comp), method="rtn4"), max_flip_rate=0.1, max_kl=0.5, min_top1_agreement=0.9)
    assert "Loosen max_flip_rate=0.1, max_kl=0.5, min_top1_agreement=0.9 (the allowed bounds given to assert_fidelity_within" in msg
    assert "Raise a limit" not in msg
    for head in ("\nflip_rate: ", "\nkl: ", "\ntop1_agreement: "):
        assert head in msg
    assert msg.count("No number of examples can show") == 2  # flip rate and agreement are beyond their limits


def test_an_inconclusive_flip_rate_says_how_many_examples_would_show_it_within():
    """Every 15th answer flips, 1/15 < 0.1: the items scope needs the exact Clopper-Pearson bound below 0.1."""
    g = golds()
    comp = [wrong(a) if i % 15 == 0 else a for i, a in enumerate(g)]
    r, msg = failure(ModelPair(letters(g), letters(comp), method="rtn4"), max_flip_rate=0.1, scope="items")
    (check,) = r.checks
    flips = round(check.value * r.n)
    need = share_examples_needed(flips, r.n, 0.1, 0.05)
    assert check.outcome == "inconclusive" and check.needed == need > r.n
    k = -(-flips * need // r.n)  # the flips at that size, at the observed rate
    assert binomial_upper(k, need, 0.05) <= 0.1
    assert f"{need} examples are the fewest whose exact bound would show it within max_flip_rate=0.1 at alpha=0.05" in msg
    assert f"more than the task's {r.n}" in msg  # the items scope may need more than the task holds


def test_a_limited_benchmark_run_names_the_knob_and_stays_within_the_task():
    g = golds()
    comp = [wrong(a) if i % 15 == 0 else a for i, a in enumerate(g)]
    r, msg = failure(ModelPair(letters(g), letters(comp), method="rtn4"), max_flip_rate=0.1, limit=60)
    (check,) = r.checks
    assert r.population == len(g) and r.limited_by and r.n < check.needed <= len(g)
    assert f"({r.n} were run; raise {r.limited_by})" in msg


def test_top1_agreement_advice_and_no_number_when_the_observed_share_is_outside():
    g = golds()
    comp = [wrong(a) if i % 15 == 0 else a for i, a in enumerate(g)]
    pair = ModelPair(letters(g), letters(comp), method="rtn4")
    r, msg = failure(pair, min_top1_agreement=0.9, scope="items")
    assert r.checks[0].needed and f"If the observed top1_agreement (0.933) held, {r.checks[0].needed} examples are the fewest" in msg
    r, msg = failure(pair, max_flip_rate=0.05, scope="items")
    assert r.checks[0].needed is None
    assert "No number of examples can show flip_rate within max_flip_rate=0.05: the observed 0.0672 is not inside it." in msg


def test_the_new_fields_survive_the_json_round_trip():
    g = golds()
    comp = [wrong(a) if i % 15 == 0 else a for i, a in enumerate(g)]
    r, _ = failure(ModelPair(letters(g), letters(comp), method="rtn4"), max_flip_rate=0.1, max_kl=0.01, limit=60)
    back = FidelityResult.from_json(r.to_json())
    assert back.explain() == r.explain() and back.checks[0].needed == r.checks[0].needed
    assert any(d.right == "dense" for d in back.divergent) and math.isnan(back.checks[1].needed or math.nan)
