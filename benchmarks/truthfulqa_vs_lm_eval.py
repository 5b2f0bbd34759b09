"""TruthfulQA MC1/MC2: pytest-kick's per-example scores against lm-evaluation-harness's, same model, same file.

lm-eval runs in its own environment (it pins its own dependencies):

    python -m venv /tmp/lmeval && /tmp/lmeval/bin/pip install torch==2.13.0 'lm_eval[hf]==0.4.13'
    python benchmarks/truthfulqa_vs_lm_eval.py --lm-eval /tmp/lmeval/bin/lm_eval --data-dir ../shared/data --n 120

It takes the first N questions of DATA_DIR/truthfulqa/data/mc_task.json (the original release), writes them in the
hub's layout for lm-eval's own `truthfulqa_mc1` / `truthfulqa_mc2` tasks (its yaml and utils.py, pointed at that
local file), runs lm-eval offline with --log_samples, runs pytest-kick's `truthfulqa` task (its engine, mode mc1
and mc2) on the same questions and model, and prints, per mode, the largest per-example difference of the scores
(MC1: 0/1 correctness; MC2: the normalised true mass) and of the answers' log-likelihoods. Questions whose true
answers are not listed first (lm-eval splits MC2 at the first false label; pytest-kick reads the labels) are
reported apart. The model defaults to the default model's converted directory, on CPU, in float64 (see --dtype)."""

from __future__ import annotations

import argparse
import glob
import json
import math
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def lm_eval_tasks(lm_eval_bin: str, data_file: Path, out: Path) -> Path:
    py = Path(lm_eval_bin).parent / "python"
    site = subprocess.run(
        [str(py), "-c", "import lm_eval, os; print(os.path.dirname(lm_eval.__file__))"], capture_output=True, text=True, check=True
    ).stdout.strip()
    src = Path(site) / "tasks" / "truthfulqa"
    task = out / "truthfulqa_local"
    task.mkdir(parents=True)
    shutil.copy(src / "utils.py", task / "utils.py")
    local = f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    validation: {data_file}\n"
    mc1 = (src / "truthfulqa_mc1.yaml").read_text()
    mc1 = mc1.replace("task: truthfulqa_mc1\n", "task: truthfulqa_mc1_local\n")
    mc1 = re.sub(r"dataset_path: \S*truthful_qa\ndataset_name: multiple_choice\n", lambda _: local, mc1)
    if local not in mc1:
        raise SystemExit(f"lm-eval's truthfulqa_mc1.yaml has an unexpected dataset block:\n{mc1[:400]}")
    mc1 = mc1.replace("group:\n  - truthfulqa\n", "").replace("tag:\n  - truthfulqa\n", "")
    (task / "truthfulqa_mc1_local.yaml").write_text(mc1)
    mc2 = (src / "truthfulqa_mc2.yaml").read_text()
    mc2 = mc2.replace("include: truthfulqa_mc1.yaml", "include: truthfulqa_mc1_local.yaml").replace(
        "task: truthfulqa_mc2\n", "task: truthfulqa_mc2_local\n"
    )
    (task / "truthfulqa_mc2_local.yaml").write_text(mc2)
    return task


def hub_layout(rec: dict) -> dict:
    return {
        "question": rec["question"],
        **{k: {"choices": list(rec[k]), "labels": list(rec[k].values())} for k in ("mc1_targets", "mc2_targets")},
    }


def lm_eval_samples(work: Path, task: str) -> dict[int, dict]:
    (path,) = glob.glob(str(work / "out" / "**" / f"samples_{task}_*.jsonl"), recursive=True)
    rows = [json.loads(line) for line in open(path)]
    return {r["doc_id"]: r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lm-eval", required=True, help="the lm_eval executable of its own venv")
    ap.add_argument("--data-dir", required=True, type=Path, help="holds truthfulqa/data/mc_task.json")
    ap.add_argument("--model-dir", type=Path, default=None, help="an HF model dir (default: the default model, converted)")
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--batch-size", default="8")
    ap.add_argument("--reuse", type=Path, default=None, help="the work dir of an earlier run (same --n): lm-eval is not run again")
    ap.add_argument(
        "--dtype",
        default="float64",
        choices=("float64", "float32"),
        help="float64 (default): both tools compute in double precision, so batch shapes and padding cannot move the "
        "log-likelihoods by more than ~1e-12 and the comparison shows the scoring logic alone; float32: as run in practice",
    )
    args = ap.parse_args()

    from pytest_kick.models.handles import ModelHandle
    from pytest_kick.models.load import convert_gguf, load_hf
    from pytest_kick.runners.cache import CachedRunner, ResultCache
    from pytest_kick.settings import LoadSettings, default_cache_dir
    from pytest_kick.sources import smollm2_gguf_path
    from pytest_kick.tasks import get_task

    model_dir = args.model_dir or convert_gguf(smollm2_gguf_path(), default_cache_dir())
    records = json.loads((args.data_dir / "truthfulqa" / "data" / "mc_task.json").read_text())[: args.n]
    work = args.reuse or Path(tempfile.mkdtemp(prefix="truthfulqa-vs-lmeval-"))
    data_file = work / "questions.jsonl"
    data_file.write_text("".join(json.dumps(hub_layout(r)) + "\n" for r in records))
    ours_dir = work / "data" / "truthfulqa" / "data"
    ours_dir.mkdir(parents=True, exist_ok=True)
    (ours_dir / "mc_task.json").write_text(json.dumps(records))
    lm_s = math.nan
    if args.reuse is None:  # with --reuse, lm-eval's samples from the earlier run are read again
        tasks = lm_eval_tasks(args.lm_eval, data_file, work)
        started = time.perf_counter()
        subprocess.run(
            [args.lm_eval, "--model", "hf", "--model_args", f"pretrained={model_dir},dtype={args.dtype}", "--device", "cpu",
             "--batch_size", args.batch_size, "--include_path", str(tasks), "--tasks", "truthfulqa_mc1_local,truthfulqa_mc2_local",
             "--log_samples", "--output_path", str(work / "out")],
            check=True, env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        lm_s = time.perf_counter() - started

    settings = LoadSettings(device="cpu", dtype=args.dtype)
    handle = ModelHandle("model", None, lambda: load_hf(Path(model_dir), settings))  # type: ignore[arg-type]
    runner = CachedRunner(handle.factory(), ResultCache(None))
    started = time.perf_counter()
    print(f"model: {model_dir} ({args.dtype})\nquestions: {len(records)} (first of {args.data_dir / 'truthfulqa/data/mc_task.json'})")
    for mode in ("mc1", "mc2"):
        task = get_task("truthfulqa", mode=mode, source="dir")
        examples = task.load(work / "data")
        outcomes = task.evaluate(runner, examples)
        theirs = lm_eval_samples(work, f"truthfulqa_{mode}_local")
        score_diff, ll_diff, unsorted = 0.0, 0.0, []
        for i, (ex, o) in enumerate(zip(examples, outcomes)):
            labels = list(ex.meta["labels"])
            if mode == "mc2" and labels != sorted(labels, reverse=True):
                unsorted.append(i)
                continue
            ours = float(o.correct) if mode == "mc1" else o.values["score"]
            score_diff = max(score_diff, abs(ours - float(theirs[i]["acc"])))
            their_lls = [float(r[0]) for r in theirs[i]["filtered_resps"]]
            ll_diff = max(ll_diff, max(abs(a - b) for a, b in zip(o.scores, their_lls)))
        ours_mean = sum((float(o.correct) if mode == "mc1" else o.values["score"]) for o in outcomes) / len(outcomes)
        theirs_mean = sum(float(r["acc"]) for r in theirs.values()) / len(theirs)
        print(
            f"{mode}: pytest-kick {ours_mean:.6f}, lm-eval {theirs_mean:.6f}; per example: max |score diff| {score_diff:.2e}, "
            f"max |log-likelihood diff| {ll_diff:.2e} over {len(examples) - len(unsorted)} questions"
            + (f"; {len(unsorted)} with true answers not first (lm-eval splits at the first false label): {unsorted}" if unsorted else "")
        )
    print(f"time: lm-eval {lm_s:.0f} s (whole process); pytest-kick {time.perf_counter() - started:.0f} s (load + both modes)")
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
