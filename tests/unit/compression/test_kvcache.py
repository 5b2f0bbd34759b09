"""KV-cache compression: the sliding window with sinks against an attention-mask reference, quantized caches
near the dense answers and worse at 2 bits than at 4, answers independent of what else is scored with them."""

from pathlib import Path

import pytest

from pytest_kick.compression import parse_spec
from pytest_kick.compression.kvcache import READ_CHUNK, KVEngine
from pytest_kick.contract import GenerationRequest, LoglikelihoodRequest, RollingRequest
from pytest_kick.errors import KickUsageError
from pytest_kick.models.load import load_hf
from pytest_kick.runners.engine import Engine
from pytest_kick.settings import LoadSettings

try:  # imported at collection: an in-process pytester run drops what it imported from sys.modules, and quanto's
    import optimum.quanto  # noqa: F401  (torch operators cannot be registered by a second import)
except ImportError:
    pass

pytestmark = pytest.mark.slow  # runs a real (tiny) model


@pytest.fixture(scope="module")
def model_tok(random_model_dir):
    return load_hf(random_model_dir, LoadSettings(device="cpu"))


def kv(model_tok, text):
    model, tok = model_tok
    return KVEngine(model, tok, spec=parse_spec(text))


CONTEXT = "".join(f"Question: What is the capital of Ka{i}?\nAnswer: Lo{i}\n\n" for i in range(5))
REQUESTS = [LoglikelihoodRequest(CONTEXT + "Question: What is the capital of Mi?\nAnswer:", f" {c}") for c in ("Lo1", "Ka2", "Mi")]


@pytest.mark.parametrize("text,bad", [("kv-int3", "4 or 2 bits"), ("kv-window5", "expected kv-int4"), ("kv-sink2-window0", "at least 1")])
def test_bad_specs_name_the_valid_forms(text, bad):
    with pytest.raises(KickUsageError, match=bad):
        parse_spec(text)


def test_a_window_longer_than_every_text_changes_nothing(model_tok):
    model, tok = model_tok
    dense = Engine(model, tok).loglikelihood(REQUESTS)
    wide = kv(model_tok, "kv-sink4-window100000").loglikelihood(REQUESTS)
    assert [w.logprob for w in wide] == pytest.approx([d.logprob for d in dense], abs=1e-4)
    gen = [GenerationRequest(CONTEXT, stop=(), max_new_tokens=6)]
    assert kv(model_tok, "kv-sink4-window100000").generate(gen) == Engine(model, tok).generate(gen)


def reference_sink_window(model, ids, start, sink, window):
    """One full forward with the mask the policy implies: a context token i (i < start) of the block [c0, c1) sees
    earlier tokens of its own block, the first `sink` tokens and the `window` tokens before c0; a scored token i
    (read alone) sees the first `sink` tokens, the `window` tokens before it, and itself."""
    import torch

    n = ids.shape[1]
    mask = torch.zeros((1, 1, n, n), dtype=torch.bool)
    for i in range(n):
        c0 = (i // READ_CHUNK) * READ_CHUNK if i < start else i
        for j in range(i + 1):
            mask[0, 0, i, j] = j >= c0 or j < sink or j >= c0 - window
    with torch.inference_mode():
        return torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[0].float(), dim=-1)


def test_sink_window_scores_equal_an_explicit_attention_mask(model_tok):
    import torch

    model, tok = model_tok
    eng = kv(model_tok, "kv-sink3-window20")
    req = REQUESTS[0]
    ctx, cont = eng._split(req)
    assert len(ctx) > 2 * READ_CHUNK + 20  # long enough that tokens are evicted
    ids = torch.tensor([ctx + cont[:-1]])
    ref = reference_sink_window(model, ids, len(ctx) - 1, 3, 20)
    expected = sum(ref[len(ctx) - 1 + k, t].item() for k, t in enumerate(cont))
    assert eng.loglikelihood([req])[0].logprob == pytest.approx(expected, abs=1e-4)
    assert abs(expected - Engine(model, tok).loglikelihood([req])[0].logprob) > 1e-3  # the eviction did matter


@pytest.mark.parametrize("method", ["kv-int2", "kv-int4", "kv-sink1-window4"])
def test_a_text_shorter_than_a_block_is_still_read_through_the_compressed_cache(model_tok, method):
    """Every scored position attends to the compressed cache of what precedes it, however short the text: a
    12-token question must not get the dense answer."""
    model, tok = model_tok
    short = [LoglikelihoodRequest("Question: What is the capital of Mi?\nAnswer:", " Lo1 Ka2")]
    assert len(kv(model_tok, method)._split(short[0])[0]) < READ_CHUNK
    dense = Engine(model, tok).loglikelihood(short)[0].logprob
    assert abs(kv(model_tok, method).loglikelihood(short)[0].logprob - dense) > 1e-4
    gen = [GenerationRequest("Question: What is the capital of Mi?\nAnswer:", stop=(), max_new_tokens=8)]
    assert kv(model_tok, method).generate(gen) != Engine(model, tok).generate(gen) or method == "kv-int4"


def test_models_with_sliding_window_layers_are_refused(model_tok):
    import copy

    model, tok = model_tok
    other = copy.copy(model)
    other.config = copy.deepcopy(model.config)
    other.config.layer_types = ["sliding_attention", "full_attention"]
    with pytest.raises(KickUsageError, match="need a model whose layers all use full attention; this one uses sliding_attention"):
        KVEngine(other, tok, spec=parse_spec("kv-sink4-window16"))


def test_quantized_caches_stay_near_dense_and_two_bits_err_more(model_tok):
    model, tok = model_tok
    texts = [CONTEXT * 2]
    rolling = [RollingRequest(t, window=128, stride=64) for t in texts]
    dense = Engine(model, tok).loglikelihood_rolling(rolling)[0]
    err = {}
    for bits in (4, 2):
        got = kv(model_tok, f"kv-int{bits}").loglikelihood_rolling(rolling)[0]
        err[bits] = sum(abs(a - b) for (a, _), (b, _) in zip(got.windows, dense.windows))
    total = abs(sum(ll for ll, _ in dense.windows))
    assert 0 < err[4] < err[2] < 0.2 * total


def test_answers_do_not_depend_on_what_is_scored_with_them(model_tok):
    for text in ("kv-int4", "kv-sink4-window16"):
        together = kv(model_tok, text).loglikelihood(REQUESTS)
        alone = [kv(model_tok, text).loglikelihood([r])[0] for r in REQUESTS]
        assert [t.logprob for t in together] == [a.logprob for a in alone]
        assert [t.is_greedy for t in together] == [a.is_greedy for a in alone]


def test_generation_greedy_and_seeded_samples(model_tok):
    eng = kv(model_tok, "kv-int4")
    greedy = GenerationRequest(CONTEXT, stop=("\n",), max_new_tokens=8)
    assert eng.generate([greedy]) == eng.generate([greedy])
    samples = [GenerationRequest(CONTEXT, stop=(), max_new_tokens=8, sample=i, top_p=0.9, seed=7) for i in range(3)]
    first, again = eng.generate(samples), kv(model_tok, "kv-int4").generate(samples)
    assert first == again and len(set(first)) > 1  # the same draws every run, different draws per sample


def test_kv_plan_leaves_weights_alone_and_is_keyed_apart_from_dense(random_model_dir, tmp_path):
    from pytest_kick.compression import CompressionSettings
    from pytest_kick.compression.plan import plan_method
    from pytest_kick.models.handles import compressed_handle, dense_handle
    from pytest_kick.sources import ModelSource

    settings = LoadSettings(device="cpu", cache_dir=tmp_path)
    source = ModelSource("dir", str(random_model_dir))
    dense = dense_handle(source, settings)
    handles = {}
    for text in ("kv-int4", "kv-int2", "kv-sink4-window64"):
        plan = plan_method(parse_spec(text), CompressionSettings())
        assert plan.runtime and plan.whole and plan.calibration is None
        handles[text] = compressed_handle(source, dense, plan, settings, CompressionSettings())
    assert len({h.fingerprint for h in handles.values()} | {dense.fingerprint}) == 4
    h = handles["kv-int4"]
    assert "weights unchanged" in h.facts.build
    assert h.model is dense.model  # one copy of the weights in memory
    assert isinstance(h.engine(), KVEngine) and type(dense.engine()) is Engine
    assert not list(tmp_path.glob("models/*"))  # nothing built or saved


def test_a_ray_replica_runs_a_kv_method_with_its_own_engine_on_the_dense_files(random_model_dir, tmp_path):
    """A replica told `kick_runtime` loads the dense files and answers through the KV engine: the same answers as
    the KV engine here, not the dense ones (a replica that ignored it would hand dense answers to kv-int2)."""
    from pytest_kick.compression import CompressionSettings
    from pytest_kick.compression.plan import plan_method
    from pytest_kick.models.handles import compressed_handle, dense_handle
    from pytest_kick.models.load import numerics
    from pytest_kick.models.replica import Replica, ReplicaSpec, listing
    from pytest_kick.sources import ModelSource

    settings = LoadSettings(device="cpu", dtype="float32", cache_dir=tmp_path)
    source = ModelSource("dir", str(random_model_dir))
    dense = dense_handle(source, settings)
    handle = compressed_handle(source, dense, plan_method(parse_spec("kv-int2"), CompressionSettings()), settings, CompressionSettings())
    recipe = handle.recipe()
    path, loader, kwargs = recipe.path, recipe.loader, recipe.kwargs
    assert kwargs == {"kick_runtime": "kv-int2", "kick_backend": "builtin"} and Path(path) == Path(random_model_dir)
    spec = ReplicaSpec("tiny [kv-int2]", str(path), listing(Path(path)), loader, settings, numerics(settings), 4, kwargs)
    replica = Replica()
    assert replica.prepare(spec)["status"] == "loaded"
    assert isinstance(replica.engines[spec.key], KVEngine)
    from pytest_kick.contract import KINDS

    remote = [KINDS["loglikelihood"].decode(r).logprob for r in replica.run(spec.key, "loglikelihood", REQUESTS)]
    local = [r.logprob for r in handle.engine().loglikelihood(REQUESTS)]
    dense_lp = [r.logprob for r in dense.engine().loglikelihood(REQUESTS)]
    assert remote == pytest.approx(local, abs=1e-5) and remote != pytest.approx(dense_lp, abs=1e-5)


def test_a_teams_own_runtime_method_gets_its_engine_and_shares_the_dense_weights(random_model_dir, tmp_path, request):
    """register_family(..., runtime=True): make(spec) runs at start-up and returns the engine maker."""
    from pytest_kick.compression import FAMILIES, CompressionSettings, register_family
    from pytest_kick.compression.plan import plan_method
    from pytest_kick.compression.spec import parse_named
    from pytest_kick.models.handles import compressed_handle, dense_handle
    from pytest_kick.sources import ModelSource

    request.addfinalizer(FAMILIES.reset)
    made = []

    class Shorter(Engine):  # generates at most 2 tokens, whatever was asked
        def generate(self, requests):
            from dataclasses import replace

            return super().generate([replace(r, max_new_tokens=min(r.max_new_tokens, 2)) for r in requests])

    def make(spec):
        made.append(spec.id)
        return Shorter

    register_family("short", parse_named("short"), make, ("short",), runtime=True)
    plan = plan_method(parse_spec("short"), CompressionSettings())
    assert plan.runtime and made == ["short"]  # called at start-up
    settings = LoadSettings(device="cpu", cache_dir=tmp_path)
    source = ModelSource("dir", str(random_model_dir))
    dense = dense_handle(source, settings)
    handle = compressed_handle(source, dense, plan, settings, CompressionSettings())
    assert isinstance(handle.engine(), Shorter) and handle.model is dense.model
    gen = [GenerationRequest(CONTEXT, stop=(), max_new_tokens=6, min_new_tokens=6)]
    assert len(handle.engine().generate(gen)[0]) < len(dense.engine().generate(gen)[0])
