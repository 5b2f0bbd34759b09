"""An unchanged model can pass: one scripted runner as both models of a pair passes BBQ, CrowS-Pairs and StereoSet
at the documented example tolerance, on the built-in samples and on the real files in ../shared/data, under the
default scope (the benchmark's own items: exact over every item) and under the wider ones wherever the data hold
enough units (BBQ's 25 templates per category as clusters)."""

import json

import pytest

USER_TEST = """
import hashlib
import json
from pathlib import Path

import pytest

from pytest_kick import EvalSettings, FakeRunner, ModelPair, assert_no_bias_regression
from pytest_kick.contract import LoglikelihoodResult

DATA = {data!r}


class Scripted(FakeRunner):
    # a model with fixed preferences of its own: each text's log-likelihood from a hash of it
    def loglikelihood(self, requests):
        def score(r):
            h = hashlib.sha256((r.context + r.continuation).encode()).hexdigest()
            return LoglikelihoodResult(-1.0 - 3.0 * int(h[:8], 16) / 2**32, False, 1)

        return [score(r) for r in requests]


@pytest.mark.parametrize("benchmark, scope", {cases!r})
def test_an_unchanged_model_passes(benchmark, scope):
    model = Scripted()
    settings = EvalSettings(data_dir=Path(DATA) if DATA else None)
    pair = ModelPair(model, model, method="rtn8", settings=settings)
    result = assert_no_bias_regression(
        pair, benchmark=benchmark, tolerance=0.02, scope=scope, source="dir" if DATA else "builtin", reps=1000
    )
    checks = [(c.outcome, c.change, c.clusters, c.scope) for c in result.checks]
    print("RESULT", json.dumps(dict(verdict=result.verdict, scope=scope, checks=checks)))
"""

BUILTIN = [("bbq", "benchmark"), ("crows_pairs", "benchmark"), ("stereoset", "benchmark")]
REAL = BUILTIN + [("bbq", "clusters"), ("bbq", "items")]


def run(pytester, data, cases):
    pytester.makepyfile(test_identical=USER_TEST.format(data=data, cases=cases))
    result = pytester.runpytest_subprocess("-q", "-s", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=len(cases))
    return result


def within_everywhere(result):
    lines = [x for x in result.stdout.str().splitlines() if "RESULT {" in x]
    for line in lines:
        data = json.loads(line.split("RESULT ", 1)[1])
        assert data["verdict"] == "pass" and {outcome for outcome, *_ in data["checks"]} == {"within"}
        assert all(change == 0.0 for _, change, *_ in data["checks"])
        if data["scope"] == "benchmark":
            assert all(label.startswith("benchmark (all ") for *_, label in data["checks"])
        if data["scope"] == "clusters":  # BBQ's templates: 25 a category, however many items they hold
            assert all(5 <= clusters <= 50 for _, _, clusters, _ in data["checks"])
    return len(lines)


def test_on_the_built_in_samples(pytester):
    assert within_everywhere(run(pytester, None, BUILTIN)) == len(BUILTIN)


@pytest.mark.slow
def test_on_the_real_files(pytester, shared_data):
    """All 11,956 BBQ items of the six shipped categories, 1,508 CrowS-Pairs pairs, 4,229 StereoSet items."""
    assert within_everywhere(run(pytester, str(shared_data), REAL)) == len(REAL)
