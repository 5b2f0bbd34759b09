"""The evaluation contract: cache payloads round-trip exactly, and a payload of the wrong shape is refused."""

import math

import pytest

from pytest_kick.contract import (
    KINDS,
    DistributionResult,
    LoglikelihoodResult,
    RollingResult,
    RunnerFactory,
    TopK,
    decode,
)
from pytest_kick.testing import FakeRunner

RESULTS = {
    "loglikelihood": LoglikelihoodResult(-1.25, True, 3),
    "rolling": RollingResult(((-10.5, 7), (-3.0, 2))),
    "generate": " Paris.",
    "distribution": DistributionResult(
        (-0.1, -2.4),
        (1, 2),
        (
            (TopK((5, 9), (-0.1, -2.5), math.log(0.01), 5, -0.1),),
            (TopK((9, 5), (-0.3, -1.4), float("-inf"), 5, -1.4), TopK((1,), (-1e-9,), -20.7, 1, -1e-9)),
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(RESULTS))
def test_payloads_round_trip_exactly(kind):
    import json

    payload = json.loads(json.dumps(KINDS[kind].encode(RESULTS[kind])))
    assert decode(kind, payload) == RESULTS[kind]


@pytest.mark.parametrize(
    "kind, payload",
    [
        ("loglikelihood", {"logprob": "-1", "is_greedy": True}),
        ("loglikelihood", {"logprob": -1.0, "is_greedy": True, "n_tokens": -2}),
        ("rolling", {"windows": [[-1.0]]}),
        ("generate", {"text": 3}),
        ("distribution", {"lp": [-1.0], "n": [1, 2], "positions": []}),
        (
            "distribution",
            {"lp": [-1.0], "n": [1], "positions": [{"ids": "!!", "lp": "", "k": [], "rest": "", "target": "", "target_lp": ""}]},
        ),
    ],
)
def test_payloads_of_the_wrong_shape_are_refused(kind, payload):
    with pytest.raises(ValueError, match=f"cached {kind} payload has the wrong shape"):
        decode(kind, payload)


def test_choice_logprobs_are_a_distribution_over_the_choices():
    result = DistributionResult((-1.0, -2.0, -30.0), (1, 1, 1))
    probs = [math.exp(x) for x in result.choice_logprobs()]
    assert math.fsum(probs) == pytest.approx(1.0) and probs[0] > probs[1] > probs[2]


def test_runner_factory_of_an_existing_runner_is_not_cached():
    runner = FakeRunner()
    factory = RunnerFactory.of(runner)
    assert factory.make() is runner and factory.fingerprint is None and factory.name == "FakeRunner"
