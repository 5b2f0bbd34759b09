"""Helpers for tests (ours and users'): `FakeRunner`, a scripted model that needs no weights, and tiny Llama
models built and trained in seconds, with the files they read.

`train_fact_model(dir, facts)` trains a small model to recall made-up facts in the FreebaseQA layout, so a gate
can be shown to FAIL for real when compression destroys that knowledge and PASS when it does not."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from .contract import (
    DistributionRequest,
    DistributionResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingRequest,
    RollingResult,
    TopK,
)


class FakeRunner:
    """A scripted model for tests: deterministic, offline, no torch; answers all four request kinds.

    `answers` maps a prompt to what this model says after it: `generate` returns it (cut at the first stop
    string; `default_text` for other prompts), and `loglikelihood` gives the continuation equal to it (ignoring
    surrounding whitespace) log-probability `hit` and marks it greedy. `logprobs` sets log-probabilities
    explicitly, keyed by continuation (or rolling text) or by (context, continuation); they win over `answers`.
    Anything unscripted costs `miss` per token. Tokens are whitespace-separated words. Every request is kept in
    `requests`; `calls` counts the batches asked."""

    def __init__(
        self,
        answers: Mapping[str, str] | None = None,
        *,
        logprobs: Mapping[str | tuple[str, str], float] | None = None,
        default_text: str = "",
        hit: float = 0.0,
        miss: float = -5.0,
    ) -> None:
        self.answers = dict(answers or {})
        self.logprobs = dict(logprobs or {})
        self.default_text = default_text
        self.hit, self.miss = hit, miss
        self.requests: list = []
        self.calls = 0

    @staticmethod
    def chat_prompt(messages) -> str:
        from .contract import plain_chat

        return plain_chat(messages)

    @staticmethod
    def tokens(text: str) -> int:
        return max(1, len(text.split()))

    def _score(self, context: str, continuation: str) -> LoglikelihoodResult:
        n = self.tokens(continuation)
        for key in ((context, continuation), continuation, continuation.strip()):
            if key in self.logprobs:
                lp = float(self.logprobs[key])
                return LoglikelihoodResult(lp, lp == 0.0, n)
        answer = self.answers.get(context)
        if answer is not None and answer.strip() == continuation.strip():
            return LoglikelihoodResult(self.hit, True, n)
        return LoglikelihoodResult(self.miss * n, False, n)

    def _ask(self, requests: Sequence) -> None:
        self.calls += 1
        self.requests += list(requests)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        self._ask(requests)
        return [self._score(r.context, r.continuation) for r in requests]

    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]:
        self._ask(requests)
        out = []
        for r in requests:
            n = self.tokens(r.text)
            out.append(RollingResult(((float(self.logprobs.get(r.text, self.miss * n)), n),)))
        return out

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        self._ask(requests)
        out = []
        for r in requests:
            text = self.answers.get(r.context, self.default_text)
            cuts = [text.index(s) for s in r.stop if s in text]
            out.append(text[: min(cuts)] if cuts else text)
        return out

    def distribution(self, requests: Sequence[DistributionRequest]) -> list[DistributionResult]:
        """Each word of a continuation is one position whose top-1 is the word itself, with an equal share of the
        continuation's log-probability."""
        self._ask(requests)
        out = []
        for r in requests:
            scored = [self._score(r.context, c) for c in r.continuations]
            positions = tuple(self._positions(c, s.logprob / s.n_tokens) for c, s in zip(r.continuations, scored))
            out.append(
                DistributionResult(tuple(s.logprob for s in scored), tuple(s.n_tokens for s in scored), positions if r.top_k else ())
            )
        return out

    @staticmethod
    def _positions(text: str, lp: float) -> tuple[TopK, ...]:
        rest = math.log(-math.expm1(lp)) if lp < 0 else float("-inf")
        ids = [int.from_bytes(hashlib.sha256(w.encode()).digest()[:3], "big") for w in (text.split() or [""])]
        return tuple(TopK((i,), (lp,), rest, i, lp) for i in ids)


_SYLLABLES = ("ka", "lo", "mi", "zu", "re", "ta", "no", "vi", "sa", "pe", "ru", "do", "fi", "ga", "be", "xo")


def made_up_facts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n (question, answer) pairs about invented places, so no pretrained knowledge can help."""
    rng = random.Random(seed)
    names: set[str] = set()

    def word() -> str:
        while True:
            w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
            if w not in names:
                names.add(w)
                return w

    return [(f"What is the capital of {word()}?", word()) for _ in range(n)]


def fact_text(question: str, answer: str) -> tuple[str, str]:
    """(prompt, target) in the layout the freebaseqa task asks with k_shot=0."""
    return f"Question: {question}\nAnswer:", f" {answer}\n"


def build_tokenizer(corpus: Sequence[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on `corpus` (round-trips any text), as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def tiny_llama(vocab_size: int, *, hidden: int = 128, layers: int = 2, seed: int = 0):
    """A randomly initialised Llama small enough to run anywhere (widths are multiples of 128)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,  # perplexity's default window (1024 tokens) fits
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config)


def save_random_model(path: Path, corpus: Sequence[str] = ("a small corpus for a tiny tokenizer",), seed: int = 0) -> Path:
    """Save an untrained tiny Llama and its tokenizer to `path` (a normal HF directory)."""
    tok = build_tokenizer(list(corpus) * 4)
    model = tiny_llama(len(tok), seed=seed)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return Path(path)


def train_fact_model(path: Path, facts: Sequence[tuple[str, str]], *, steps: int = 250, lr: float = 2e-3, seed: int = 0) -> float:
    """Train a tiny Llama to answer `facts` greedily (loss on the answers only); save it; return final accuracy."""
    return train_replies(path, [fact_text(q, a) for q, a in facts], steps=steps, lr=lr, seed=seed)


def train_replies(path: Path, texts: Sequence[tuple[str, str]], *, steps: int = 250, lr: float = 2e-3, seed: int = 0) -> float:
    """Train a tiny Llama to continue each prompt with its target greedily (loss on the targets only: end a target
    with `</s>` to teach it to stop); save it; return the final teacher-forced accuracy."""
    import torch

    tok = build_tokenizer([p + t for p, t in texts] * 4, vocab_size=1024)
    model = tiny_llama(len(tok), seed=seed)
    rows, labels = [], []
    for prompt, target in texts:
        p = tok(prompt)["input_ids"]
        t = tok(prompt + target)["input_ids"][len(p) :]
        rows.append(p + t)
        labels.append([-100] * len(p) + t)
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    lab = torch.tensor([row + [-100] * (width - len(row)) for row in labels])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, labels=lab).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(input_ids=ids).logits.argmax(-1)
    hits = [bool((pred[i, :-1][lab[i, 1:] != -100] == lab[i, 1:][lab[i, 1:] != -100]).all()) for i in range(len(rows))]
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return sum(hits) / len(hits)


def write_freebaseqa(data_dir: Path, facts: Sequence[tuple[str, str]], split: str = "eval") -> Path:
    """Write facts as DATA_DIR/freebaseqa/FreebaseQA-<split>.txt in the release's 'question | answer' layout."""
    folder = Path(data_dir) / "freebaseqa"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"FreebaseQA-{split}.txt"
    path.write_text("".join(f"{q} | {a.lower()}\n" for q, a in facts), encoding="utf-8")
    return path
