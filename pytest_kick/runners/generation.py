"""Greedy generation with the model's KV cache: a shared prompt prefix computed once, stop strings checked on the
newest tokens only, and finished rows leaving the batch. Sampled generation keeps Hugging Face's `generate`, whose
random draws the seeded samples are defined by."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .packing import expand_cache

COMPACT_SHARE = 0.25  # finished rows leave the batch once they are at least this share of it (copying the cache costs)


class StopCheck:
    """Whether a row's text so far contains a stop string, decoding only its last few tokens: a stop string that
    appears now ends in the newest token's text. A hit is confirmed on the whole text, so the answer is the one a
    full decode gives; a miss on an odd tokenization only costs generating on, and the final cut is the same."""

    def __init__(self, decode, stop: Sequence[str]) -> None:
        self.decode, self.stop = decode, tuple(stop)
        self.span = max((len(s) for s in stop), default=0) + 2  # tokens: each visible token is at least one character

    def __call__(self, tokens: list[int]) -> bool:
        if not self.stop:
            return False
        tail = self.decode(tokens[-self.span :])
        return any(s in tail for s in self.stop) and any(s in self.decode(tokens) for s in self.stop)


def cut(text: str, stop: Sequence[str]) -> str:
    """The text up to the first occurrence of any stop string."""
    cuts = [text.index(s) for s in stop if s in text]
    return text[: min(cuts)] if cuts else text


def greedy(engine: Any, prompts: list[list[int]], past: Any, stop: tuple[str, ...], max_new: int, min_new: int) -> list[str]:
    """Greedy continuations of `prompts` (each after the cached prefix `past`, or from scratch when None)."""
    import torch

    model, dev = engine.model, engine.device
    offset = past.get_seq_length() if past is not None else 0
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), engine._pad(), dtype=torch.long)
    mask = torch.zeros((len(prompts), offset + width), dtype=torch.long)
    mask[:, :offset] = 1
    pos = torch.full((len(prompts), width), offset, dtype=torch.long)
    for b, p in enumerate(prompts):  # left padding: every row's next token sits in the last column
        ids[b, width - len(p) :] = torch.tensor(p)
        mask[b, offset + width - len(p) :] = 1
        pos[b, width - len(p) :] = torch.arange(offset, offset + len(p))
    cache = expand_cache(past, len(prompts)) if past is not None else None
    eos = engine.tokenizer.eos_token_id
    check = StopCheck(engine._decode, stop)
    made: list[list[int]] = [[] for _ in prompts]
    alive = list(range(len(prompts)))  # original row of each batch row
    ended: set[int] = set()  # original rows that met end-of-text or a stop string
    ids, mask, pos = ids.to(dev), mask.to(dev), pos.to(dev)
    engine.tokens_fed += sum(len(p) for p in prompts)
    for step in range(max_new):
        kwargs = {"logits_to_keep": 1} if engine._keep else {}
        result = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True, **kwargs)
        engine.forward_calls += 1
        logits, cache = result.logits[:, -1], result.past_key_values
        if step < min_new and eos is not None:
            logits[:, eos] = float("-inf")
        nxt = logits.argmax(dim=-1)
        keep = []
        for k, token in enumerate(nxt.tolist()):
            if alive[k] in ended:  # finished, still in the batch until enough rows finish: nothing more is kept
                continue
            row = made[alive[k]]
            if token == eos:  # the end of the text: the token itself is not part of it (as with generate)
                ended.add(alive[k])
                continue
            row.append(token)
            if check(row):
                ended.add(alive[k])
            else:
                keep.append(k)
        if not keep or step + 1 == max_new:
            break
        ids, mask, pos = nxt[:, None], torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1), pos[:, -1:] + 1
        engine.tokens_fed += len(keep)
        if len(alive) - len(keep) >= max(1, COMPACT_SHARE * len(alive)):
            index = torch.tensor(keep, device=dev)
            cache.batch_select_indices(index)
            ids, mask, pos = ids[index], mask[index], pos[index]
            alive = [alive[k] for k in keep]
    return [cut(engine._decode(row), stop) for row in made]


def hf_generate(engine: Any, prompts: list[list[int]], stop: tuple[str, ...], max_new: int, min_new: int, sampling: dict) -> list[str]:
    """Sampled continuations through Hugging Face's `generate` (left-padded batch; stop strings end a row)."""
    import torch
    from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

    tok, pad = engine.tokenizer, engine._pad()
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for b, p in enumerate(prompts):  # left padding: every row's next token sits in the last column
        ids[b, width - len(p) :] = torch.tensor(p)
        mask[b, width - len(p) :] = 1
    check = StopCheck(engine._decode, stop)

    class StopStrings(StoppingCriteria):
        def __call__(self, input_ids, scores, **kw):
            return torch.tensor([check(row) for row in input_ids[:, width:].tolist()], device=input_ids.device)

    config = GenerationConfig(**sampling, max_new_tokens=max_new, min_new_tokens=min_new, pad_token_id=pad, eos_token_id=tok.eos_token_id)
    gen = engine.model.generate(
        input_ids=ids.to(engine.device),
        attention_mask=mask.to(engine.device),
        generation_config=config,
        stopping_criteria=StoppingCriteriaList([StopStrings()]) if stop else None,
    )
    engine.forward_calls += 1
    engine.tokens_fed += sum(len(p) for p in prompts) + int((gen[:, width:] != pad).sum())
    return [cut(engine._decode(row), stop) for row in gen[:, width:].tolist()]
