"""The only place that runs a model: batched loglikelihood (of continuations, and rolling over long texts) and
batched generation (greedy, or seeded sampling that does not depend on the batch)."""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..contract import (
    DistributionRequest,
    DistributionResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingRequest,
    RollingResult,
    TopK,
)
from ..errors import KickUsageError
from .generation import greedy, hf_generate
from .packing import Item, Row, expand_cache, pack, prefix_groups, tree_mask
from .progress import Share

TOKEN_BUDGET = 8192  # tokens per forward when --kick-batch-size=auto
MAX_AUTO_BATCH = 64
FORWARD_COST = 32  # what a scoring forward costs beyond its tokens, in tokens (SmolLM2-135M on 2 CPU cores: ~50 ms)


def timed(method):
    """Adds the wall time of a model-work method to the engine's `busy_s` (the report's tokens per second)."""
    import functools
    import time

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            self.busy_s += time.perf_counter() - started

    return run


def render_chat(tokenizer: Any, messages) -> str:
    """`messages` through the tokenizer's chat template, ready for the reply; plain 'User:/Assistant:' text when the
    tokenizer has no template."""
    from ..contract import plain_chat

    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    return plain_chat(messages)


class Engine:
    """Runs one model. Decisions (argmax choice, greedy text) do not depend on batch size."""

    reports_progress = True  # each call reports as its forwards end (progress.Share): callers need not chunk it

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int | str = "auto") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        cfg = model.config
        self.max_length = int(getattr(cfg, "max_position_embeddings", 0) or 2048)
        params = inspect.signature(model.forward).parameters
        self._keep = "logits_to_keep" in params
        self.forward_calls = 0  # evidence for tests: how many forward passes the engine made
        self.tokens_fed = 0  # ... and how many tokens they read (padding not counted)
        self.busy_s = 0.0  # seconds spent scoring and generating
        # Tree-packed rows need a custom 4D mask, which these attention implementations take; others get chains.
        self._attn = getattr(cfg, "_attn_implementation", None)
        self._tree = self._attn in ("sdpa", "eager")

    def chat_prompt(self, messages) -> str:
        return render_chat(self.tokenizer, messages)

    # ---- tokenization -------------------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"]) if text else self._start()

    def _start(self) -> list[int]:
        tok = self.tokenizer
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        return [start]

    def _split(self, req: LoglikelihoodRequest) -> tuple[list[int], list[int]]:
        context, cont = req.context, req.continuation
        spaces = len(context) - len(context.rstrip())
        if spaces:  # a trailing space belongs to the continuation's first token in BPE vocabularies
            context, cont = context[:-spaces], context[-spaces:] + cont
        ctx = self._encode(context)
        whole = self._encode(context + cont)
        if whole[: len(ctx)] == ctx and len(whole) > len(ctx):
            return ctx, whole[len(ctx) :]
        return ctx, list(self.tokenizer(cont, add_special_tokens=False)["input_ids"])

    # ---- loglikelihood ------------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return self._score_rows(self._rows(requests), len(requests), share=Share(len(requests), len(requests)))

    def distribution(self, requests: Sequence[DistributionRequest]) -> list[DistributionResult]:
        """Every continuation of every request is one loglikelihood row (shared contexts batch as usual); with
        top_k the scored positions' top tokens are read from the same logits."""
        flat = [(i, LoglikelihoodRequest(r.context, c)) for i, r in enumerate(requests) for c in r.continuations]
        scored: list[Any] = [None] * len(flat)
        share = Share(len(requests), len(flat))
        for k in sorted({r.top_k for r in requests}):
            idx = [j for j, (i, _) in enumerate(flat) if requests[i].top_k == k]
            for j, res in zip(idx, self._score_rows(self._rows([flat[j][1] for j in idx]), len(idx), top_k=k, share=share)):
                scored[j] = res
        out = []
        at = 0
        for r in requests:
            mine = scored[at : at + len(r.continuations)]
            at += len(r.continuations)
            ll = [m[0] if r.top_k else m for m in mine]
            positions = tuple(m[1] for m in mine) if r.top_k else ()
            out.append(DistributionResult(tuple(x.logprob for x in ll), tuple(x.n_tokens for x in ll), positions))
        return out

    def _rows(self, requests: Sequence[LoglikelihoodRequest]) -> list[Item]:
        items = []
        for i, req in enumerate(requests):
            ctx, cont = self._split(req)
            if not cont:
                raise ValueError(f"request {i}: the continuation {req.continuation!r} encodes to no tokens")
            seq = ctx + cont[:-1]
            start = len(ctx) - 1
            if len(seq) > self.max_length:  # keep the end: that is where the scored tokens are
                cut = len(seq) - self.max_length
                if cut > start:
                    raise ValueError(f"request {i}: continuation longer than the model's {self.max_length} positions")
                seq, start = seq[cut:], start - cut
            items.append(Item(i, tuple(seq), start, tuple(cont)))
        return items

    @timed
    def _score_rows(self, items: list[Item], n: int, top_k: int = 0, share: Share | None = None) -> list[Any]:
        """Score every item from packed rows (one pass over each distinct path; a long shared prefix once, as a
        cache) and return one result per request index 0..n-1: a LoglikelihoodResult, or with `top_k` a
        (LoglikelihoodResult, positions' TopK) pair."""
        import torch

        out: list[Any] = [None] * n
        with torch.inference_mode():
            for prefix, group in prefix_groups(items, self._tree):
                past = None
                if prefix:
                    ids = torch.tensor([prefix], device=self.device)
                    past = self.model(input_ids=ids, use_cache=True).past_key_values
                    self.forward_calls += 1
                    self.tokens_fed += len(prefix)
                rows = pack(group, offset=len(prefix), share=self._tree)
                rows.sort(key=lambda r: -len(r.tokens))  # similar widths batch together; order is restored by index
                for batch in self._batches(rows, lambda r: len(r.tokens), FORWARD_COST):
                    self._score_batch(batch, past, out, top_k)
                    if share is not None:
                        share.add(sum(len(r.targets) for r in batch))
        return out

    def _batches(self, items: list, length, forward_cost: int = 0) -> list[list]:
        """Consecutive batches of `items` (sorted longest first) within the batch size (rows, or with 'auto' the
        token budget). With `forward_cost` (what one forward costs beyond its tokens, in tokens), the cut points
        minimize padded tokens + forward_cost per forward (a dynamic program), so rows of very different lengths
        do not share a batch just because there is room."""
        if self.batch_size == "auto":
            rows, budget = MAX_AUTO_BATCH, TOKEN_BUDGET
        else:
            rows, budget = int(self.batch_size), None
        if not forward_cost:
            return _greedy_batches(items, length, rows, budget)
        widths = [length(it) for it in items]
        best = [0.0] + [float("inf")] * len(items)  # best[i]: cost of batching items[:i]
        cut = [0] * (len(items) + 1)
        for i in range(1, len(items) + 1):
            for j in range(i - 1, max(i - rows, 0) - 1, -1):  # items[j:i] as one batch; widest is items[j]
                size = widths[j] * (i - j)
                if budget is not None and size > budget and i - j > 1:
                    break
                if best[j] + size + forward_cost < best[i]:
                    best[i], cut[i] = best[j] + size + forward_cost, j
        out, i = [], len(items)
        while i:
            out.append(items[cut[i] : i])
            i = cut[i]
        return out[::-1]

    def _score_batch(self, batch: list[Row], past: Any, out: list, top_k: int) -> None:
        import torch

        offset = past.get_seq_length() if past is not None else 0
        width = max(len(r.tokens) for r in batch)
        ids = torch.full((len(batch), width), self._pad(), dtype=torch.long)
        pos = torch.arange(offset, offset + width).repeat(len(batch), 1)  # padding keeps counting up
        for b, r in enumerate(batch):
            ids[b, : len(r.tokens)] = torch.tensor(r.tokens)
            pos[b, : len(r.tokens)] = torch.tensor(r.positions)
        kwargs: dict[str, Any] = {"input_ids": ids.to(self.device), "position_ids": pos.to(self.device), "use_cache": past is not None}
        if not all(r.chain for r in batch):  # a tree: each token sees its ancestors only (chains: plain causal)
            kwargs["attention_mask"] = self._mask(tree_mask(batch, width, offset))
        if past is not None:
            kwargs["past_key_values"] = expand_cache(past, len(batch))
        self.tokens_fed += sum(len(r.tokens) for r in batch)
        picks = sorted({(b, c) for b, r in enumerate(batch) for _, cols, _ in r.targets for c in cols})
        logprobs = self._logprobs(kwargs, picks)
        at = {p: k for k, p in enumerate(picks)}
        for b, r in enumerate(batch):
            for i, cols, cont in r.targets:
                lp = logprobs[[at[(b, c)] for c in cols]]
                target = torch.tensor(cont, device=lp.device)
                total = lp.gather(1, target[:, None]).sum().item()
                greedy = bool((lp.argmax(dim=-1) == target).all().item())
                out[i] = LoglikelihoodResult(logprob=float(total), is_greedy=greedy, n_tokens=len(cont))
                if top_k:
                    out[i] = (out[i], _top_k(lp, target, top_k))

    def _logprobs(self, kwargs: dict[str, Any], picks: list[tuple[int, int]]) -> Any:
        """Log-probabilities at the (row, column) picks only: the LM head sees just those hidden states."""
        import torch

        rows = torch.tensor([b for b, _ in picks], device=self.device)
        cols = torch.tensor([c for _, c in picks], device=self.device)
        head = self.model.get_output_embeddings()
        if head is None:
            logits = self.model(**kwargs).logits[rows, cols]
        else:
            hook = head.register_forward_pre_hook(lambda _m, a: (a[0][rows.to(a[0].device), cols.to(a[0].device)][None], *a[1:]))
            try:
                logits = self.model(**kwargs).logits[0]
            finally:
                hook.remove()
        self.forward_calls += 1
        # at least float32 (bf16/fp16 logits are widened; a float64 model keeps its precision)
        return torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)

    def _mask(self, mask: Any) -> Any:
        """The boolean tree mask as the attention implementation takes it (eager adds a float mask)."""
        import torch

        if self._attn == "eager":
            dtype = next(self.model.parameters()).dtype
            return torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, torch.finfo(dtype).min).to(self.device)
        return mask.to(self.device)

    def _pad(self) -> int:
        tok = self.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    # ---- rolling loglikelihood ------------------------------------------------------------------------
    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]:
        """Each window becomes one loglikelihood row, so windows of all texts batch together."""
        rows: list[tuple[int, list[int], int]] = []  # (request index, input tokens, first scored position)
        counts: list[list[int]] = []
        for i, req in enumerate(requests):
            if req.window < 2 or not 1 <= req.stride <= req.window - 1 or req.window > self.max_length:
                raise KickUsageError(
                    f"rolling request {i}: need 2 <= window <= {self.max_length} (the model's positions) and "
                    f"1 <= stride <= window - 1, got window={req.window}, stride={req.stride}; for a model with a "
                    f"shorter context pass e.g. window={self.max_length}, stride={self.max_length // 2} to the gate"
                )
            seq = self._start() + list(self.tokenizer(req.text, add_special_tokens=False)["input_ids"])
            n = len(seq) - 1  # tokens to score: seq[1:]
            if n < 1:
                raise ValueError(f"rolling request {i}: the text encodes to no tokens")
            sizes = []
            done = 0
            while done < n:
                end = min(done + (req.window - 1 if done == 0 else req.stride), n)
                begin = max(0, end + 1 - req.window)  # input seq[begin:end] predicts seq[begin+1 : end+1]
                rows.append((i, seq[begin : end + 1], done - begin))
                sizes.append(end - done)
                done = end
            counts.append(sizes)
        lls = self.loglikelihood_tokens([(toks, start) for _, toks, start in rows], Share(len(requests), len(rows)))
        out: list[list[tuple[float, int]]] = [[] for _ in requests]
        for (i, _, _), ll in zip(rows, lls):
            out[i].append((ll, counts[i][len(out[i])]))
        return [RollingResult(tuple(w)) for w in out]

    def loglikelihood_tokens(self, rows: Sequence[tuple[list[int], int]], share: Share | None = None) -> list[float]:
        """Sum of log P(tokens[j+1] | tokens[:j+1]) for j >= start, per (tokens, start) row."""
        items = [Item(k, tuple(toks[:-1]), start, tuple(toks[start + 1 :])) for k, (toks, start) in enumerate(rows)]
        return [r.logprob for r in self._score_rows(items, len(rows), share=share or Share(len(rows), len(rows)))]

    # ---- generation ---------------------------------------------------------------------------------
    @timed
    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        import torch

        encoded = [self._encode(r.context) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: -len(encoded[i]))
        out: list[str | None] = [None] * len(requests)
        # Same decoding settings in one batch, so one request never changes another's decoding.
        buckets: dict[tuple, list[int]] = defaultdict(list)
        sampled: dict[tuple, list[int]] = defaultdict(list)
        for i in order:
            r = requests[i]
            if r.sampled:
                sampled[(r.context, r.stop, r.max_new_tokens, r.min_new_tokens, r.top_p, r.temperature, r.seed)].append(i)
            else:
                buckets[(r.stop, r.max_new_tokens, r.min_new_tokens)].append(i)
        share = Share(len(requests), len(requests))
        with torch.inference_mode():
            for (stop, max_new, min_new), idxs in buckets.items():
                for i, text in self._greedy(encoded, idxs, stop, max_new, min_new):
                    out[i] = text
                    share.add(1)
            for (context, stop, max_new, min_new, top_p, temp, seed), idxs in sampled.items():
                count = max(requests[i].sample for i in idxs) + 1
                texts = self._sample(encoded[idxs[0]], count, stop, max_new, min_new, top_p, temp, _seed(seed, context))
                for i in idxs:
                    out[i] = texts[requests[i].sample]
                share.add(len(idxs))
        return out  # type: ignore[return-value]

    def _greedy(self, encoded: list[list[int]], idxs: list[int], stop: tuple[str, ...], max_new: int, min_new: int):
        """(request index, text) for greedy requests with the same settings: prompts sharing a long prefix (k-shot)
        have it computed once and continue from its cache, in batches of similar lengths."""
        import torch

        items = [Item(i, tuple(encoded[i]), len(encoded[i]) - 1, ()) for i in idxs]
        for prefix, group in prefix_groups(items, packed=False):
            past = None
            if prefix:
                past = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True).past_key_values
                self.forward_calls += 1
                self.tokens_fed += len(prefix)
            group.sort(key=lambda it: -len(it.seq))
            for batch in self._batches(group, lambda it: len(it.seq) + max_new):  # noqa: B023 - used at once
                texts = greedy(self, [list(it.seq) for it in batch], past, stop, max_new, min_new)
                yield from zip([it.index for it in batch], texts)

    def _sample(self, prompt, count, stop, max_new, min_new, top_p, temperature, seed) -> list[str]:
        import torch

        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            sampling = {"do_sample": True, "top_p": top_p, "temperature": temperature, "top_k": 0}
            return hf_generate(self, [prompt] * count, stop, max_new, min_new, sampling)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def _greedy_batches(items: list, length, rows: int, budget: int | None) -> list[list]:
    """Full batches in order: a batch ends when it has `rows` rows or (with a budget) would pass it."""
    batches: list[list] = []
    cur: list = []
    cur_max = 0
    for it in items:
        n = length(it)
        if cur and (len(cur) >= rows or (budget is not None and max(cur_max, n) * (len(cur) + 1) > budget)):
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(it)
        cur_max = max(cur_max, n)
    if cur:
        batches.append(cur)
    return batches


def _top_k(lp: Any, target: Any, k: int) -> tuple[TopK, ...]:
    """Per scored position (a row of log-probabilities): the k best tokens, the rest's mass, and the target."""
    import torch

    k = min(k, lp.shape[-1])
    best = lp.topk(k, dim=-1)
    rest = lp.scatter(-1, best.indices, float("-inf")).logsumexp(dim=-1)
    picked = lp.gather(1, target[:, None])[:, 0]
    return tuple(
        TopK(tuple(ids), tuple(lps), r, t, tl)
        for ids, lps, r, t, tl in zip(
            best.indices.tolist(), best.values.tolist(), rest.tolist(), target.tolist(), picked.to(torch.float32).tolist()
        )
    )


def _seed(seed: int, context: str) -> int:
    """A 63-bit seed from the run's seed and the prompt, stable across processes (unlike hash())."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}\0{context}".encode()).digest()[:8], "big") >> 1
