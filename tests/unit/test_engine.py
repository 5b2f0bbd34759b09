import pytest

from pytest_kick import engine as engine_mod
from pytest_kick.engine import Engine, GenerationRequest, LoglikelihoodRequest
from pytest_kick.models import LoadSettings, load_hf


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


def test_multiple_choice_needs_one_forward_per_question_and_matches_per_choice(model_tok):
    model, tok = model_tok
    reqs = mc_requests()
    eng = Engine(model, tok, batch_size=1)
    grouped = eng.loglikelihood(reqs)
    # 7 questions share a prefix: one prefix forward + one forward per question (batch size 1).
    assert eng.forward_calls == 1 + 7
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
    argmax = lambda rs: [max(range(4), key=lambda k: rs[4 * q + k].logprob) for q in range(7)]
    assert argmax(base) == argmax(other)
    gens = [GenerationRequest(f"Question: What is the capital of {n}?\nAnswer:", ("\n",), 6) for n in ("Ka", "Lozu", "Mitare", "Re")]
    assert Engine(model, tok, batch_size=batch_size).generate(gens) == Engine(model, tok, batch_size=4).generate(gens)


def test_prefix_sharing_gives_the_same_numbers_as_full_sequences(model_tok, monkeypatch):
    model, tok = model_tok
    reqs = mc_requests()
    shared = Engine(model, tok).loglikelihood(reqs)
    monkeypatch.setattr(engine_mod, "PREFIX_MIN", 10**6)
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


def test_generation_stops_at_stop_string_and_respects_limit(model_tok):
    model, tok = model_tok
    out = Engine(model, tok).generate([GenerationRequest("Question: a?\nAnswer:", ("\n",), 5), GenerationRequest("x", (), 3)])
    assert "\n" not in out[0]
    assert len(tok(out[1], add_special_tokens=False)["input_ids"]) <= 3
