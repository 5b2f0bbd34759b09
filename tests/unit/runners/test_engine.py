import pytest

from pytest_kick.models.load import load_hf
from pytest_kick.runners import packing
from pytest_kick.runners.engine import Engine, GenerationRequest, LoglikelihoodRequest
from pytest_kick.settings import LoadSettings

pytestmark = pytest.mark.slow  # runs a real (tiny) model


@pytest.fixture(scope="module")
def model_tok(random_model_dir):
    return load_hf(random_model_dir, LoadSettings(device="cpu"))


def mc_requests():
    shots = "".join(f"Question: What is the capital of Ka{i}?\nAnswer: Lo{i}\n\n" for i in range(4))
    return [
        LoglikelihoodRequest(shots + f"Question: What is the capital of Mi{j}?\nAnswer:", f" {c}")
        for j in range(7)
        for c in ("A", "B", "C", "D")
    ]


def test_multiple_choice_packs_questions_sharing_a_prefix_into_one_row_and_matches_per_choice(model_tok):
    model, tok = model_tok
    reqs = mc_requests()
    eng = Engine(model, tok, batch_size=1)
    grouped = eng.loglikelihood(reqs)
    # 7 questions share their 4-shot prefix: one packed row holds the prefix once and every question after it.
    assert eng.forward_calls == 1
    for r, g in zip(reqs[:8], grouped[:8]):
        single = Engine(model, tok, batch_size=1).loglikelihood([r])[0]
        assert single.logprob == pytest.approx(g.logprob, abs=1e-4)


@pytest.mark.parametrize("batch_size", [1, 3, "auto"])
def test_decisions_do_not_depend_on_batch_size(model_tok, batch_size):
    model, tok = model_tok
    reqs = mc_requests() + [LoglikelihoodRequest("Question: x?\nAnswer:", " Kalo mizu")]
    base = Engine(model, tok, batch_size=64).loglikelihood(reqs)
    other = Engine(model, tok, batch_size=batch_size).loglikelihood(reqs)
    for a, b in zip(base, other):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4) and a.is_greedy == b.is_greedy

    def argmax(rs):
        return [max(range(4), key=lambda k: rs[4 * q + k].logprob) for q in range(7)]

    assert argmax(base) == argmax(other)
    gens = [GenerationRequest(f"Question: What is the capital of {n}?\nAnswer:", ("\n",), 6) for n in ("Ka", "Lozu", "Mitare", "Re")]
    assert Engine(model, tok, batch_size=batch_size).generate(gens) == Engine(model, tok, batch_size=4).generate(gens)


def test_prefix_sharing_gives_the_same_numbers_as_full_sequences(model_tok, monkeypatch):
    model, tok = model_tok
    reqs = mc_requests()
    shared = Engine(model, tok).loglikelihood(reqs)
    monkeypatch.setattr(packing, "PREFIX_MIN", 10**6)
    plain = Engine(model, tok).loglikelihood(reqs)
    assert [r.logprob for r in shared] == pytest.approx([r.logprob for r in plain], abs=1e-4)


def test_multi_token_continuation_matches_a_direct_forward(model_tok):
    import torch

    model, tok = model_tok
    ctx, cont = "Question: What is the capital of Kalo?\nAnswer:", " Mizu ta"
    got = Engine(model, tok).loglikelihood([LoglikelihoodRequest(ctx, cont)])[0].logprob
    ids = tok(ctx + cont)["input_ids"]
    n_ctx = len(tok(ctx)["input_ids"])
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    expected = sum(logp[k - 1, ids[k]].item() for k in range(n_ctx, len(ids)))
    assert len(ids) - n_ctx > 1 and got == pytest.approx(expected, abs=1e-4)


def test_distribution_reads_top_k_and_the_rest_from_the_same_logits(model_tok):
    import math

    import torch

    from pytest_kick.contract import DistributionRequest

    model, tok = model_tok
    ctx, choices = "Question: What is the capital of Kalo?\nAnswer:", (" Mizu ta", " Re")
    eng = Engine(model, tok)
    full, bare = eng.distribution([DistributionRequest(ctx, choices, top_k=5), DistributionRequest(ctx, choices)])
    plain = eng.loglikelihood([LoglikelihoodRequest(ctx, c) for c in choices])
    assert full.logprobs == bare.logprobs == tuple(p.logprob for p in plain) and bare.positions == ()
    assert math.fsum(math.exp(x) for x in full.choice_logprobs()) == pytest.approx(1.0)
    ids = tok(ctx + choices[0])["input_ids"]
    n_ctx = len(tok(ctx)["input_ids"])
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    assert len(full.positions[0]) == len(ids) - n_ctx == full.n_tokens[0]
    for pos, k in zip(full.positions[0], range(n_ctx, len(ids))):
        row = logp[k - 1]
        best = row.topk(5)
        assert pos.token_ids == tuple(best.indices.tolist()) and pos.target == ids[k]
        assert pos.logprobs == pytest.approx(best.values.tolist(), abs=1e-5)
        assert pos.target_logprob == pytest.approx(row[ids[k]].item(), abs=1e-5)
        mass = math.fsum(math.exp(x) for x in pos.logprobs) + math.exp(pos.rest)
        assert mass == pytest.approx(1.0, abs=1e-5)


def test_generation_stops_at_stop_string_and_respects_limit(model_tok):
    model, tok = model_tok
    out = Engine(model, tok).generate([GenerationRequest("Question: a?\nAnswer:", ("\n",), 5), GenerationRequest("x", (), 3)])
    assert "\n" not in out[0]
    assert len(tok(out[1], add_special_tokens=False)["input_ids"]) <= 3


def _direct_logprob(model, tok, text):
    """log P(text) after BOS with one forward, the reference for rolling windows."""
    import torch

    ids = [tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits.float()
    lp = logits[0, :-1].log_softmax(-1).gather(-1, torch.tensor(ids[1:])[:, None])
    return lp.sum().item(), len(ids) - 1


def test_rolling_loglikelihood_matches_one_forward_when_the_text_fits(model_tok):
    from pytest_kick.runners.engine import RollingRequest

    model, tok = model_tok
    text = " ".join(f"Question: What is the capital of Ka{i}? Answer: Lo{i}." for i in range(12))
    want, n = _direct_logprob(model, tok, text)
    res = Engine(model, tok).loglikelihood_rolling([RollingRequest(text, window=512, stride=256)])[0]
    assert res.n_tokens == n and len(res.windows) == 1
    assert res.logprob == pytest.approx(want, abs=1e-3)


def test_rolling_windows_score_every_token_once(model_tok):
    from pytest_kick.runners.engine import RollingRequest

    model, tok = model_tok
    text = " ".join(f"Question: What is the capital of Ka{i}? Answer: Lo{i}." for i in range(12))
    _, n = _direct_logprob(model, tok, text)
    res = Engine(model, tok).loglikelihood_rolling([RollingRequest(text, window=32, stride=16)])[0]
    sizes = [w[1] for w in res.windows]
    assert sum(sizes) == n and sizes[0] == 31 and set(sizes[1:-1]) == {16}
    # disjoint windows (stride = window - 1) lose context at each boundary, so they score worse than overlapping ones
    disjoint = Engine(model, tok).loglikelihood_rolling([RollingRequest(text, window=32, stride=31)])[0]
    assert disjoint.n_tokens == n and len(disjoint.windows) > 1
    with pytest.raises(ValueError, match="stride <= window - 1"):
        Engine(model, tok).loglikelihood_rolling([RollingRequest(text, window=32, stride=32)])


def test_sampling_is_seeded_per_prompt_not_per_batch(model_tok):
    model, tok = model_tok

    def reqs(contexts, seed=5):
        return [
            GenerationRequest(c, stop=(), max_new_tokens=8, min_new_tokens=8, sample=i, top_p=0.9, seed=seed)
            for c in contexts
            for i in range(3)
        ]

    eng = Engine(model, tok)
    alone = eng.generate(reqs(["Question: What is"]))
    mixed = eng.generate(reqs(["Answer: Lo", "Question: What is", "Question"]))
    assert mixed[3:6] == alone  # the same samples whatever else is in the call
    assert len(set(alone)) > 1  # three different draws
    assert eng.generate(reqs(["Question: What is"], seed=6)) != alone
    greedy = eng.generate([GenerationRequest("Question: What is", stop=(), max_new_tokens=8, min_new_tokens=8)])
    assert len(tok(greedy[0], add_special_tokens=False)["input_ids"]) >= 1
