"""BBQ: pytest-kick's scores against lm-evaluation-harness's, on the same model and the same items.

lm-eval runs in its own environment (it pins its own dependencies):

    python -m venv /tmp/lmeval && /tmp/lmeval/bin/pip install torch==2.13.0 'lm_eval[hf]==0.4.13'
    python benchmarks/bbq_vs_lm_eval.py --lm-eval /tmp/lmeval/bin/lm_eval --model-dir <HF model dir> \\
        --data-dir ../shared/data --categories Age,Religion --per-category 30

It writes the chosen items to one JSONL file, runs lm-eval's own `bbq` task logic on it offline (its utils.py
and prompt, pointed at that local file), and then prints:
  1. our metric functions applied to lm-eval's per-example predictions, next to lm-eval's aggregated scores
     (the two implementations of s_DIS / s_AMB must agree: the max absolute difference is printed);
  2. pytest-kick's own predictions (engine + `bbq` task with unknown_variants=True, which scores the same
     twelve continuations lm-eval scores) against lm-eval's, example by example where they differ;
  3. pytest-kick's default scoring (the three answers only) and how many predictions that changes."""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from pytest_kick.tasks.bbq import BBQ, UNKNOWN_PHRASES, bbq_metrics, item_counts


def lm_eval_task_dir(lm_eval_bin: str, data_file: Path, out: Path) -> Path:
    """A copy of lm-eval's bbq task (its utils.py, its yaml) that reads `data_file` instead of the hub."""
    py = Path(lm_eval_bin).parent / "python"
    site = subprocess.run(
        [str(py), "-c", "import lm_eval, os; print(os.path.dirname(lm_eval.__file__))"], capture_output=True, text=True, check=True
    ).stdout.strip()
    src = Path(site) / "tasks" / "bbq"
    task = out / "bbq_local"
    task.mkdir(parents=True)
    shutil.copy(src / "utils.py", task / "utils.py")
    yaml = (src / "bbq_multiple_choice.yaml").read_text()
    yaml = yaml.replace("task: bbq\n", "task: bbq_local\n")
    yaml = yaml.replace(
        "dataset_path: oskarvanderwal/bbq\ndataset_name: All\n",
        f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data_file}\n",
    )
    yaml = yaml.replace("tag:\n  - social_bias\n", "")
    (task / "bbq_local.yaml").write_text(yaml)
    return task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lm-eval", required=True, help="the lm_eval executable of its own venv")
    ap.add_argument("--model-dir", required=True, type=Path)
    ap.add_argument("--data-dir", required=True, type=Path, help="holds bbq/**/<Category>.jsonl")
    ap.add_argument("--categories", default="Age,Religion")
    ap.add_argument("--per-category", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--batch-size", default="8")
    ap.add_argument("--reuse", type=Path, default=None, help="the work dir of an earlier run: skip running lm-eval")
    args = ap.parse_args()

    cats = tuple(args.categories.split(","))
    root = next(p for p in (args.data_dir / "bbq").rglob("*.jsonl") if p.stem == cats[0]).parent
    work = args.reuse or Path(tempfile.mkdtemp(prefix="bbq-vs-lmeval-"))
    data_file = work / "items.jsonl"
    chosen: dict[tuple[str, int], dict] = {}
    with open(data_file, "w") if args.reuse is None else open(os.devnull, "w") as fh:
        for c in cats:
            lines = (root / f"{c}.jsonl").read_text().splitlines()
            for i in sorted(random.Random(f"{args.seed}:{c}").sample(range(len(lines)), args.per_category)):
                rec = json.loads(lines[i])
                chosen[(c, rec["example_id"])] = rec
                fh.write(lines[i] + "\n")
    if args.reuse is None:
        lm_eval_task_dir(args.lm_eval, data_file, work)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [
        args.lm_eval,
        "--model",
        "hf",
        "--model_args",
        f"pretrained={args.model_dir},dtype=float32",
        "--tasks",
        "bbq_local",
        "--include_path",
        str(work),
        "--device",
        "cpu",
        "--batch_size",
        args.batch_size,
        "--log_samples",
        "--output_path",
        str(work / "out"),
    ]
    if args.reuse is None:
        print("running:", " ".join(cmd), flush=True)
        subprocess.run(cmd, env=env, check=True)
    results = json.loads(Path(sorted(glob.glob(str(work / "out" / "**" / "results_*.json"), recursive=True))[-1]).read_text())
    theirs = results["results"]["bbq_local"]
    samples = [
        json.loads(line) for f in glob.glob(str(work / "out" / "**" / "samples_bbq_local_*.jsonl"), recursive=True) for line in open(f)
    ]

    # lm-eval's prediction per item, mapped back to the item's three answers
    items = {(it.category, int(it.id.split("/")[1])): it for it in BBQ(categories=cats, source="dir").items(args.data_dir)}
    lm_pred: dict[tuple[str, int], int] = {}
    for s in samples:
        doc = s["doc"]
        answers = [doc["ans0"], doc["ans1"], doc["ans2"]]
        unk = next(a for a in answers if a in UNKNOWN_PHRASES)
        choices = [a for a in answers if a != unk] + list(UNKNOWN_PHRASES)
        lls = [float(r[0]) for r in s["filtered_resps"]]  # lm-eval logs numbers as strings
        pick = choices[int(np.argmax(lls))]
        key = (doc["category"], int(doc["example_id"]))
        lm_pred[key] = items[key].unknown if pick in UNKNOWN_PHRASES else answers.index(pick)

    print("\n1. our metric functions on lm-eval's predictions vs lm-eval's aggregates")
    diffs = []
    names = [
        ("acc", "acc,none"),
        ("acc_amb", "accuracy_amb,none"),
        ("acc_disamb", "accuracy_disamb,none"),
        ("s_amb", "amb_bias_score,none"),
        ("s_dis", "disamb_bias_score,none"),
    ]
    for scope in (None,) + cats:
        keys = [k for k in lm_pred if scope is None or k[0] == scope]
        ours = bbq_metrics(np.sum([item_counts(items[k], lm_pred[k]) for k in keys], axis=0))
        for mine, their_key in names:
            if scope is not None:
                if mine not in ("s_amb", "s_dis"):
                    continue
                their_key = their_key.replace(",none", f"_{scope},none")
            t = theirs.get(their_key)
            if t is None:
                continue
            diffs.append(abs(float(ours[mine]) - float(t)))
            print(f"  {(scope or 'all'):22} {mine:11} ours {float(ours[mine]):+.6f}   lm-eval {float(t):+.6f}")
    print(f"  max |ours - lm-eval| = {max(diffs):.2e} over {len(diffs)} numbers, {len(lm_pred)} items")

    from pytest_kick.models.handles import dense_handle
    from pytest_kick.runners.cache import CachedRunner, ResultCache
    from pytest_kick.settings import LoadSettings
    from pytest_kick.sources import parse_model_source

    handle = dense_handle(parse_model_source(str(args.model_dir)), LoadSettings(device="cpu", cache_dir=work / "kick"))
    runner = CachedRunner(handle.factory(), ResultCache(None))
    for variants in (True, False):
        task = BBQ(categories=cats, source="dir", unknown_variants=variants)
        examples = [e for e in task.load(args.data_dir) if (e.group, int(e.id.split("/")[1])) in lm_pred]
        outcomes = task.evaluate(runner, examples)
        differ = [(e, o) for e, o in zip(examples, outcomes) if o.choice != lm_pred[(e.group, int(e.id.split("/")[1]))]]
        label = "unknown_variants=True (lm-eval's 12 continuations)" if variants else "default (3 answers)"
        print(f"\n{2 if variants else 3}. pytest-kick {label}: {len(examples) - len(differ)}/{len(examples)} predictions equal lm-eval's")
        for e, o in differ[:10]:
            k = (e.group, int(e.id.split("/")[1]))
            print(f"  [{e.id}] ours: {e.choices[o.choice]!r}  lm-eval: {e.choices[lm_pred[k]]!r}")
        ours = bbq_metrics(np.sum([task.counts(e, o) for e, o in zip(examples, outcomes)], axis=0))
        print("  our scores: " + ", ".join(f"{k} {float(v):+.4f}" for k, v in ours.items()))
    print(f"\nwork dir: {work}")


if __name__ == "__main__":
    main()
