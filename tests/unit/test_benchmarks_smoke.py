"""benchmarks/speed_vs_lm_eval.py: its pure parts (no lm-eval, no model)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "speed_vs_lm_eval.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("speed_vs_lm_eval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_unknown_workload_is_refused(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "mmlu,nope"])
    assert "nope" in capsys.readouterr().err
    assert bench.parse_args(["--only", "bbq"]).only == "bbq"


def test_lm_eval_task_asks_the_prompt_verbatim(bench, tmp_path):
    by_key = {w.key: w for w in bench.WORKLOADS}
    mc = bench.lm_eval_config(by_key["mmlu"], "t", tmp_path / "x.jsonl")
    assert mc["doc_to_text"] == "prompt" and mc["output_type"] == "multiple_choice" and mc["doc_to_target"] == "gold"
    gen = bench.lm_eval_config(by_key["freebaseqa"], "t", tmp_path / "x.jsonl")
    assert gen["generation_kwargs"] == {"until": ["\n"], "max_gen_toks": 16, "do_sample": False}
    assert json.loads(json.dumps(gen)) == gen  # written as JSON, which YAML reads


def test_lm_eval_predictions_from_samples(bench, tmp_path):
    by_key = {w.key: w for w in bench.WORKLOADS}
    out = tmp_path / "out" / "model"
    out.mkdir(parents=True)
    mc = {"doc": {"id": "a/1"}, "filtered_resps": [["-3.0", "False"], ["-1.5", "True"], ["-2.0", "False"], ["-9", "False"]]}
    (out / "samples_kick_speed_mmlu_x.jsonl").write_text(json.dumps(mc) + "\n")
    assert bench.lm_eval_predictions(by_key["mmlu"], tmp_path / "out") == {"a/1": 1}
    (out / "samples_kick_speed_mmlu_x.jsonl").write_text(json.dumps({"doc": {"id": "q/0"}, "resps": [[" Paris."]]}) + "\n")
    assert bench.lm_eval_predictions(by_key["freebaseqa"], tmp_path / "out") == {"q/0": " Paris."}


def test_bbq_choice_maps_any_unknown_phrase_to_the_unknown_answer(bench):
    from pytest_kick.tasks.bbq import UNKNOWN_PHRASES

    doc = {"ans0": "The grandfather", "ans1": UNKNOWN_PHRASES[0], "ans2": "The grandson"}
    n = 2 + len(UNKNOWN_PHRASES)
    lls = [-5.0] * n
    lls[1] = -1.0  # the grandson
    assert bench.bbq_choice(doc, lls) == 2
    lls[1], lls[-1] = -5.0, -0.5  # the last phrasing of unknown
    assert bench.bbq_choice(doc, lls) == 1


def test_agreement_and_table(bench):
    equal, total, shown = bench.agreement({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0})
    assert (equal, total) == (1, 3) and len(shown) == 2
    w = bench.WORKLOADS[0]
    t = bench.Timing
    row = bench.Row(w, kick=[t(10.0, 900, 0.5), t(12.0, 900, 0.7)], lm=[t(30.0, 1500, 0.6)], warm=[t(1.0, 300, 0.5)])
    row.agree = (200, 200, [])
    text = bench.table([row])
    assert "| 10.0–12.0 s | 30.0 s | 2.73× | ≥ 2× ✔ | 200/200 identical choices |" in text
    assert "1.0 s vs 11.0 s" in text and "9.1%" in text
    assert "| mmlu | 1.0 s | 900 MB | 1500 MB | 0.5–0.7 | yes |" in bench.details([row])


def test_shares_give_each_sample_to_the_first_matching_share(bench, tmp_path):
    raw = tmp_path / "raw.txt"
    lines = [
        "<module> (pytest:8);_find_and_load (<frozen importlib._bootstrap>:1176) 10",
        "test (t.py:3);generate (pytest_kick/engine.py:270);_generate_batch (pytest_kick/engine.py:320);forward (modeling_llama.py:5) 30",
        "test (t.py:3);generate (pytest_kick/engine.py:270);__call__ (pytest_kick/engine.py:313);_decode (pytest_kick/engine.py:90) 5",
        "test (t.py:3);loglikelihood (pytest_kick/engine.py:80);_score_group (pytest_kick/engine.py:170);forward (modeling_llama.py:5) 50",
        "main (pytest:8);runtestprotocol (_pytest/runner.py:1) 5",
    ]
    raw.write_text("\n".join(lines) + "\n")
    got = dict(bench.shares(raw))
    assert got["imports (torch, transformers, ...)"] == 10
    assert got["generation: model forward"] == 30
    assert got["generation: stop checks and decoding"] == 5
    assert got["loglikelihood: model forward"] == 50
    assert got["pytest, plugin, tasks, statistics, report"] == 5
    assert "| loglikelihood: model forward | 1.0 | 50.0% |" in bench.share_table(raw, 50)


def test_a_workload_without_its_data_is_skipped_with_the_reason(bench, tmp_path):
    why = bench.missing_data(bench.WORKLOADS[0], tmp_path)
    assert why is not None and "mmlu" in why
