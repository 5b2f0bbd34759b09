"""KV-cache compression as users run it: `--kick-method=kv-int4,kv-sink4-window16` on the fact-trained model, the
summary saying the weights are unchanged, and kv-int4 without quanto refused at start-up."""

import pytest
from conftest import assert_usage_error

try:  # imported at collection: an in-process pytester run drops what it imported from sys.modules, and quanto's
    import optimum.quanto  # noqa: F401  (torch operators cannot be registered by a second import)
except ImportError:
    pass

KV_GATE = """
from pytest_kick import assert_kick_accuracy_within


def test_recall_with_shots(kick_pair, kick_compressed):
    result = assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.5, k_shot=3, limit=12)
    print("KV", kick_compressed.facts.method, result.n, result.dense_acc, result.compressed_acc, kick_compressed.engine().forward_calls)
"""


@pytest.mark.slow
def test_kv_methods_run_end_to_end_and_say_the_weights_are_unchanged(pytester, kick_args):
    pytester.makepyfile(test_team_kv=KV_GATE)
    result = pytester.runpytest(*kick_args, "--kick-method=kv-int4,kv-sink4-window16", "-s")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    rows = [line.split("KV ", 1)[1].split() for line in out.splitlines() if "KV kv-" in line]
    assert [r[0] for r in rows] == ["kv-int4", "kv-sink4-window16"]
    assert all(r[1] == "12" and int(r[4]) > 12 for r in rows)  # each question read block by block
    assert out.count("weights unchanged (dense); KV cache compressed as it runs") == 2


def test_kv_int_without_quanto_is_refused_at_start_up(pytester, random_model_dir, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("optimum.quanto") else real(name, *a))
    args = [f"--kick-model={random_model_dir}", f"--kick-cache-dir={tmp_path}", "--kick-device=cpu", "--kick-method=kv-int2"]
    assert_usage_error(pytester, args, "kv-int4/kv-int2 quantize the KV cache with quanto")
