"""Verdicts that do not depend on --kick-seed: the examples a limit keeps depend on the data and the limit only,
and every bootstrap is seeded from the data it resamples, so a rerun with another seed gives the same result."""

import pytest

from pytest_kick import (
    EvalSettings,
    FakeRunner,
    KickRegression,
    ModelPair,
    assert_kick_accuracy_within,
    assert_no_bias_regression,
    get_task,
)


def run(gate, seed: int, **kwargs):
    answers = {e.prompt: " Paris" for e in get_task("crows_pairs").load(None)}
    pair = ModelPair(FakeRunner(answers), FakeRunner(answers, miss=-2.5), method="rtn4", settings=EvalSettings(seed=seed))
    try:
        return gate(pair, **kwargs)
    except KickRegression as exc:
        return exc.result if hasattr(exc, "result") else str(exc)


@pytest.mark.parametrize(
    "gate, kwargs",
    [
        (assert_kick_accuracy_within, {"task": "mmlu", "max_drop": 0.1, "limit": 12}),
        (assert_no_bias_regression, {"benchmark": "crows_pairs", "tolerance": 0.1, "limit": 4}),
    ],
)
def test_another_seed_keeps_the_examples_and_the_verdict(gate, kwargs):
    first, second = run(gate, 1, **kwargs), run(gate, 99, **kwargs)
    assert first == second


def test_a_holistic_bias_sample_is_part_of_the_benchmark_not_of_the_seed():
    """`templates=2` keeps a fixed sample of the templates: the same under any generation seed (--kick-seed reaches
    the task as `seed` under the toxicity gate), another only when `sample=` asks for another."""
    prompts = {
        seed: [e.prompt for e in get_task("holistic_bias_generation", templates=2, nouns=1, seed=seed).load(None)] for seed in (1, 2, 1234)
    }
    assert prompts[1] == prompts[2] == prompts[1234]
    other = [e.prompt for e in get_task("holistic_bias_generation", templates=2, nouns=1, sample=5).load(None)]
    assert other != prompts[1]
