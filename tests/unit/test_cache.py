from pytest_kick.cache import CachedRunner, ResultCache
from pytest_kick.engine import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult
from pytest_kick.models import ModelHandle


class FakeEngine:
    """Counts calls; stands in for a model so the cache's bookkeeping is checked in isolation."""

    batch_size = "auto"

    def __init__(self):
        self.calls = 0

    def loglikelihood(self, reqs):
        self.calls += 1
        return [LoglikelihoodResult(-float(len(r.continuation)), True) for r in reqs]

    def generate(self, reqs):
        self.calls += 1
        return [r.context.upper() for r in reqs]


def handle(fp="fp1"):
    h = ModelHandle(name="m", fingerprint=fp, _loader=lambda: (None, None))
    h._engine = FakeEngine()
    return h


def test_second_runner_answers_from_cache_without_the_model(tmp_path):
    reqs = [LoglikelihoodRequest("ctx", " a"), LoglikelihoodRequest("ctx", " bb")]
    first = CachedRunner(handle(), ResultCache(tmp_path))
    a = first.loglikelihood(reqs)
    fresh = handle()
    second = CachedRunner(fresh, ResultCache(tmp_path))
    assert second.loglikelihood(reqs) == a
    assert fresh._engine.calls == 0 and second.stats.hits == 2
    gen = [GenerationRequest("abc", ("\n",), 4)]
    assert first.generate(gen) == ["ABC"] and second.generate(gen) == ["ABC"]


def test_other_model_fingerprint_misses(tmp_path):
    reqs = [LoglikelihoodRequest("ctx", " a")]
    CachedRunner(handle("fp1"), ResultCache(tmp_path)).loglikelihood(reqs)
    other = CachedRunner(handle("fp2"), ResultCache(tmp_path))
    other.loglikelihood(reqs)
    assert other.stats.misses == 1


def test_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path):
    cache = ResultCache(tmp_path)
    key = cache.key("fp", "loglikelihood", {"context": "c", "continuation": "x"})
    cache.put(key, {"logprob": -1.0, "is_greedy": False})
    path = next((tmp_path / "results").rglob("*.json"))
    path.write_text('{"logprob": -1.')  # truncated write from a crashed process
    assert cache.get(key) is None
    cache.put(key, {"logprob": -2.0, "is_greedy": False})
    assert cache.get(key) == {"logprob": -2.0, "is_greedy": False}
    assert not list((tmp_path / "results").rglob(".tmp-*"))


def test_disabled_cache_stores_nothing(tmp_path):
    cache = ResultCache(None)
    cache.put("k", {"a": 1})
    assert cache.get("k") is None
