"""Compressed models as users meet them: a checkpoint they ship, and one compression shared by xdist workers."""

import xml.etree.ElementTree as ET

import pytest
from conftest import assert_usage_error

from pytest_kick.compression import Calibration, CompressionSettings, parse_spec
from pytest_kick.compression.plan import plan_method
from pytest_kick.models.handles import compressed_handle, dense_handle
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import parse_model_source


def build_checkpoint(model_dir, cache_dir, spec):
    """A compressed checkpoint as a team would ship it, made with pytest-kick's own pipeline."""
    source = parse_model_source(str(model_dir))
    settings = LoadSettings(device="cpu", cache_dir=cache_dir)
    comp = CompressionSettings(calibration=Calibration(8, 32, "builtin"))
    handle = compressed_handle(source, dense_handle(source, settings), plan_method(parse_spec(spec), comp), settings, comp)
    handle.load()
    return handle.facts.cache_entry


@pytest.mark.slow
@pytest.mark.parametrize("spec, fmt", [("magnitude50", "dense"), ("gptq8", "compressed-tensors")])
def test_a_shipped_checkpoint_is_tested_as_it_is(pytester, kick_args, gate_file, fact_setup, tmp_path, spec, fmt):
    if spec.startswith("gptq"):
        pytest.importorskip("llmcompressor", reason="llmcompressor is not installed: pip install 'llmcompressor>=0.14,<0.15'")
    entry = build_checkpoint(fact_setup[0], tmp_path, spec)
    result = pytester.runpytest(*kick_args, f"--kick-compressed={entry}", "-v")
    result.assert_outcomes(passed=1)
    name = entry.rsplit("/", 1)[1]
    result.stdout.fnmatch_lines([f"*test_recall?checkpoint:{name}? PASSED*", f"checkpoint:{name}*checkpoint ({fmt})*"])


MANY = """
import pytest
from pytest_kick import assert_kick_accuracy_within


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_recall(kick_pair, k):
    assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.5, k_shot=k, limit=10)
"""


@pytest.mark.slow
def test_xdist_workers_compress_once_and_share_the_cached_model(pytester, kick_args, tmp_path):
    pytest.importorskip("xdist")
    pytester.makepyfile(test_many=MANY)
    junit = tmp_path / "junit.xml"
    # --dist load spreads one method's tests over both workers (loadgroup would keep them on one)
    result = pytester.runpytest_subprocess(*kick_args, "--kick-method=magnitude50", "-n", "2", "--dist", "load", f"--junitxml={junit}")
    result.assert_outcomes(passed=4)
    builds = [p.get("value") for p in ET.parse(junit).iter("property") if p.get("name") == "kick_build"]
    # each row carries its worker's model: one worker compressed, the other waited and loaded that entry
    assert len(builds) == 4 and set(builds) == {"compressed", "loaded from cache"}, builds


@pytest.mark.slow
def test_precompressed_checkpoint_is_tested_as_the_pair(pytester, kick_args, gate_file, fact_setup, tmp_path):
    from pytest_kick.compression import compress, parse_spec
    from pytest_kick.models.load import load_hf

    model, tok = load_hf(fact_setup[0], LoadSettings(device="cpu"))
    compress(model, parse_spec("rtn8"))
    ckpt = tmp_path / "shipped-int8"
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    result = pytester.runpytest(*kick_args, f"--kick-compressed={ckpt}", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_recall?checkpoint:shipped-int8? PASSED*"])


@pytest.mark.parametrize(
    "config, needle",
    [
        ('{"quantization_config": {"quant_method": "zipnn"}}', "unknown quantization format 'zipnn' in config.json"),
        ("{not json", "config.json is not valid JSON"),
    ],
)
def test_compressed_checkpoint_of_unknown_format(pytester, config, needle):
    ck = pytester.mkdir("ck")
    (ck / "config.json").write_text(config)
    assert_usage_error(pytester, ["--kick-compressed=ck"], f"--kick-compressed *{needle}")


def test_missing_checkpoint(pytester):
    assert_usage_error(pytester, ["--kick-compressed=nowhere"], "--kick-compressed nowhere: no such file or directory")


@pytest.mark.slow  # the fact model is trained
def test_an_unrelated_model_is_refused_at_start_up_unless_the_pairing_is_deliberate(pytester, kick_args, gate_file, random_model_dir):
    """A tiny Llama with its own tokenizer given as the compressed form of the fact model: a usage error before any
    test, naming both and what differs; with --kick-pair-any it runs, and the summary says it was not checked."""
    result = pytester.runpytest(*kick_args, f"--kick-compressed={random_model_dir}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --kick-compressed {random_model_dir} does not match --kick-model *vocabulary of*--kick-pair-any*"]
    )
    deliberate = pytester.runpytest(*kick_args, f"--kick-compressed={random_model_dir}", "--kick-pair-any", "-p", "no:cacheprovider")
    assert deliberate.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), deliberate.stdout.str()
    deliberate.stdout.fnmatch_lines(["pytest-kick: --kick-pair-any: the --kick-compressed model was not checked*"])


def test_the_pair_check_reads_what_differs(tmp_path, random_model_dir):
    import json
    import shutil

    from pytest_kick.errors import KickUsageError
    from pytest_kick.models.pairing import check_pair, facts

    check_pair(random_model_dir, random_model_dir)  # a model is a compressed form of itself
    wider = tmp_path / "wider"
    shutil.copytree(random_model_dir, wider)
    config = json.loads((wider / "config.json").read_text())
    config["hidden_size"] *= 2
    (wider / "config.json").write_text(json.dumps(config))
    with pytest.raises(KickUsageError, match="hidden size"):
        check_pair(random_model_dir, wider)
    renamed = tmp_path / "renamed"
    shutil.copytree(random_model_dir, renamed)
    tok = json.loads((renamed / "tokenizer.json").read_text())
    word = next(t for t, i in tok["model"]["vocab"].items() if i == 10)  # an ordinary token, not a special one
    tok["model"]["vocab"]["zzz-not-a-token"] = tok["model"]["vocab"].pop(word)
    (renamed / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(KickUsageError, match=r"vocabulary of \d+ vs \d+ tokens \(first difference at id 10: .\(. vs .zzz-not-a-token."):
        check_pair(random_model_dir, renamed)
    assert facts(random_model_dir).vocab and facts(random_model_dir).probe
