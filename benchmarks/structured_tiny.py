"""Structured pruning on the fact-trained tiny model: recall of its made-up facts (FreebaseQA format, greedy), the
answers' negative log-likelihood per token, parameters (count and ratio to dense), forward speed (tokens/s of one
batched forward) and greedy generation speed (new tokens/s), and compression time, for the dense model and
prune-heads50, prune-ffn25, prune-ffn50, prune-blocks1, prune-heads50-ffn50 (prune-heads25 would leave 3
heads, which LlamaConfig refuses at width 128).

    python benchmarks/structured_tiny.py [--facts 80] [--seed 0] [--calib-samples 32] [--repeats 11] [--threads 1]

Every pruned model is saved with save_pretrained and loaded back with from_pretrained (load_hf) before it is
measured: the numbers are those of the checkpoint the plugin would cache. Speeds are medians over `--repeats`
rounds, the models interleaved within each round so that a busy machine slows them alike. The tiny model (width
128, 4 heads, 2 blocks) is far from compute-bound on a CPU: expect small speed differences, bigger on real models."""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pruning_tiny import recall_and_nll  # noqa: E402 - the sibling benchmark's recall and answer NLL

METHODS = ("prune-heads50", "prune-ffn25", "prune-ffn50", "prune-blocks1", "prune-heads50-ffn50")


def forward_seconds(model, ids) -> float:
    import torch

    started = time.perf_counter()
    with torch.no_grad():
        model(input_ids=ids, use_cache=False)
    return time.perf_counter() - started


def generate_seconds(model, prompt, new_tokens: int) -> float:
    import torch

    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    assert out.shape[1] == prompt.shape[1] + new_tokens
    return time.perf_counter() - started


def speeds(models: dict, tok, repeats: int, batch: int = 32, seqlen: int = 128, new_tokens: int = 32) -> dict:
    """name -> (forward tokens/s, generation tokens/s): medians, every round running each model once."""
    import torch

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, len(tok), (batch, seqlen), generator=g)
    prompt = tok("Question: What is the capital of Kalomi?\nAnswer:", return_tensors="pt")["input_ids"]
    times: dict = {name: ([], []) for name in models}
    for model in models.values():  # warm-up
        forward_seconds(model, ids)
        generate_seconds(model, prompt, 4)
    for _ in range(repeats):
        for name, model in models.items():
            times[name][0].append(forward_seconds(model, ids))
            times[name][1].append(generate_seconds(model, prompt, new_tokens))
    return {n: (batch * seqlen / statistics.median(f), new_tokens / statistics.median(s)) for n, (f, s) in times.items()}


def shape(config) -> str:
    per = config.num_attention_heads // config.num_key_value_heads
    return f"{config.num_key_value_heads}x{per} heads, ffn {config.intermediate_size}, {config.num_hidden_layers} blocks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib-samples", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from pytest_kick.compression import CompressContext, CompressionSettings, compress, parse_spec
    from pytest_kick.compression.calibration import Calibration
    from pytest_kick.models.load import load_hf
    from pytest_kick.settings import LoadSettings
    from pytest_kick.testing import made_up_facts, train_fact_model, write_freebaseqa

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="structured-tiny-"))
    facts = made_up_facts(args.facts, seed=100 + args.seed)
    acc = train_fact_model(work / "model", facts, seed=args.seed)
    write_freebaseqa(work / "data", facts)
    (work / "calib.txt").write_text("".join(f"Question: {q}\nAnswer: {a}\n" for q, a in facts) * 4)
    dense, tok = load_hf(work / "model", LoadSettings(device="cpu"))
    print(f"trained to teacher-forced accuracy {acc:.2f}", flush=True)
    calib = Calibration(samples=args.calib_samples, seqlen=64, source=str(work / "calib.txt"))
    models, rows = {"dense": dense}, {"dense": {"compress_s": 0.0}}
    for form in METHODS:
        model = copy.deepcopy(dense)
        ctx = CompressContext(CompressionSettings(calibration=calib, seed=args.seed), tokenizer=tok)
        started = time.perf_counter()
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compress(model, parse_spec(form), ctx)
        rows[form] = {"compress_s": time.perf_counter() - started, "note": "; ".join(str(w.message) for w in caught)}
        model.save_pretrained(work / form)
        tok.save_pretrained(work / form)
        models[form], _ = load_hf(work / form, LoadSettings(device="cpu"))  # measure the reloaded checkpoint

    def parameter_count(model) -> int:
        return sum(p.numel() for p in model.parameters())

    total = parameter_count(dense)
    for name, model in models.items():
        recall, nll = recall_and_nll(model, tok, work / "data", facts)
        rows[name].update(recall=recall, nll=nll, params=parameter_count(model), shape=shape(model.config))
        print(f"{name:14} recall {recall:.3f}  answer NLL {nll:.3f}  {rows[name]['shape']}", flush=True)
    for name, (fwd, gen) in speeds(models, tok, args.repeats).items():
        rows[name].update(fwd=fwd, gen=gen)
    head = f"| method | shape (kv groups x q/group, ffn, blocks) | recall of {args.facts} facts | answer NLL | parameters | ratio |"
    print("\n" + head + " forward tok/s | generate tok/s | compress s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['shape']} | {r['recall']:.3f} | {r['nll']:.3f} | {r['params']:,} | {r['params'] / total:.3f} | "
            f"{r['fwd']:,.0f} | {r['gen']:.0f} | {r['compress_s']:.2f} |"
        )
    for name, r in rows.items():
        if r.get("note"):
            print(f"\n{name}: {r['note']}")


if __name__ == "__main__":
    main()
