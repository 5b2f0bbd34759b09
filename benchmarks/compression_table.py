"""Compress a model with each method (or load it from the compressed-model cache) and print, per method, the
backend, the compression time and WikiText-2 perplexity over the first N tokens (rolling windows).

    python benchmarks/compression_table.py --methods gptq4,wanda50,sparsegpt-2:4,rtn8 \\
        --data-dir ../shared/data --cache-dir /tmp/kick-cache --calib-data /path/to/text.txt

Use the same --cache-dir, calibration and seed as the pytest run: the models are then loaded, not rebuilt, and
"compress s" is the time recorded when each was built. Accuracies come from the pytest run's summary."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from pytest_kick.compression import Calibration, CompressionSettings, parse_specs
from pytest_kick.compression.plan import plan_method
from pytest_kick.models.handles import compressed_handle, dense_handle
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import parse_model_source


def rolling_perplexity(model, tok, text: str, n_tokens: int, window: int) -> float:
    """exp(mean NLL) over the first n_tokens, in non-overlapping windows of `window` tokens (stride = window);
    the first token of each window is context only."""
    import torch

    ids = tok(text, add_special_tokens=False)["input_ids"][:n_tokens]
    device = next(model.parameters()).device
    nll, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(ids) - 1, window):
            chunk = torch.tensor([ids[start : start + window]], device=device)
            if chunk.shape[1] < 2:
                break
            logits = model(chunk).logits.float()
            logp = logits[0, :-1].log_softmax(-1).gather(-1, chunk[0, 1:, None])
            nll -= logp.sum().item()
            count += chunk.shape[1] - 1
    return math.exp(nll / count)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--methods", default="rtn8,gptq4,wanda50,sparsegpt-2:4")
    ap.add_argument("--cache-dir", required=True, type=Path)
    ap.add_argument("--data-dir", required=True, type=Path, help="holds wikitext-2-raw/wiki.test.raw")
    ap.add_argument("--calib-data", default="builtin")
    ap.add_argument("--calib-samples", type=int, default=128)
    ap.add_argument("--calib-seqlen", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--ppl-tokens", type=int, default=8192)
    ap.add_argument("--window", type=int, default=512)
    args = ap.parse_args()

    text = (args.data_dir / "wikitext-2-raw" / "wiki.test.raw").read_text(encoding="utf-8")
    source = parse_model_source(args.model)
    settings = LoadSettings(device="auto", cache_dir=args.cache_dir)
    comp = CompressionSettings(
        calibration=Calibration(args.calib_samples, args.calib_seqlen, args.calib_data), seed=args.seed, data_dir=args.data_dir
    )
    dense = dense_handle(source, settings)
    rows = [("dense", "-", "-", "-", rolling_perplexity(*dense.load(), text, args.ppl_tokens, args.window))]
    for spec in parse_specs(args.methods):
        handle = compressed_handle(source, dense, plan_method(spec, comp), settings, comp)
        started = time.perf_counter()
        model, tok = handle.load()
        loaded = time.perf_counter() - started
        ppl = rolling_perplexity(model, tok, text, args.ppl_tokens, args.window)
        rows.append((spec.id, handle.facts.backend, handle.facts.build, handle.facts.compress_s or round(loaded, 1), ppl))
        del model
    print(f"WikiText-2 test, first {args.ppl_tokens} tokens, windows of {args.window} (stride {args.window})")
    print(f"{'method':<16}{'backend':<26}{'model':<26}{'compress s':>11}{'ppl':>10}")
    for method, backend, build, secs, ppl in rows:
        print(f"{method:<16}{backend:<26}{build:<26}{secs!s:>11}{ppl:>10.2f}")


if __name__ == "__main__":
    main()
