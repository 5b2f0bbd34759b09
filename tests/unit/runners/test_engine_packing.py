"""Packed scoring (one pass over each distinct context) against a plain one-request-at-a-time reference."""

import math

import pytest

from pytest_kick.contract import DistributionRequest, LoglikelihoodRequest, RollingRequest
from pytest_kick.models.load import load_hf
from pytest_kick.runners import packing
from pytest_kick.runners.engine import Engine
from pytest_kick.settings import LoadSettings

pytestmark = pytest.mark.slow  # runs a real (tiny) model
TOL = 1e-5


@pytest.fixture(scope="module")
def model_tok(random_model_dir):
    return load_hf(random_model_dir, LoadSettings(device="cpu"))


def reference(model, tok, req: LoglikelihoodRequest) -> tuple[float, bool, list]:
    """One request, one plain forward over its own tokens (cut at the left to the model's positions)."""
    import torch

    ctx, cont = Engine(model, tok)._split(req)
    seq, start = ctx + cont[:-1], len(ctx) - 1
    cut = max(0, len(seq) - model.config.max_position_embeddings)
    seq, start = seq[cut:], start - cut
    with torch.inference_mode():
        lp = torch.log_softmax(model(torch.tensor([seq])).logits[0].float(), -1)[start : start + len(cont)]
    target = torch.tensor(cont)
    return lp.gather(1, target[:, None]).sum().item(), bool((lp.argmax(-1) == target).all()), lp


def shared_requests(n_contexts: int) -> list[LoglikelihoodRequest]:
    """BBQ-shaped: each context asked two questions, each question with three answers of different lengths."""
    reqs = []
    for c in range(n_contexts):
        context = f"Ka{c} and Lo{c} met at the market. Ka{c} asked for the way; Lo{c} knew it."
        for q in ("Who knew the way?", "Who asked for the way?"):
            for answer in (f" Ka{c}", f" Lo{c} the one", " Not known at all"):
                reqs.append(LoglikelihoodRequest(f"{context}\n\nQ: {q}\nA:", answer))
    return reqs


def distinct_tokens(eng: Engine, reqs) -> int:
    """The floor: every distinct (context + continuation[:-1]) prefix read once."""
    seqs = [tuple(ctx + cont[:-1]) for ctx, cont in (eng._split(r) for r in reqs)]
    return len({s[:k] for s in seqs for k in range(1, len(s) + 1)})


def assert_matches_reference(model, tok, reqs, got):
    for r, g in zip(reqs, got):
        logprob, greedy, _ = reference(model, tok, r)
        assert g.logprob == pytest.approx(logprob, abs=TOL) and g.is_greedy == greedy, r


@pytest.mark.parametrize(("batch_size", "forwards"), [(1, 3), (2, 2), ("auto", 1)])
def test_shared_contexts_are_read_once_and_match_the_reference(model_tok, batch_size, forwards):
    model, tok = model_tok
    reqs = shared_requests(3)
    eng = Engine(model, tok, batch_size=batch_size)
    got = eng.loglikelihood(reqs)
    assert_matches_reference(model, tok, reqs, got)
    per_context = [distinct_tokens(eng, reqs[6 * c : 6 * c + 6]) for c in range(3)]
    # one pass over each distinct context (its two questions, then their answers), each context a row of its own:
    # unrelated contexts never share a row (their few common first tokens are read once per row)
    assert eng.tokens_fed == sum(per_context) > distinct_tokens(eng, reqs)
    assert eng.forward_calls == forwards  # 18 requests, 3 rows


def test_rows_split_by_the_row_budget_cost_ceil_rows_over_batch_forwards(model_tok, monkeypatch):
    model, tok = model_tok
    reqs = shared_requests(5)
    per_context = [distinct_tokens(Engine(model, tok), reqs[6 * c : 6 * c + 6]) for c in range(5)]
    monkeypatch.setattr(packing, "ROW_TOKENS", max(per_context))  # one context (both questions, all answers) per row
    eng = Engine(model, tok, batch_size=2)
    got = eng.loglikelihood(reqs)
    assert eng.forward_calls == math.ceil(5 / 2) and eng.tokens_fed == sum(per_context)
    assert_matches_reference(model, tok, reqs, got)


def test_chains_without_tree_masks_and_eager_attention_give_the_same_numbers(model_tok):
    model, tok = model_tok
    reqs = shared_requests(3)
    chains = Engine(model, tok)
    chains._tree = False  # what an attention implementation without custom masks gets
    assert_matches_reference(model, tok, reqs, chains.loglikelihood(reqs))
    assert chains.tokens_fed > distinct_tokens(chains, reqs)
    eager = Engine(model, tok)
    eager._attn = "eager"  # the float mask eager attention adds
    assert_matches_reference(model, tok, reqs, eager.loglikelihood(reqs))


def test_a_long_shared_prefix_is_computed_once_as_a_cache(model_tok, monkeypatch):
    import os

    model, tok = model_tok
    shots = "".join(f"Question: What is the capital of Ka{i}?\nAnswer: Lo{i}\n\n" for i in range(6))
    reqs = [LoglikelihoodRequest(shots + f"Question: Where is Mi{j}?\nAnswer:", c) for j in range(8) for c in (" A", " Lo ka", " B")]
    eng = Engine(model, tok, batch_size=3)
    common = len(os.path.commonprefix([ctx for ctx, _ in (eng._split(r) for r in reqs)]))
    per_question = [distinct_tokens(eng, reqs[3 * j : 3 * j + 3]) - common for j in range(8)]
    monkeypatch.setattr(packing, "ROW_TOKENS", max(per_question))  # one question per row: the prefix would be read 8 times
    got = eng.loglikelihood(reqs)
    assert eng.forward_calls == 1 + math.ceil(8 / 3) and eng.tokens_fed == common + sum(per_question)
    assert_matches_reference(model, tok, reqs, got)


def test_truncation_and_trailing_spaces_follow_the_request_rules(model_tok):
    model, tok = model_tok
    long_context = " ".join(f"Ka{i} Lo{i}" for i in range(400)) + "\nAnswer:"
    reqs = [
        LoglikelihoodRequest(long_context, " Lo1"),
        LoglikelihoodRequest(long_context, " Ka2 Lo3 Mi"),
        LoglikelihoodRequest("Question: Who?\nAnswer: ", "Lo4"),  # the space goes with the answer
        LoglikelihoodRequest("Question: Who?\nAnswer: ", "Ka4 Lo"),
        LoglikelihoodRequest("Question: Who?\nAnswer:", " Lo4"),
    ]
    eng = Engine(model, tok)
    assert len(eng._split(reqs[0])[0]) > model.config.max_position_embeddings
    got = eng.loglikelihood(reqs)
    assert_matches_reference(model, tok, reqs, got)
    assert got[2].logprob == pytest.approx(got[4].logprob, abs=TOL)


def test_distribution_top_k_matches_the_reference(model_tok):
    model, tok = model_tok
    ctx, choices = "Q: Who knew the way?\nA:", (" Ka1", " Lo1 the one", " Not known")
    res = Engine(model, tok).distribution([DistributionRequest(ctx, choices, top_k=4), DistributionRequest(ctx, choices)])
    for k, c in enumerate(choices):
        logprob, _, lp = reference(model, tok, LoglikelihoodRequest(ctx, c))
        assert res[0].logprobs[k] == res[1].logprobs[k] == pytest.approx(logprob, abs=TOL)
        for pos, row in zip(res[0].positions[k], lp):
            best = row.topk(4)
            assert pos.token_ids == tuple(best.indices.tolist())
            assert pos.logprobs == pytest.approx(best.values.tolist(), abs=TOL)


def test_rolling_windows_match_a_plain_forward_per_window(model_tok):
    import torch

    model, tok = model_tok
    text = " ".join(f"Question: What is the capital of Ka{i}? Answer: Lo{i}." for i in range(12))
    eng = Engine(model, tok)
    res = eng.loglikelihood_rolling([RollingRequest(text, window=40, stride=15), RollingRequest(text[:200], window=40, stride=39)])
    seq = [tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"]
    done = 0
    for logprob, n in res[0].windows:  # window: the n tokens after `done`, read with up to `window` tokens before
        begin = max(0, done + n + 1 - 40)
        with torch.inference_mode():
            lp = torch.log_softmax(model(torch.tensor([seq[begin : done + n]])).logits[0].float(), -1)
        want = sum(lp[j - 1 - begin, seq[j]].item() for j in range(done + 1, done + n + 1))
        assert logprob == pytest.approx(want, abs=TOL * n)  # a sum of n log-probabilities
        done += n
    assert done == len(seq) - 1
