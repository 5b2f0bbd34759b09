from pytest_kick import EvalSettings, FakeRunner, KickError, KickRegression, ModelPair, RunnerFactory
from pytest_kick.compression import RTNSpec
from pytest_kick.contract import LoglikelihoodRequest


def test_a_pair_wraps_plain_runners_and_parses_its_method():
    dense, comp = FakeRunner(logprobs={" a": -1.0}), FakeRunner(logprobs={" a": -2.0})
    pair = ModelPair(dense, comp, method="rtn4-g32")
    assert pair.method == RTNSpec(4, 32) and isinstance(pair.dense, RunnerFactory)
    req = [LoglikelihoodRequest("x", " a")]
    assert pair.dense_runner.loglikelihood(req)[0].logprob == -1.0
    assert pair.compressed_runner.loglikelihood(req)[0].logprob == -2.0
    assert pair.dense_runner is pair.dense_runner and dense.calls == comp.calls == 1


def test_a_fingerprinted_factory_is_cached_and_made_lazily(tmp_path):
    made = []

    def make():
        made.append(1)
        return FakeRunner(logprobs={" a": -1.0})

    def pair():
        factory = RunnerFactory("dense", make, fingerprint="fp")
        return ModelPair(factory, RunnerFactory.of(FakeRunner()), method="rtn8", settings=EvalSettings(cache_dir=tmp_path))

    req = [LoglikelihoodRequest("x", " a")]
    pair().dense_runner.loglikelihood(req)
    again = pair()
    assert again.dense_runner.loglikelihood(req)[0].logprob == -1.0 and made == [1]


def test_regressions_are_kick_errors_and_assertion_errors():
    assert issubclass(KickRegression, KickError) and issubclass(KickRegression, AssertionError)


def test_something_that_is_not_a_runner_is_refused_up_front():
    import pytest

    with pytest.raises(TypeError, match="dense side must be a RunnerFactory, a model handle or a Runner, got str"):
        ModelPair("model.gguf", FakeRunner(), method="rtn8")
