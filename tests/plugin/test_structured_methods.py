"""Structured pruning as users run it: pytest-kick prunes whole FFN channels / blocks of the fact-trained model, or
pairs the dense model with a shipped pre-pruned checkpoint whose config differs from the dense one; every kind of
gate copes, and the summary shows the parameters and speed against dense."""

import json

import pytest
from test_option_compressed import build_checkpoint

GATES = """
import json
from pytest_kick import assert_fidelity_within, assert_kick_accuracy_within, assert_perplexity_within


def test_recall(kick_pair, kick_dense, kick_compressed):
    r = assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.9, k_shot=0)
    d, c = kick_dense.model.config, kick_compressed.model.config
    shape = lambda cfg: [cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.intermediate_size]
    print("SHAPES", json.dumps({"dense": shape(d), "compressed": shape(c), "n": r.n}))


def test_fidelity(kick_pair):
    assert_fidelity_within(kick_pair, "freebaseqa", max_flip_rate=0.99, k_shot=0)


def test_perplexity(kick_pair):
    assert_perplexity_within(kick_pair, max_ratio=1000.0, window=64, stride=32, source="builtin")
"""


def shapes(result):
    return [json.loads(line.split("SHAPES ", 1)[1]) for line in result.stdout.str().splitlines() if "SHAPES {" in line]


def models(report):
    return {m["method"]: m for m in json.loads(report.read_text())["models"]}


@pytest.mark.slow
def test_pruned_here_shrinks_the_model_and_the_summary_says_by_how_much(pytester, kick_args):
    pytester.makepyfile(test_team_structured=GATES)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*kick_args, "--kick-method=prune-ffn50,prune-blocks1", f"--kick-report={report}", "-s")
    result.assert_outcomes(passed=6)
    got = shapes(result)
    assert [g["compressed"] for g in got] == [[2, 4, 128], [1, 4, 256]]  # ffn halved; one of two blocks gone
    assert all(g["dense"] == [2, 4, 256] for g in got)
    built = models(report)
    assert 0.5 < built["prune-blocks1"]["params_vs_dense"] < built["prune-ffn50"]["params_vs_dense"] < 0.95
    assert all(m["tokens_per_s"] > 0 and m["speed_vs_dense"] > 0 for m in built.values())
    result.stdout.fnmatch_lines(["method*params*vs dense*tok/s*speed vs dense*"])


@pytest.mark.slow
def test_a_shipped_pre_pruned_checkpoint_with_another_config_is_paired_with_dense(pytester, kick_args, fact_setup, tmp_path):
    entry = build_checkpoint(fact_setup[0], tmp_path, "prune-heads50-ffn25")
    config = json.loads((tmp_path / entry / "config.json").read_text())
    assert config["num_key_value_heads"] == 2 and config["intermediate_size"] == 192
    pytester.makepyfile(test_team_structured=GATES)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*kick_args, f"--kick-compressed={entry}", f"--kick-report={report}", "-s")
    result.assert_outcomes(passed=3)
    assert shapes(result)[0]["compressed"] == [2, 2, 192]
    (built,) = models(report).values()
    assert built["backend"] == "checkpoint (dense)" and built["params_vs_dense"] < 0.9
