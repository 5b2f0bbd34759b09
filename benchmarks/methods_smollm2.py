"""Structured pruning and KV-cache methods on a real model (default: SmolLM2-135M): accuracy on closed-book
FreebaseQA and open-book ICR-QA (long contexts: where KV-cache compression shows), parameters, and tokens per
second on fixed work (continuations scored after ~300-token contexts; greedy continuations of exactly 32 tokens), against the
dense model measured in the same process (measured again at the end: the row `dense (again)` shows the drift).

    python benchmarks/methods_smollm2.py --methods prune-heads33,prune-ffn25,prune-blocks4,kv-int4,kv-int2,kv-sink4-window64 \\
        --cache-dir /tmp/kick-cache [--data-dir ../shared/data] [--limit 40]

Models are made exactly as a pytest run makes them (same handles, compressed-model cache, calibration settings
below). Without --data-dir the tasks read pytest-kick's built-in samples (FreebaseQA: 40 questions, ICR-QA: 30)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pytest_kick.compression import Calibration, CompressionSettings, parse_specs
from pytest_kick.compression.plan import plan_method
from pytest_kick.models.handles import compressed_handle, dense_handle
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import parse_model_source
from pytest_kick.tasks import get_task, select

TASKS = (("freebaseqa", {"k_shot": 3}), ("icr_qa", {"setting": "open"}))


def evaluate(handle, data_dir: Path | None, limit: int | None) -> dict:
    engine = handle.engine()
    row: dict = {}
    for name, options in TASKS:
        task = get_task(name, source="dir" if data_dir else "builtin", **options)
        examples = select(task.load(data_dir), limit)
        outcomes = task.evaluate(engine, examples)
        row[name] = sum(o.correct for o in outcomes) / len(outcomes)
        row[f"{name}_n"] = len(outcomes)
    row.update(speed(engine))
    row["params"] = handle.facts.params
    row["compress_s"] = handle.facts.compress_s
    return row


SPEED_TEXT = " ".join(f"The {i}th line of a plain text that every model reads the same way." for i in range(160))


def speed(engine, repeats: int = 3) -> dict:
    """Fixed work, the same for every model: 8 continuations of 16 tokens scored after ~300-token contexts, and
    8 greedy continuations of exactly 32 tokens; the best of `repeats` (the machine's speed drifts)."""
    from pytest_kick.contract import GenerationRequest, LoglikelihoodRequest

    words = SPEED_TEXT.split(" ")
    scored = [
        LoglikelihoodRequest(" ".join(words[i * 40 : i * 40 + 200]), " " + " ".join(words[i * 40 + 200 : i * 40 + 212])) for i in range(8)
    ]
    prompts = [GenerationRequest(f"Story {i}: Once upon a time", stop=(), max_new_tokens=32, min_new_tokens=32) for i in range(8)]
    score, gen = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine.loglikelihood(scored)
        t1 = time.perf_counter()
        engine.generate(prompts)
        t2 = time.perf_counter()
        score.append(t1 - t0)
        gen.append(t2 - t1)
    n = sum(len(engine.tokenizer(r.context + r.continuation)["input_ids"]) for r in scored)
    return {"score_tok_s": n / min(score), "gen_tok_s": 8 * 32 / min(gen)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--methods", default="prune-heads33,prune-ffn25,prune-blocks4,kv-int4,kv-int2,kv-sink4-window64")
    ap.add_argument("--cache-dir", required=True, type=Path)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--calib-samples", type=int, default=32)
    ap.add_argument("--calib-seqlen", type=int, default=256)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    settings = LoadSettings(device="cpu", dtype="float32", cache_dir=args.cache_dir)
    comp = CompressionSettings(calibration=Calibration(args.calib_samples, args.calib_seqlen, "builtin"))
    source = parse_model_source(args.model)
    dense = dense_handle(source, settings)
    rows = {"dense": evaluate(dense, args.data_dir, args.limit)}
    print(f"dense: {rows['dense']}", flush=True)
    for spec in parse_specs(args.methods):
        started = time.perf_counter()
        handle = compressed_handle(source, dense, plan_method(spec, comp), settings, comp)
        handle.load()
        rows[spec.id] = evaluate(handle, args.data_dir, args.limit)
        print(f"{spec.id}: {rows[spec.id]} ({time.perf_counter() - started:.0f} s)", flush=True)
        if handle.model is not dense.model:
            handle._loaded = handle._engine = None  # one compressed model in memory at a time
    dense._engine = None
    rows["dense (again)"] = evaluate(dense, args.data_dir, args.limit)
    base = rows["dense"]
    n = base["freebaseqa_n"], base["icr_qa_n"]
    head = f"FreebaseQA 3-shot (n={n[0]}) | ICR-QA open book (n={n[1]}) | parameters | vs dense"
    print(f"\n| method | {head} | scoring tok/s | vs dense | generation tok/s | vs dense |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method, r in rows.items():
        print(
            f"| {method} | {r['freebaseqa']:.3f} | {r['icr_qa']:.3f} | {r['params']:,} | {r['params'] / base['params']:.3f} | "
            f"{r['score_tok_s']:.0f} | {r['score_tok_s'] / base['score_tok_s']:.2f}x | "
            f"{r['gen_tok_s']:.1f} | {r['gen_tok_s'] / base['gen_tok_s']:.2f}x |"
        )


if __name__ == "__main__":
    main()
