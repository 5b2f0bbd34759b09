"""The greedy loop (prefix cache, incremental stop strings, finished rows leaving) against plain `generate`."""

import pytest

from pytest_kick.contract import GenerationRequest
from pytest_kick.models.load import load_hf
from pytest_kick.runners import generation, packing
from pytest_kick.runners.engine import Engine
from pytest_kick.settings import LoadSettings

pytestmark = pytest.mark.slow  # runs a real (tiny) model


@pytest.fixture(scope="module")
def model_tok(random_model_dir):
    return load_hf(random_model_dir, LoadSettings(device="cpu"))


def reference(model, tok, req: GenerationRequest) -> str:
    """One prompt alone through Hugging Face's greedy `generate`, then cut at the first stop string."""
    import torch

    ids = torch.tensor([tok(req.context)["input_ids"]])
    gen = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=req.max_new_tokens,
        min_new_tokens=req.min_new_tokens,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    text = tok.decode(gen[0, ids.shape[1] :].tolist(), skip_special_tokens=True)
    return generation.cut(text, req.stop)


SHOTS = "".join(f"Question: What is the capital of Ka{i}?\nAnswer: Lo{i}\n\n" for i in range(4))


def requests(stop=("\n",), max_new=12, min_new=0):
    names = ("Ka", "Lozu", "Mitare", "Re", "Kalo mizu ta", "Lo")
    return [GenerationRequest(f"{SHOTS}Question: What is the capital of {n}?\nAnswer:", stop, max_new, min_new) for n in names]


@pytest.mark.parametrize("batch_size", [1, 4, "auto"])
@pytest.mark.parametrize("stop", [("\n",), ("a", "Lo"), ("pital o",), ()])
def test_greedy_texts_equal_one_prompt_at_a_time_generate(model_tok, batch_size, stop):
    model, tok = model_tok
    reqs = requests(stop) + [GenerationRequest("x", stop, 5, 2)]
    got = Engine(model, tok, batch_size=batch_size).generate(reqs)
    assert got == [reference(model, tok, r) for r in reqs]


def test_a_shared_prompt_prefix_is_computed_once(model_tok, monkeypatch):
    model, tok = model_tok
    reqs = requests(stop=(), max_new=3)
    eng = Engine(model, tok, batch_size=len(reqs))
    with_cache = eng.generate(reqs)
    assert eng.forward_calls == 1 + 3  # the prefix, then one forward per new token for the whole batch
    monkeypatch.setattr(packing, "PREFIX_MIN", 10**6)
    plain = Engine(model, tok, batch_size=len(reqs))
    assert plain.generate(reqs) == with_cache and plain.forward_calls == 3


def test_finished_rows_leave_the_batch(model_tok, monkeypatch):
    model, tok = model_tok
    prompts = [f"Question: What is the capital of {n}?\nAnswer:" for n in ("Ka", "Lozu", "Mitare", "Re", "Lo", "Mi")]
    texts = [reference(model, tok, GenerationRequest(p, (), 6)) for p in prompts]
    firsts = [reference(model, tok, GenerationRequest(p, (), 1)) for p in prompts]
    pairs = [(a, b, c) for a in range(6) for b in range(6) for c in firsts[a].strip() if a != b and c not in texts[b]]
    if not pairs:
        pytest.skip("no prompt pair where one stops at once and the other never")
    a, b, c = pairs[0]
    reqs = [GenerationRequest(prompts[a], (c,), 6), GenerationRequest(prompts[b], (c,), 6)]
    want = [reference(model, tok, r) for r in reqs]
    seen: list[int] = []
    forward = model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    monkeypatch.setattr(generation, "COMPACT_SHARE", 0.0)  # leave at once
    monkeypatch.setattr(model, "forward", spy)
    assert Engine(model, tok, batch_size=2).generate(reqs) == want
    assert seen[0] == 2 and set(seen[1:]) == {1}  # the row that stopped costs nothing after its stop


def test_stop_check_reads_only_the_last_tokens_and_confirms_on_the_whole_text(model_tok):
    model, tok = model_tok
    decoded: list[int] = []

    def decode(ids):
        decoded.append(len(ids))
        return tok.decode(ids, skip_special_tokens=True)

    check = generation.StopCheck(decode, ("Lo",))
    ids = tok("Ka mizu ta re Ka mizu ta re Lo", add_special_tokens=False)["input_ids"]
    hits = [check(ids[: k + 1]) for k in range(len(ids))]
    assert hits[-1] and not any(hits[:-1])
    assert max(decoded[:-1]) <= check.span  # misses decode a few tokens; the one hit is confirmed on all


class EndsAt:
    """The tokenizer, with another token as end-of-text."""

    def __init__(self, tok, eos: int) -> None:
        self._tok, self.eos_token_id = tok, eos

    def __getattr__(self, name):
        return getattr(self._tok, name)

    def __call__(self, *args, **kwargs):
        return self._tok(*args, **kwargs)


def test_a_row_ends_at_end_of_text_while_others_go_on(model_tok):
    """A row whose next token is end-of-text stops there (nothing after it is kept, as `generate` gives with a
    special end-of-text token), even while the rest of its batch keeps decoding."""
    import torch

    model, tok = model_tok
    reqs = [GenerationRequest(p, (), 8) for p in ("x", "a b c", "The", "Lo")]
    first = tok(Engine(model, tok, batch_size=1).generate(reqs[:1])[0], add_special_tokens=False)["input_ids"]
    ends = EndsAt(tok, first[1])  # row 0's second token ends its text; the other prompts never produce it
    got = Engine(model, ends, batch_size=len(reqs)).generate(reqs)
    want = []
    for r in reqs:
        ids = torch.tensor([tok(r.context)["input_ids"]])
        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=8,
                             pad_token_id=ends.eos_token_id, eos_token_id=ends.eos_token_id)[0, ids.shape[1]:].tolist()  # fmt: skip
        want.append(tok.decode(gen[: gen.index(ends.eos_token_id)] if ends.eos_token_id in gen else gen, skip_special_tokens=True))
    assert got == want
    assert got[0] == tok.decode(first[:1]) and all(len(g) > len(got[0]) for g in got[1:])
