"""The fidelity gate on scripted models: flips in either direction, KL over the answer choices, top-1 agreement."""

import pytest

from pytest_kick import (
    FakeRunner,
    FidelityRegression,
    KickUsageError,
    ModelPair,
    assert_fidelity_within,
    assert_kick_accuracy_within,
    get_task,
)


def letters(answers):
    prompts = [e.prompt for e in get_task("mmlu").load(None)]
    return FakeRunner({p: answers[i % len(answers)] for i, p in enumerate(prompts)}, miss=-3.0)


def golds():
    return ["ABCD"[e.gold] for e in get_task("mmlu").load(None)]


def test_an_identical_model_passes_every_metric():
    g = golds()
    same = ModelPair(letters(g), letters(g), method="rtn8")
    r = assert_fidelity_within(same, "mmlu", max_flip_rate=0.05, max_kl=0.01, min_top1_agreement=0.95, scope="items")
    assert r.passed and r.n == len(g)
    assert {c.metric: c.value for c in r.checks} == {"flip_rate": 0.0, "kl": 0.0, "top1_agreement": 1.0}
    assert r.summary()["flip_rate_bound"] == pytest.approx(1 - 0.05 ** (1 / len(g)))  # exact bound with no flip
    # over every item of the benchmark: the observed values, whatever the limits
    r = assert_fidelity_within(same, "mmlu", max_flip_rate=0.0, min_top1_agreement=1.0)
    assert r.passed and r.summary()["flip_rate_bound"] == 0.0 and r.scope == f"benchmark (all {len(g)})"


def test_a_limited_run_of_the_benchmark_takes_exact_hypergeometric_bounds():
    """No flip in 20 of the task's questions: the share of flips among all of them is bounded by the hypergeometric
    bound, tighter than the binomial one of 20 draws from an endless population."""
    from pytest_kick.gates.stats import binomial_upper, hypergeom_bounds

    g = golds()
    same = ModelPair(letters(g), letters(g), method="rtn8")
    r = assert_fidelity_within(same, "mmlu", max_flip_rate=0.5, limit=20)
    lower, upper = hypergeom_bounds(0, 20, len(g), 0.05)
    assert r.checks[0].bound == upper < binomial_upper(0, 20, 0.05) and lower == 0.0
    assert hypergeom_bounds(20, 20, len(g), 0.05)[0] > 0.5 and hypergeom_bounds(3, 20, 20, 0.05) == (0.15, 0.15)


def test_equal_accuracy_can_hide_many_flips():
    """Dense right on the first half, compressed right on the second: same accuracy, the answers moved."""
    g = golds()
    half = len(g) // 2
    dense = [a if i < half else "Z" for i, a in enumerate(g)]
    comp = ["Z" if i < half else a for i, a in enumerate(g)]
    pair = ModelPair(letters(dense), letters(comp), method="rtn4")
    with pytest.raises(FidelityRegression) as err:
        assert_fidelity_within(pair, "mmlu", max_flip_rate=0.1, max_kl=0.5, min_top1_agreement=0.9)
    r, msg = err.value.result, str(err.value)
    assert r.checks[0].value > 0.7 and not any(c.passed for c in r.checks)  # ("Z": the first letter wins a tie)
    assert (
        "flip_rate, kl, top1_agreement" in msg
        and f"flip_rate: {round(r.checks[0].value * r.n)} of {r.n} examples flipped correctness (5 shown)" in msg
    )
    assert "(KL " in msg


def test_a_generation_task_has_flips_and_agreement_but_no_kl():
    examples = get_task("freebaseqa").load(None)
    right = {e.prompt: e.answers[0] for e in examples}
    pair = ModelPair(FakeRunner(right), FakeRunner(dict(right)), method="rtn8")
    assert assert_fidelity_within(pair, "freebaseqa", max_flip_rate=0.1, min_top1_agreement=0.9).passed
    with pytest.raises(KickUsageError, match="max_kl needs a multiple-choice task"):
        assert_fidelity_within(pair, "freebaseqa", max_kl=0.1)


@pytest.mark.parametrize(
    "kwargs, needle",
    [({}, "at least one of"), ({"max_flip_rate": 1.5}, "max_flip_rate must be"), ({"max_kl": 0}, "max_kl must be a positive number")],
)
def test_bad_arguments(kwargs, needle):
    pair = ModelPair(FakeRunner(), FakeRunner(), method="rtn8")
    with pytest.raises(KickUsageError, match=needle):
        assert_fidelity_within(pair, "mmlu", **kwargs)


def test_the_accuracy_gate_alone_passes_the_flipped_model():
    g = golds()
    half = len(g) // 2
    dense = [a if i < half else "Z" for i, a in enumerate(g)]
    comp = ["Z" if i < half else a for i, a in enumerate(g)]
    pair = ModelPair(letters(dense), letters(comp), method="rtn4")
    assert assert_kick_accuracy_within(pair, "mmlu", max_drop=0.2).passed  # equal accuracy: what fidelity adds
