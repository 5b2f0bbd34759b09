"""Pruning methods side by side on the fact-trained tiny model: recall of its made-up facts (FreebaseQA format,
greedy), the answers' negative log-likelihood per token, weights left, and compression time, for magnitude, GBLM, Wanda and
SparseGPT at the same sparsity (Wanda and SparseGPT through llm-compressor; skipped when it is missing).

    python benchmarks/pruning_tiny.py [--facts 80] [--sparsity 50] [--seeds 0,1,2] [--calib-samples 32]

Each seed trains a fresh tiny model (about 30 s on 2 CPU cores) and prunes copies of it; calibration windows come
from the facts' own text (what the model was trained on). Prints one row per method and seed, then means."""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path


def recall_and_nll(model, tok, data_dir: Path, facts) -> tuple[float, float]:
    """Greedy recall of the facts, and the mean negative log-likelihood per answer token given its question (the
    model was trained on the answers only, so the questions' own perplexity says nothing)."""
    from pytest_kick.contract import LoglikelihoodRequest
    from pytest_kick.runners.engine import Engine
    from pytest_kick.tasks import get_task

    task = get_task("freebaseqa", source="dir", k_shot=0)
    examples = task.load(data_dir)
    engine = Engine(model, tok, batch_size="auto")
    outcomes = task.evaluate(engine, examples)
    scored = engine.loglikelihood([LoglikelihoodRequest(f"Question: {q}\nAnswer:", f" {a}") for q, a in facts])
    nll = -sum(r.logprob for r in scored) / sum(r.n_tokens for r in scored)
    return sum(o.correct for o in outcomes) / len(outcomes), nll


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=80)
    parser.add_argument("--sparsity", type=int, default=50)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--calib-samples", type=int, default=32)
    args = parser.parse_args()

    import torch

    from pytest_kick.compression import CompressContext, CompressionSettings, compress, parse_spec, resolve_backend
    from pytest_kick.compression.calibration import Calibration
    from pytest_kick.errors import KickError
    from pytest_kick.models.load import load_hf
    from pytest_kick.settings import LoadSettings
    from pytest_kick.testing import made_up_facts, train_fact_model, write_freebaseqa

    torch.set_num_threads(2)
    methods = ["magnitude", "gblm", "wanda", "sparsegpt"]
    rows: dict[str, list[tuple[float, float, float, float]]] = {m: [] for m in ["dense", *methods]}
    for seed in [int(s) for s in args.seeds.split(",")]:
        work = Path(tempfile.mkdtemp(prefix=f"pruning-tiny-{seed}-"))
        facts = made_up_facts(args.facts, seed=100 + seed)
        acc = train_fact_model(work / "model", facts, seed=seed)
        write_freebaseqa(work / "data", facts)
        corpus = "".join(f"Question: {q}\nAnswer: {a}\n" for q, a in facts)
        (work / "calib.txt").write_text(corpus * 4)
        dense, tok = load_hf(work / "model", LoadSettings(device="cpu"))
        r, ppl = recall_and_nll(dense, tok, work / "data", facts)
        total = sum(lin.weight.numel() for _, lin in CompressContext(CompressionSettings()).layers(dense))
        rows["dense"].append((r, ppl, 1.0, 0.0))
        print(f"seed {seed}: trained to teacher-forced accuracy {acc:.2f}; dense recall {r:.3f}, answer NLL {ppl:.3f}", flush=True)
        calib = Calibration(samples=args.calib_samples, seqlen=64, source=str(work / "calib.txt"))
        for method in methods:
            spec = parse_spec(f"{method}{args.sparsity}")
            try:
                backend = resolve_backend(spec)
            except KickError as exc:
                print(f"  {method}: skipped ({exc})")
                continue
            model = copy.deepcopy(dense)
            ctx = CompressContext(CompressionSettings(calibration=calib, seed=seed), tokenizer=tok)
            started = time.perf_counter()
            with torch.no_grad():
                compress(model, spec, ctx, backend=backend.name)
            seconds = time.perf_counter() - started
            kept = sum(int((lin.weight != 0).sum()) for _, lin in ctx.layers(model)) / total
            r, ppl = recall_and_nll(model, tok, work / "data", facts)
            rows[method].append((r, ppl, kept, seconds))
            print(
                f"  {spec.id:12} recall {r:.3f}  answer NLL {ppl:.3f}  weights kept {kept:.3f}  {seconds:.1f} s ({backend.label()})",
                flush=True,
            )
    print(f"\n| method | recall of {args.facts} facts | answer NLL per token | weights kept | compress s |")
    print("|---|---|---|---|---|")
    for method, got in rows.items():
        if got:
            mean = [statistics.mean(col) for col in zip(*got)]
            print(f"| {method} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f} | {mean[3]:.1f} |")


if __name__ == "__main__":
    main()
