"""Helpers for tests (ours and users'): tiny Llama models built and trained in seconds, and the files they read.

`fact_model(dir)` trains a small model to recall made-up facts in the FreebaseQA 'question | answer' layout,
so a gate can be shown to FAIL for real when compression destroys that knowledge and PASS when it does not."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

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
        max_position_embeddings=512,
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
    import torch

    texts = [fact_text(q, a) for q, a in facts]
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
    lab = torch.tensor([l + [-100] * (width - len(l)) for l in labels])
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
