"""--kick-dtype: a bad value stops pytest at start-up with the valid forms; each dtype has its own cache entries."""

from pathlib import Path

import pytest
from conftest import assert_usage_error


def test_bad_value(pytester):
    assert_usage_error(pytester, ["--kick-dtype=fp8"], "--kick-dtype 'fp8': valid values are auto, float32, bfloat16, float16")


@pytest.mark.slow
def test_bfloat16_and_float32_runs_never_share_a_cache_entry(pytester, kick_args, gate_file):
    """bf16 answers differ from fp32 ones: a bf16 run in a cache an fp32 run filled reads none of its entries
    (results or compressed model) and loads both models again."""
    cache = Path(next(a for a in kick_args if a.startswith("--kick-cache-dir")).split("=", 1)[1])

    def entries():
        return {p.relative_to(cache) for p in cache.rglob("*") if p.is_file() and p.parts[len(cache.parts)] in ("results", "compressed")}

    first = pytester.runpytest(*kick_args, "--kick-method=rtn8", "--kick-dtype=float32", "-s")
    first.assert_outcomes(passed=1)
    fp32 = entries()
    second = pytester.runpytest(*kick_args, "--kick-method=rtn8", "--kick-dtype=bfloat16", "-s")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["*LOADS 1 1 40*"])  # both models loaded: nothing came from the fp32 entries
    bf16 = entries() - fp32
    assert len([p for p in bf16 if p.parts[0] == "results"]) == len([p for p in fp32 if p.parts[0] == "results"])
    assert any(p.parts[0] == "compressed" for p in bf16)  # its own compressed model too
