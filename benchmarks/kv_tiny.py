"""KV-cache compression on the fact-trained tiny model: recall of its made-up facts when each question comes after
a long context (other facts it learned, so the question's answer must be read through the compressed cache of
everything before it), the answers' negative log-likelihood per token, the cache's bytes per token, parameters
and speed, for dense, kv-int4, kv-int2 and sliding windows with attention sinks.

    python benchmarks/kv_tiny.py [--facts 40] [--context-facts 12] [--seeds 0,1]

Each seed trains a fresh tiny model (about 30 s on 2 CPU cores). Speed is the wall time of scoring and generating
every question (one process, methods interleaved per repeat, median of --repeats); the dense row is pytest-kick's
packed engine, the KV rows its KV engine (one sequence at a time, read in 32-token blocks)."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

METHODS = ("dense", "kv-int4", "kv-int2", "kv-sink4-window64", "kv-sink4-window16")


def requests(facts, context_facts: int, seed: int):
    """(context + question, answer) per fact: the context is `context_facts` other facts, in a seeded order."""
    rng = random.Random(seed)
    out = []
    for i, (q, a) in enumerate(facts):
        others = rng.sample([f for j, f in enumerate(facts) if j != i], context_facts)
        context = "".join(f"Question: {oq}\nAnswer: {oa}\n" for oq, oa in others)
        out.append((f"{context}Question: {q}\nAnswer:", f" {a}"))
    return out


def engine_for(method: str, model, tok):
    from pytest_kick.compression import parse_spec
    from pytest_kick.compression.kvcache import KVEngine
    from pytest_kick.runners.engine import Engine

    return Engine(model, tok) if method == "dense" else KVEngine(model, tok, spec=parse_spec(method))


def measure(method: str, model, tok, reqs) -> dict:
    from pytest_kick.contract import GenerationRequest, LoglikelihoodRequest

    eng = engine_for(method, model, tok)
    started = time.perf_counter()
    scored = eng.loglikelihood([LoglikelihoodRequest(c, a) for c, a in reqs])
    texts = eng.generate([GenerationRequest(c, stop=("\n",), max_new_tokens=12) for c, _ in reqs])
    seconds = time.perf_counter() - started
    recall = sum(t.strip() == a.strip() for t, (_, a) in zip(texts, reqs)) / len(reqs)
    nll = -sum(r.logprob for r in scored) / sum(r.n_tokens for r in scored)
    return {"recall": recall, "nll": nll, "seconds": seconds, "tokens": eng.tokens_fed}


def cache_bytes_per_token(method: str, model, tok, text: str) -> float:
    """Bytes the cache holds per token read, after reading `text` (quanto's packed tensors counted by their parts)."""
    import torch

    eng = engine_for("kv-int4" if method == "dense" else method, model, tok)
    ids = eng._encode(text)
    if method == "dense":
        from transformers import DynamicCache

        cache = DynamicCache()
        with torch.inference_mode():
            model(input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True)
    else:
        cache = eng.new_cache()
        with torch.inference_mode():
            eng._read(ids, cache)
    return sum(_nbytes(v) for layer in cache.layers for v in vars(layer).values()) / len(ids)


def _nbytes(value) -> int:
    import torch

    if not isinstance(value, torch.Tensor):
        return 0
    if hasattr(value, "__tensor_flatten__") and type(value) is not torch.Tensor:
        names, _ = value.__tensor_flatten__()
        return sum(_nbytes(getattr(value, n)) for n in names)
    return value.numel() * value.element_size()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=40)
    parser.add_argument("--context-facts", type=int, default=12)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from pytest_kick.models.load import load_hf
    from pytest_kick.settings import LoadSettings
    from pytest_kick.testing import made_up_facts, train_fact_model

    torch.set_num_threads(2)
    rows: dict[str, list[dict]] = {m: [] for m in METHODS}
    for seed in [int(s) for s in args.seeds.split(",")]:
        work = Path(tempfile.mkdtemp(prefix=f"kv-tiny-{seed}-"))
        facts = made_up_facts(args.facts, seed=200 + seed)
        acc = train_fact_model(work / "model", facts, seed=seed)
        model, tok = load_hf(work / "model", LoadSettings(device="cpu", dtype="float32"))
        reqs = requests(facts, args.context_facts, seed)
        mean_len = statistics.mean(len(tok(c)["input_ids"]) for c, _ in reqs)
        print(f"seed {seed}: teacher-forced accuracy {acc:.2f}; contexts {mean_len:.0f} tokens on average", flush=True)
        runs: dict[str, list[dict]] = {m: [] for m in METHODS}
        for _ in range(args.repeats):  # interleaved, so drift in the machine's speed hits every method alike
            for method in METHODS:
                runs[method].append(measure(method, model, tok, reqs))
        for method in METHODS:
            got = dict(runs[method][0])
            got["seconds"] = statistics.median(r["seconds"] for r in runs[method])
            got["bytes"] = cache_bytes_per_token(method, model, tok, reqs[0][0])
            got["params"] = sum(p.numel() for p in model.parameters())
            rows[method].append(got)
            print(
                f"  {method:18} recall {got['recall']:.3f}  NLL {got['nll']:.3f}  {got['seconds']:.2f} s  cache {got['bytes']:.0f} B/token"
            )
    head = f"recall ({args.context_facts} facts of context) | answer NLL per token | KV bytes per token | parameters"
    print(f"\n| method | {head} | time s | time vs dense |")
    print("|---|---|---|---|---|---|---|")
    base = statistics.mean(r["seconds"] for r in rows["dense"])
    for method, got in rows.items():
        mean = {k: statistics.mean(r[k] for r in got) for k in got[0]}
        print(
            f"| {method} | {mean['recall']:.3f} | {mean['nll']:.3f} | {mean['bytes']:.0f} | {int(mean['params']):,} | "
            f"{mean['seconds']:.2f} | {mean['seconds'] / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
