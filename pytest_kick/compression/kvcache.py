"""KV-cache compression (`kv-int4`, `kv-int2`, `kv-sink<S>-window<W>`): the weights stay dense; what changes is
the cache the model reads its context from.

How a model under a KV method reads text (scoring and generation alike): the context (every token before the
first scored or generated position) is fed READ_CHUNK tokens at a time, at fixed boundaries counted from the first
token, each block attending to the *compressed* cache of everything before it (and, causally, to itself); then every
position whose prediction is scored or generated is read alone, one token at a time, so each prediction attends to
the compressed cache of everything before it, however short the text (a one-token context is the only exception:
there is nothing before it to compress).

- `kv-int<b>`: transformers' `QuantizedCache` on the quanto backend (KIVI-style: the cache is quantized to b bits
  in groups of GROUP values, the newest RESIDUAL tokens kept in full precision until they are folded in).
- `kv-sink<S>-window<W>`: StreamingLLM's policy: after each block only the first S tokens (attention sinks) and
  the last W tokens stay in the cache. Keys keep the positions they were computed at (no re-rotation), so a scored
  token sees the S sinks and the W tokens before it at their true distances (a context token: up to READ_CHUNK - 1
  more, those of its own block).

Everything runs one sequence at a time (no packing, no padding): slower than the dense engine, and each answer is
the same whatever else is in the call. Sampled generation draws from a seeded generator per (prompt, sample) with
temperature then nucleus (top-p) filtering, as Hugging Face's sampler does; the draws are not HF `generate`'s."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..contract import GenerationRequest, LoglikelihoodResult
from ..errors import KickUsageError
from ..runners.engine import Engine, _seed, _top_k, timed
from ..runners.generation import StopCheck, cut
from ..runners.packing import Item
from ..runners.progress import Share
from .spec import KVSpec

READ_CHUNK = 32  # tokens per forward while reading a text into the compressed cache
RESIDUAL = 32  # kv-int: the newest tokens kept in full precision (KIVI's R)
GROUP = 32  # kv-int: values per quantization group (KIVI's G)


def kv_compress(spec: KVSpec) -> Any:
    """The family's implementation: the weights are left alone; what it returns builds the engine that reads
    through the compressed cache (checked here, at start-up, so a missing backend fails before any test)."""
    if spec.bits is not None:
        require_quanto()
    return lambda model, tokenizer, batch_size="auto": KVEngine(model, tokenizer, spec=spec, batch_size=batch_size)


def require_quanto() -> None:
    import importlib.util

    if importlib.util.find_spec("optimum.quanto") is None:
        raise KickUsageError(
            "--kick-method=kv-int4/kv-int2 quantize the KV cache with quanto, which is not installed: "
            "pip install 'pytest-kick[compress]' (or pip install optimum-quanto)"
        )


def sink_window_cache(config: Any, sink: int, window: int) -> Any:
    """A cache that keeps the first `sink` and the last `window` tokens of every layer after each forward."""
    import torch
    from transformers.cache_utils import Cache, DynamicLayer

    class SinkWindowLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            keys, values = super().update(key_states, value_states, *args, **kwargs)
            if keys.shape[-2] > sink + window:  # this forward sees them all; what stays is sinks + window
                self.keys = torch.cat([keys[..., :sink, :], keys[..., -window:, :]], dim=-2)
                self.values = torch.cat([values[..., :sink, :], values[..., -window:, :]], dim=-2)
            return keys, values

    layers = config.get_text_config(decoder=True).num_hidden_layers
    return Cache(layers=[SinkWindowLayer() for _ in range(layers)])


def fork(cache: Any) -> Any:
    """An independent copy of a cache: layers only ever rebind their tensors (never write into them), so copying
    each layer object is enough (quanto's packed tensors cannot be deep-copied)."""
    twin = copy.copy(cache)
    twin.layers = [copy.copy(layer) for layer in cache.layers]
    return twin


class KVEngine(Engine):
    """The dense engine's contract (loglikelihood, rolling, distribution, generation) over a compressed cache."""

    def __init__(self, model: Any, tokenizer: Any, *, spec: KVSpec, batch_size: int | str = "auto") -> None:
        super().__init__(model, tokenizer, batch_size=batch_size)
        self.spec = spec
        if spec.bits is None and spec.window is None:
            raise KickUsageError(f"{spec.id}: a KV method needs bits or a window")
        cfg = model.config.get_text_config(decoder=True)
        kinds = set(getattr(cfg, "layer_types", None) or ["full_attention"])
        sliding = getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True) is not False
        if kinds != {"full_attention"} or sliding:
            raise KickUsageError(
                f"{spec.id}: KV-cache methods need a model whose layers all use full attention; this one uses "
                f"{', '.join(sorted(kinds - {'full_attention'})) or 'sliding-window attention'} (its own cache policy)"
            )

    def new_cache(self) -> Any:
        if self.spec.bits is not None:
            from transformers import QuantizedCache

            return QuantizedCache(
                backend="quanto", config=self.model.config, nbits=self.spec.bits, residual_length=RESIDUAL, q_group_size=GROUP
            )
        return sink_window_cache(self.model.config, self.spec.sink, int(self.spec.window or 0))

    def _forward(self, tokens: Sequence[int], start: int, cache: Any) -> Any:
        """Logits for `tokens` at positions start.. read through `cache` (updated in place)."""
        import torch

        ids = torch.tensor([list(tokens)], device=self.device)
        pos = torch.arange(start, start + len(tokens), device=self.device)[None]
        self.forward_calls += 1
        self.tokens_fed += len(tokens)
        return self.model(input_ids=ids, position_ids=pos, past_key_values=cache, use_cache=True).logits[0]

    def _read(self, tokens: Sequence[int], cache: Any) -> None:
        """Feed a context into `cache` in blocks ending at multiples of READ_CHUNK (no logits are needed)."""
        for at in range(0, len(tokens), READ_CHUNK):
            self._forward(tokens[at : at + READ_CHUNK], at, cache)

    def _step(self, tokens: Sequence[int], start: int, cache: Any) -> Any:
        """Read tokens one at a time from position `start`: each attends to the compressed cache of everything
        before it. The logits of every position."""
        import torch

        return torch.stack([self._forward([t], start + k, cache)[-1] for k, t in enumerate(tokens)])

    @timed
    def _score_rows(self, items: list[Item], n: int, top_k: int = 0, share: Share | None = None) -> list[Any]:
        """Each item alone: its context (everything before the first scored position) read into the compressed
        cache in blocks, then every scored position read one token at a time through it. Items with the same
        context read it once (the cache is copied, so each answer is the same as if it were read alone)."""
        import torch

        out: list[Any] = [None] * n
        groups: dict[tuple[int, ...], list[Item]] = defaultdict(list)
        for it in items:
            groups[it.seq[: it.start]].append(it)
        with torch.inference_mode():
            for context, group in groups.items():
                base = self.new_cache()
                self._read(context, base)
                for it in group:
                    cache = fork(base) if len(group) > 1 else base
                    logits = self._step(it.seq[it.start :], it.start, cache)
                    lp = torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
                    target = torch.tensor(it.cont, device=lp.device)
                    lp = lp[: len(it.cont)]
                    total = lp.gather(1, target[:, None]).sum().item()
                    res = LoglikelihoodResult(float(total), bool((lp.argmax(-1) == target).all().item()), len(it.cont))
                    out[it.index] = (res, _top_k(lp, target, top_k)) if top_k else res
                    if share is not None:
                        share.add(1)
        return out

    @timed
    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        import torch

        share = Share(len(requests), len(requests))
        out = []
        with torch.inference_mode():
            for r in requests:
                out.append(self._generate_one(r))
                share.add(1)
        return out

    def _generate_one(self, r: GenerationRequest) -> str:
        import torch

        prompt = self._encode(r.context)  # not cut to the model's length: the dense engine does not cut either
        cache = self.new_cache()
        self._read(prompt[:-1], cache)
        logits = self._forward(prompt[-1:], len(prompt) - 1, cache)[-1]  # the first new token reads the compressed cache
        gen = None
        if r.sampled:
            gen = torch.Generator(device="cpu").manual_seed(_seed(r.seed, f"{r.context}\0{r.sample}"))
        eos, check, made = self.tokenizer.eos_token_id, StopCheck(self._decode, r.stop), []
        for step in range(r.max_new_tokens):
            if step < r.min_new_tokens and eos is not None:
                logits[eos] = float("-inf")
            token = _pick(logits, r, gen)
            if token == eos:
                break
            made.append(token)
            if check(made) or step + 1 == r.max_new_tokens:
                break
            logits = self._forward([token], len(prompt) + step, cache)[-1]
        return cut(self._decode(made), r.stop)


def _pick(logits: Any, r: GenerationRequest, gen: Any) -> int:
    """Greedy, or a draw after temperature and nucleus (top-p) filtering from the seeded generator."""
    import torch

    if gen is None:
        return int(logits.argmax().item())
    probs = torch.softmax(logits.float().cpu() / r.temperature, dim=-1)
    order = torch.argsort(probs, descending=True)
    sorted_p = probs[order]
    keep = torch.cumsum(sorted_p, 0) - sorted_p < r.top_p  # the smallest set whose mass reaches top_p
    keep[0] = True
    filtered = torch.zeros_like(probs)
    filtered[order[keep]] = sorted_p[keep]
    return int(torch.multinomial(filtered / filtered.sum(), 1, generator=gen).item())
