"""Bad input, as a team meets it in its first week: every case stops with a message that names the option or file
and the fix, prints no internal traceback, and leaves nothing in the cache.

Start-up cases (options, the files they name, the installed packages, the model's architecture) end with pytest's
usage error (exit 4) before any test runs; a kick marker typo is a collection error (exit 2); a bad gate argument
fails its test (exit 1) before any model runs."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from judge_stub import JudgeStub

USAGE, COLLECTION, FAILED = pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED
GATE = "def test_x(kick_pair): pass\n"


def gate(call: str) -> str:
    """A test file calling one assertion, e.g. gate("assert_kick_accuracy_within(kick_pair, task='x', max_drop=0.02)")."""
    name = call.split("(")[0]
    return f"from pytest_kick import {name}\n\ndef test_x(kick_pair):\n    {call}\n"


JUDGED = gate(
    "assert_generation_quality_within(kick_pair, 'summarization', scorer=kick_judge, max_drop=1.0, max_new_tokens=4, "
    "limit=2, source='builtin')"
).replace("(kick_pair)", "(kick_pair, kick_judge)")


def chat(content: str) -> bytes:
    import json

    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    return json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}).encode()


def marked(marker: str) -> str:
    return f"import pytest\n\n@pytest.mark.kick{marker}\n" + GATE


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    needles: tuple[str, ...]  # the option or file, and the fix: each must appear in the output
    ret: int = USAGE
    ini: str = ""  # lines of a [pytest] section
    test: str = GATE
    model: bool = True  # pass --kick-model=<the tiny random model> unless the case names its own
    env: dict = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # what must not appear anywhere in the output (a password)
    judge: bytes | None = None  # a judge server answering every request with this body ({judge} in args: its URL)
    delay: float = 0.0  # ... after this many seconds
    caches: bool = False  # the run computes (and may keep) model answers before the failure it reports


def _gguf(tensor_offset: int, extra: bytes = b"") -> bytes:
    """A GGUF v3 header with one f32 tensor at `tensor_offset` of the data section, and `extra` data bytes."""
    key = b"general.alignment"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<II", 4, 32)
    tensor = struct.pack("<Q", 1) + b"w" + struct.pack("<IQIQ", 1, 1024, 0, tensor_offset)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + kv + tensor
    return head + b"\0" * (-len(head) % 32) + extra


def saved(edit=None, sign: bool = True) -> str:
    """A saved run (--kick-save's format) with one gate of two examples, changed by `edit` (its data, in place) and
    signed again with the checksum unless `sign` is False (a hand edit; `sign` is the forger who knows the format)."""
    import json

    from pytest_kick.report.baseline import SavedExample, SavedGate, SavedRun
    from pytest_kick.report.integrity import checksum

    examples = (SavedExample("a", True, 1.0, "x"), SavedExample("b", False, 0.0, "y"))
    data = SavedRun("r1", gates=[SavedGate("test_user.py::test_x", "accuracy", "freebaseqa", "rtn8", "m", 0.02, 0.05, examples)]).to_json()
    if edit is not None:
        edit(data)
        for g in data["gates"] if sign and isinstance(data.get("gates"), list) else ():
            if isinstance(g, dict):
                g["checksum"] = checksum(g)
    return json.dumps(data)


def _example(**changes):
    return lambda d: d["gates"][0]["examples"][0].update(changes)


def _gate(**changes):
    return lambda d: d["gates"][0].update(changes)


def _drop(key):
    return lambda d: d["gates"][0].pop(key)


SAVED = {  # --kick-compare files, each wrong one way (all read at start-up, before any model runs)
    "saved-not-json.json": "{",
    "saved-other.json": '{"schema": "something else"}',
    "saved-old.json": saved(lambda d: d.update(version=2)),
    "saved-no-gates.json": saved(lambda d: d.pop("gates")),
    "saved-hand-edited.json": saved(_example(correct=False), sign=False),
    "saved-correct-text.json": saved(_example(correct="no")),
    "saved-score-text.json": saved(_example(score="1.0")),
    "saved-id-missing.json": saved(lambda d: d["gates"][0]["examples"][0].pop("id")),
    "saved-duplicate.json": saved(lambda d: d["gates"][0]["examples"].append(dict(d["gates"][0]["examples"][0]))),
    "saved-gate-not-object.json": saved(lambda d: d["gates"].insert(0, "gate")),
    "saved-examples-not-list.json": saved(_gate(examples={"a": 1})),
    "saved-alpha-text.json": saved(_gate(alpha="0.05")),
    "saved-alpha-range.json": saved(_gate(alpha=5)),
    "saved-test-missing.json": saved(_drop("test")),
    "saved-unknown-field.json": saved(_gate(extra=1)),
    "saved-scores-text.json": saved(_example(scores=["1"])),
    "saved-choice-bool.json": saved(_example(choice=True)),
    "saved-not-utf8.json": b'{"schema": "\xff"}',
}

_BBQ = {
    "example_id": 0, "question_index": "1", "question_polarity": "neg", "context_condition": "ambig", "category": "Age",
    "answer_info": {"ans0": ["grandfather", "old"], "ans1": ["grandson", "nonOld"], "ans2": ["Can't be determined", "unknown"]},
    "additional_metadata": {"subcategory": "None", "stereotyped_groups": ["old"], "version": "a", "source": "x"},
    "context": "I saw a grandson and their grandfather.", "question": "Who was forgetful?",
    "ans0": "The grandfather", "ans1": "The grandson", "ans2": "Can't be determined", "label": "2",
}  # fmt: skip
DATA = {  # benchmark files in their own formats under --kick-data-dir=data, each with one bad record
    "data/bbq/Age.jsonl": __import__("json").dumps(_BBQ) + "\n",
    "data/crows_pairs/crows_pairs_anonymized.csv": (
        "sent_more,sent_less,stereo_antistereo,bias_type\nPoor people are lazy.,Rich people are lazy.,maybe,socioeconomic\n"
    ),
    "data/truthfulqa/mc_task.json": '[{"question": "Is the earth flat?", "mc1_targets": {"No.": true, "Yes.": 0}}]',
    "data/realtoxicityprompts/p.jsonl": '{"prompt": {"text": "So I said", "toxicity": "0.9"}}\n',
    "data/freebaseqa/FreebaseQA-eval.json": b'{"Questions": [{"RawQuestion": "caf\xe9?", "Parses": []}]}',
    "data/ifeval/input_data.jsonl": (
        '{"key": 1, "prompt": "Write a poem.", "instruction_id_list": ["length_constraints:number_words"], '
        '"kwargs": [{"num_words": "300", "relation": "at least"}]}\n'
    ),
}

FILES = {  # made in each run's folder; a case refers to them by name
    **SAVED,
    **DATA,
    "notjson/config.json": "{not json",
    "notjson/model.safetensors": "x",
    "noweights/config.json": '{"model_type": "llama"}',
    "empty/.keep": "",
    "weights.bin": b"PK\x03\x04 not a gguf",
    "garbage.gguf": b"GGUF\x03\x00\x00\x00" + b"\xff" * 64,
    "truncated.gguf": _gguf(4096, b"\0" * 100),
    "weird-quant/config.json": '{"model_type": "llama", "quantization_config": {"quant_method": "weird"}}',
    "weird-quant/model.safetensors": "x",
    "hqq-quant/config.json": '{"model_type": "llama", "quantization_config": {"quant_method": "hqq"}}',
    "hqq-quant/model.safetensors": "x",
    "binary.txt": bytes(range(256)) * 8,
    "blank.txt": "   \n",
    "a-file": "not a folder",
    "report-dir/.keep": "",
    "scorer-bad-json/config.json": "[",
    "bad-prompt.jsonl": '{"name": "mine", "prompt_template": "Q {question} A {answr_1}", "output_format": "scores"}\n',
    # a team's method registered in a test subfolder's conftest, which loads after the options are read
    "sub/conftest.py": "from pytest_kick import compression_method\n\n@compression_method('fp')\ndef fp(model, spec):\n    pass\n",
}

CASES = {
    # --kick-model
    "model-missing": Case(("--kick-model=./no/such/model",), ("--kick-model", "no such file or directory"), model=False),
    "model-no-config": Case(("--kick-model=empty",), ("empty: the directory has no config.json", "save_pretrained"), model=False),
    "model-config-not-json": Case(
        ("--kick-model=notjson",), ("notjson", "config.json is not valid JSON", "save the model again"), model=False
    ),
    "model-no-weights": Case(("--kick-model=noweights",), ("noweights", "no weight files", "save_pretrained"), model=False),
    "model-not-gguf": Case(("--kick-model=weights.bin",), ("weights.bin", "not a GGUF file", "Pass a .gguf file"), model=False),
    "model-gguf-garbage": Case(
        ("--kick-model=garbage.gguf",), ("garbage.gguf", "not a readable GGUF file", "download it again"), model=False
    ),
    "model-gguf-truncated": Case(("--kick-model=truncated.gguf",), ("truncated.gguf", "truncated", "download it again"), model=False),
    "model-bad-hub-id": Case(("--kick-model=not a model!",), ("--kick-model not a model!", "hub id"), model=False),
    # --kick-method and the layer options, checked against the model's architecture before it runs
    "method-empty": Case(("--kick-method=",), ("--kick-method is empty", "--kick-method=rtn8")),
    "method-unknown": Case(("--kick-method=foo4",), ("unknown compression method 'foo4'", "Valid forms")),
    "method-bad-bits": Case(("--kick-method=rtn99",), ("--kick-method 'rtn99'", "Valid forms")),
    "method-group-size": Case(
        ("--kick-method=rtn4-g256",), ("rtn4-g256", "group size 256 does not divide layer model.layers.0", "32, 64, 128")
    ),
    "method-group-size-form": Case(("--kick-method=rtn4-g100",), ("rtn4-g100", "power of two", "Valid forms")),
    "method-n-m": Case(
        ("--kick-method=magnitude-2:3",),
        (
            "magnitude-2:3",
            "N:M block of 3 does not divide layer model.layers.0",
        ),
    ),
    "targets-match-nothing": Case(("--kick-targets=nosuch",), ("--kick-targets pattern 'nosuch' matches no linear layer", "q_proj")),
    "skip-leaves-nothing": Case(
        ("--kick-skip-first=1", "--kick-skip-last=1"), ("--kick-skip-first=1", "leave none of the model's 2 blocks")
    ),
    "targets-in-a-subprocess-of-an-xdist-worker": Case(
        ("--kick-targets=nosuch",), ("--kick-targets pattern 'nosuch' matches no linear layer",), env={"PYTEST_XDIST_WORKER": "gw3"}
    ),
    "skip-negative": Case(("--kick-skip-first=-1",), ("--kick-skip-first", "whole number >= 0")),
    "backend-unknown": Case(("--kick-backend=nope",), ("--kick-backend 'nope'", "valid values are")),
    "backend-auto-gptq": Case(("--kick-backend=auto-gptq",), ("auto-gptq is end-of-life", "--kick-backend=llmcompressor")),
    "backend-cannot-run": Case(
        ("--kick-method=rtn4", "--kick-backend=bitsandbytes"), ("--kick-backend=bitsandbytes cannot run rtn4", "--kick-backend=auto")
    ),
    # calibration
    "calib-missing": Case(("--kick-method=gptq4", "--kick-calib-data=missing.txt"), ("--kick-calib-data", "missing.txt: no such file")),
    "calib-binary": Case(("--kick-method=gptq4", "--kick-calib-data=binary.txt"), ("binary.txt", "not a UTF-8 text file", "wikitext2")),
    "calib-blank": Case(("--kick-method=gptq4", "--kick-calib-data=blank.txt"), ("blank.txt", "is empty", "give a file with text")),
    "calib-wikitext-no-data-dir": Case(
        ("--kick-method=gptq4", "--kick-calib-data=wikitext2"), ("--kick-calib-data=wikitext2", "pass --kick-data-dir")
    ),
    "calib-samples-zero": Case(("--kick-calib-samples=0",), ("--kick-calib-samples", "positive integer")),
    "calib-seqlen-text": Case(("--kick-calib-seqlen=long",), ("--kick-calib-seqlen", "positive integer")),
    # devices
    "device-unknown": Case(("--kick-device=tpu",), ("--kick-device 'tpu'", "valid forms are auto, cpu, cuda, cuda:N")),
    "device-cuda-missing": Case(("--kick-device=cuda",), ("--kick-device=cuda", "no usable CUDA device", "--kick-device=cpu")),
    "device-cuda-index-missing": Case(("--kick-device=cuda:3",), ("--kick-device=cuda:3", "--kick-device=cpu")),
    "ray-form": Case(("--kick-ray=cluster",), ("--kick-ray 'cluster'", "valid forms are local")),
    "ray-unreachable": Case(("--kick-ray=127.0.0.1:1",), ("--kick-ray=127.0.0.1:1", "nothing answers", "ray start --head")),
    "ray-device": Case(("--kick-ray=local", "--kick-device=cuda:0"), ("--kick-device=cuda:0 with --kick-ray", "at auto")),
    "ray-gpus": Case(("--kick-ray=local", "--kick-ray-gpus-per-replica=lots"), ("--kick-ray-gpus-per-replica 'lots'", "a number >= 0")),
    "dtype-unknown": Case(("--kick-dtype=float64",), ("--kick-dtype 'float64'", "valid values are")),
    "gpus-twice": Case(("--kick-gpus=0,0",), ("--kick-gpus", "listed twice")),
    "gpus-bad-form": Case(("--kick-gpus=0;1",), ("--kick-gpus", "comma-separated GPU indices")),
    "gpus-per-worker-zero": Case(("--kick-gpus-per-worker=0",), ("--kick-gpus-per-worker", "positive integer")),
    "gpus-too-few-for-share": Case(("--kick-gpus=0,1", "--kick-gpus-per-worker=3"), ("--kick-gpus-per-worker=3", "only 2 GPU(s)")),
    # evaluation
    "limit-zero": Case(("--kick-limit=0",), ("--kick-limit", "positive integer")),
    "limit-text": Case(("--kick-limit=ten",), ("--kick-limit", "positive integer")),
    "batch-size-negative": Case(("--kick-batch-size=-3",), ("--kick-batch-size", "positive integer or 'auto'")),
    "seed-fraction": Case(("--kick-seed=1.5",), ("--kick-seed", "must be a whole number from 0 to 4294967295")),
    "data-dir-missing": Case(("--kick-data-dir=nowhere",), ("--kick-data-dir nowhere", "no such directory", "one folder per")),
    "scorer-missing": Case(("--kick-toxicity-scorer=nowhere",), ("--kick-toxicity-scorer nowhere", "not a directory", "profanity-check")),
    "scorer-not-a-classifier": Case(("--kick-toxicity-scorer={model}",), ("not a sequence-classification model", "toxic-bert")),
    "scorer-config-not-json": Case(("--kick-toxicity-scorer=scorer-bad-json",), ("scorer-bad-json", "not valid JSON")),
    "cache-dir-unwritable": Case(("--kick-cache-dir=a-file/cache",), ("--kick-cache-dir", "a-file is not a writable directory", "none")),
    "report-is-a-directory": Case(("--kick-report=report-dir",), ("--kick-report report-dir", "is a directory", "kick-report.json")),
    "method-in-a-late-conftest": Case(
        ("--kick-method=fp8",), ("unknown compression method 'fp8'", "conftest.py at the rootdir", "plugin loaded with -p")
    ),
    # --kick-compressed
    "compressed-missing": Case(("--kick-compressed=missing",), ("--kick-compressed missing", "no such file or directory")),
    "compressed-not-gguf": Case(("--kick-compressed=weights.bin",), ("--kick-compressed", "must be GGUF")),
    "compressed-unknown-format": Case(("--kick-compressed=weird-quant",), ("unknown quantization format 'weird'", "compressed-tensors")),
    "compressed-loader-missing": Case(("--kick-compressed=hqq-quant",), ("hqq checkpoint", "pip install hqq")),
    "compressed-truncated-gguf": Case(("--kick-compressed=truncated.gguf",), ("--kick-compressed", "truncated.gguf", "truncated")),
    # the ini file: errors name the key, the file and the option
    "ini-bool": Case(
        (),
        ("kick_trust_remote_code", "--kick-trust-remote-code", "not a truth value", "true or false"),
        ini="kick_trust_remote_code = maybe",
    ),
    "ini-limit": Case((), ("kick_limit = 'zero'", "pytest.ini", "--kick-limit", "positive integer"), ini="kick_limit = zero"),
    "ini-method-empty": Case((), ("kick_method in pytest.ini is empty", "--kick-method=rtn8"), ini="kick_method ="),
    "ini-scorer-missing": Case((), ("kick_toxicity_scorer", "not a directory"), ini="kick_toxicity_scorer = nowhere"),
    # the kick marker
    "marker-typo": Case((), ("unknown keyword 'limt'", "Did you mean limit="), ret=COLLECTION, test=marked("(limt=5)")),
    "marker-positional": Case((), ("takes keywords only",), ret=COLLECTION, test=marked("(5)")),
    "marker-bad-method": Case((), ("methods=...", "unknown compression method 'zzz'"), ret=COLLECTION, test=marked("(methods='zzz')")),
    # gate arguments: the test fails before any model runs
    "tolerance-text": Case(
        (),
        ("max_drop must be a number", "'0.02'"),
        ret=FAILED,
        test=gate("assert_kick_accuracy_within(kick_pair, task='freebaseqa', max_drop='0.02')"),
    ),
    "tolerance-infinite": Case(
        (),
        ("max_drop must be a number", "inf"),
        ret=FAILED,
        test=gate("assert_kick_accuracy_within(kick_pair, task='freebaseqa', max_drop=float('inf'))"),
    ),
    "tolerance-bool": Case(
        (),
        ("tolerance must be a number", "True"),
        ret=FAILED,
        test=gate("assert_no_bias_regression(kick_pair, benchmark='bbq', tolerance=True)"),
    ),
    "hub-dataset-offline": Case(
        (),
        ("mmlu: could not load cais/mmlu", "--kick-data-dir=DIR", "DIR/mmlu/"),
        ret=FAILED,
        test=gate("assert_kick_accuracy_within(kick_pair, task='mmlu', max_drop=0.02, source='hub')"),
        env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    ),
    "task-unknown": Case(
        (),
        ("unknown task 'freebase'", "freebaseqa"),
        ret=FAILED,
        test=gate("assert_kick_accuracy_within(kick_pair, task='freebase', max_drop=0.02)"),
    ),
    # scopes: what a verdict generalizes to
    "scope-unknown": Case(("--kick-scope=everything",), ("--kick-scope must be one of benchmark, items, clusters", "'everything'")),
    "scope-ini-unknown": Case((), ("kick_scope = 'world'", "--kick-scope must be one of"), ini="kick_scope = world"),
    "scope-argument-unknown": Case(
        (),
        ("scope must be one of benchmark, items, clusters", "'population'"),
        ret=FAILED,
        test=gate("assert_no_bias_regression(kick_pair, benchmark='bbq', tolerance=0.1, scope='population')"),
    ),
    # damaged model directories: caught from their headers and JSON at start-up, as --kick-model and --kick-compressed
    "model-truncated-safetensors": Case(
        ("--kick-model=dmg-truncated",), ("--kick-model", "dmg-truncated: model.safetensors", "truncated"), model=False
    ),
    "compressed-truncated-safetensors": Case(
        ("--kick-compressed=dmg-truncated",), ("--kick-compressed", "dmg-truncated: model.safetensors", "truncated")
    ),
    "model-safetensors-header-garbage": Case(
        ("--kick-model=dmg-header-garbage",), ("dmg-header-garbage", "safetensors header is not JSON", "damaged"), model=False
    ),
    "model-config-empty": Case(("--kick-model=dmg-config-empty",), ("dmg-config-empty", "names no model_type"), model=False),
    "model-config-no-type": Case(("--kick-model=dmg-no-model-type",), ("dmg-no-model-type", "names no model_type"), model=False),
    "model-bert-config-over-llama": Case(
        ("--kick-model=dmg-bert-config",),
        ("dmg-bert-config", "vocab_size 30522, hidden_size 768", "the config does not belong to these weights"),
        model=False,
    ),
    "model-widths-mismatch": Case(
        ("--kick-model=dmg-widths",), ("dmg-widths", "hidden_size 4096", "does not belong to these weights"), model=False
    ),
    "compressed-quant-config-string": Case(
        ("--kick-compressed=dmg-quant-string",), ("--kick-compressed", "dmg-quant-string", "quantization_config", "'gptq'")
    ),
    "model-no-tokenizer": Case(("--kick-model=dmg-no-tokenizer",), ("dmg-no-tokenizer", "no tokenizer files"), model=False),
    # output files: checked at start-up with a real probe (root may write nowhere under /proc, whatever os.access says)
    "report-unwritable": Case(
        ("--kick-report=/proc/kick/report.json",), ("--kick-report /proc/kick/report.json", "cannot write there", "/proc")
    ),
    "html-unwritable": Case(("--kick-html=/proc/kick/page.html",), ("--kick-html /proc/kick/page.html", "cannot write there")),
    "cache-under-proc": Case(("--kick-cache-dir=/proc/kick-cache",), ("--kick-cache-dir /proc/kick-cache", "not a writable directory")),
    "marker-methods-not-a-list": Case(
        (), ("@pytest.mark.kick(methods=...)", "a method spec or a list of them", "got 5"), ret=COLLECTION, test=marked("(methods=5)")
    ),
    "model-near-miss-alias": Case(
        ("--kick-model=smollm2-135",), ("--kick-model smollm2-135", "Did you mean the built-in alias 'smollm2-135m'"), model=False
    ),
    "judge-prompt-unknown-placeholder": Case(
        ("--kick-judge=http://judge.example/v1", "--kick-judge-model=m", "--kick-judge-prompt=bad-prompt.jsonl:mine"),
        ("judge prompt 'mine': unknown placeholder 'answr_1'", "known: question"),
    ),
    # the judge: its endpoint, credentials never shown, and its client settings
    "judge-url-scheme": Case(
        ("--kick-judge=htp://judge.example/v1", "--kick-judge-model=m"), ("--kick-judge htp://judge.example/v1", "http:// or https://")
    ),
    "judge-url-credentials": Case(
        ("--kick-judge=http://alice:s3cret@judge.example/v1",),
        ("--kick-judge http://alice:***@judge.example/v1", "--kick-judge-model"),
        absent=("s3cret",),
    ),
    "judge-timeout-zero": Case(("--kick-judge-timeout=0",), ("--kick-judge-timeout '0'", "positive number of seconds")),
    "judge-timeout-text": Case(("--kick-judge-timeout=soon",), ("--kick-judge-timeout 'soon'", "positive number of seconds")),
    "judge-retries-negative": Case(("--kick-judge-retries=-2",), ("--kick-judge-retries", "whole number >= 0")),
    "judge-concurrency-zero": Case(("--kick-judge-concurrency=0",), ("--kick-judge-concurrency '0'", "positive integer")),
    # a damaged model directory, found from its headers and config.json
    "model-config-more-layers": Case(
        ("--kick-model=dmg-more-layers",), ("dmg-more-layers", "the weights hold 2 decoder layers but config.json says 4"), model=False
    ),
    "model-config-other-mlp": Case(
        ("--kick-model=dmg-inner",), ("dmg-inner", "down_proj.weight is 128 x 256 but config.json implies 128 x 512"), model=False
    ),
    "model-config-other-kv-heads": Case(
        ("--kick-model=dmg-kv-heads",), ("dmg-kv-heads", "k_proj.weight is 128 x 128 but config.json implies 64 x 128"), model=False
    ),
    "model-index-missing-shard": Case(
        ("--kick-model=dmg-index",), ("dmg-index", "model.safetensors.index.json puts", "which is missing"), model=False
    ),
    "compressed-extra-tensor": Case(
        ("--kick-compressed=dmg-extra-tensor",),
        ("does not match --kick-model", "'model.layers.0.mlp.extra.weight', which the dense model does not"),
    ),
    "compressed-unrelated-vocabulary": Case(
        ("--kick-compressed=dmg-vocabulary",), ("does not match --kick-model", "first difference at id 10", "--kick-pair-any")
    ),
    # a saved run to compare with: refused at start-up, naming the first bad field
    "saved-missing": Case(("--kick-compare=nope.json",), ("--kick-compare nope.json: cannot read it",)),
    "saved-not-json": Case(("--kick-compare=saved-not-json.json",), ("--kick-compare saved-not-json.json: not JSON",)),
    "saved-not-utf8": Case(("--kick-compare=saved-not-utf8.json",), ("--kick-compare saved-not-utf8.json: not JSON",)),
    "saved-other-schema": Case(("--kick-compare=saved-other.json",), ("saved-other.json: not a pytest-kick saved run",)),
    "saved-old-version": Case(("--kick-compare=saved-old.json",), ("of version 2; this pytest-kick reads version 3", "--kick-save")),
    "saved-no-gates": Case(("--kick-compare=saved-no-gates.json",), ("a saved run needs a name and a list of gates",)),
    "saved-hand-edited": Case(
        ("--kick-compare=saved-hand-edited.json",), ("gates[0] (test_user.py::test_x, freebaseqa) was changed after it was saved",)
    ),
    "saved-correct-text": Case(("--kick-compare=saved-correct-text.json",), ("examples[0].correct: expected bool, got 'no'",)),
    "saved-score-text": Case(
        ("--kick-compare=saved-score-text.json",), ("examples[0].score: expected int or float or NoneType, got '1.0'",)
    ),
    "saved-id-missing": Case(("--kick-compare=saved-id-missing.json",), ("examples[0].id: missing",)),
    "saved-duplicate": Case(("--kick-compare=saved-duplicate.json",), ("example 'a' is saved twice",)),
    "saved-gate-not-object": Case(("--kick-compare=saved-gate-not-object.json",), ("gates[0] is not an object",)),
    "saved-examples-not-list": Case(("--kick-compare=saved-examples-not-list.json",), ("freebaseqa).examples is not a list",)),
    "saved-alpha-text": Case(("--kick-compare=saved-alpha-text.json",), ("freebaseqa).alpha: expected a number, got '0.05'",)),
    "saved-alpha-range": Case(("--kick-compare=saved-alpha-range.json",), ("expected 0 < alpha < 1 and allowed >= 0, got 5",)),
    "saved-test-missing": Case(("--kick-compare=saved-test-missing.json",), ("(None, freebaseqa).test: missing",)),
    "saved-unknown-field": Case(
        ("--kick-compare=saved-unknown-field.json",), ("gates[0] is malformed (SavedGate: unknown field(s) extra)",)
    ),
    "saved-scores-text": Case(("--kick-compare=saved-scores-text.json",), ("examples[0].scores: expected a list of numbers",)),
    "saved-choice-bool": Case(("--kick-compare=saved-choice-bool.json",), ("examples[0].choice: expected int or NoneType, got True",)),
    # numbers the libraries below cannot take, refused before they reach them
    "seed-too-large": Case(("--kick-seed=4294967296",), ("--kick-seed '4294967296'", "from 0 to 4294967295")),
    "seed-negative": Case(("--kick-seed=-1",), ("--kick-seed '-1'", "from 0 to 4294967295")),
    "judge-timeout-huge": Case(("--kick-judge-timeout=1e12",), ("--kick-judge-timeout '1e12'", "up to 1,000,000")),
    "judge-budget-infinite": Case(("--kick-judge-budget=inf",), ("--kick-judge-budget 'inf'", "positive number of seconds")),
    "calib-seqlen-beyond-context": Case(
        ("--kick-method=gptq4", "--kick-calib-seqlen=4096"), ("--kick-calib-seqlen=4096", "the model reads at most 1024 positions")
    ),
    "sequential-one-look": Case(("--kick-sequential=1",), ("--kick-sequential '1'", "a number of looks from 2 to 20")),
    "ray-replicas-zero": Case(("--kick-ray=local", "--kick-ray-replicas=0"), ("--kick-ray-replicas '0'", "positive integer")),
    "ray-cpus-zero": Case(("--kick-ray=local", "--kick-ray-cpus-per-replica=0"), ("--kick-ray-cpus-per-replica '0'", "a number > 0")),
    "save-name-path": Case(("--kick-save=../up",), ("--kick-save '../up'", "a name of letters, digits")),
    # the judge's replies: the gate's test fails with the documented outcome, naming the server (never its password)
    "judge-reply-html": Case(
        ("--kick-judge={judge}", "--kick-judge-model=m", "--kick-judge-retries=0"),
        ("judge m at http://user:***@127.0.0.1", "did not reply with a chat completion", "verdicts came back"),
        ret=FAILED,
        test=JUDGED,
        judge=b"<html><body>Gateway login</body></html>",
        absent=("user:pw@",),
        caches=True,
    ),
    "judge-reply-no-choices": Case(
        ("--kick-judge={judge}", "--kick-judge-model=m", "--kick-judge-retries=0"),
        ("did not reply with a chat completion",),
        ret=FAILED,
        test=JUDGED,
        judge=b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}',
        caches=True,
    ),
    "judge-reply-out-of-range": Case(
        ("--kick-judge={judge}", "--kick-judge-model=m"),
        ("could be scored (2 unscored)", "nothing was shown"),
        ret=FAILED,
        test=JUDGED,
        judge=chat("1000000 2"),
        caches=True,
    ),
    "judge-reply-negative": Case(
        ("--kick-judge={judge}", "--kick-judge-model=m"),
        ("could be scored (2 unscored)",),
        ret=FAILED,
        test=JUDGED,
        judge=chat("-4 -9"),
        caches=True,
    ),
    "judge-hangs": Case(
        ("--kick-judge={judge}", "--kick-judge-model=m", "--kick-judge-timeout=1", "--kick-judge-retries=0"),
        ("failed: APITimeoutError", "the queued requests were cancelled"),
        ret=FAILED,
        test=JUDGED,
        judge=chat("7 5"),
        delay=20.0,
        caches=True,
    ),
    "judge-over-budget": Case(
        ("--kick-judge={judge}", "--kick-judge-model=m", "--kick-judge-budget=0.3", "--kick-judge-concurrency=1"),
        ("judge budget of 0.3 s is spent (--kick-judge-budget)",),
        ret=FAILED,
        test=JUDGED,
        judge=chat("7 5"),
        delay=0.5,
        caches=True,
    ),
    "judge-unreachable": Case(
        ("--kick-judge=http://127.0.0.1:9/v1", "--kick-judge-model=m", "--kick-judge-retries=0", "--kick-judge-timeout=5"),
        ("judge m at http://127.0.0.1:9/v1 failed: APIConnectionError",),
        ret=FAILED,
        test=JUDGED,
        caches=True,
    ),
    # a model the first test cannot fetch: one message per test, not the error twice chained
    "model-hub-offline": Case(
        ("--kick-model=someorg/somemodel",),
        ("--kick-model someorg/somemodel: could not fetch it from the Hugging Face hub", "pass a local model directory"),
        ret=FAILED,
        model=False,
        env={"HF_HUB_OFFLINE": "1"},
    ),
    # benchmark files: a bad record or byte names the file, the line and the field; the test fails before any model runs
    "data-bbq-label-text": Case(
        ("--kick-data-dir=data",),
        ("Age.jsonl:1: field 'label' must be an integer 0-2, got str '2'",),
        ret=FAILED,
        test=gate("assert_no_bias_regression(kick_pair, benchmark='bbq', tolerance=0.1, source='dir')"),
    ),
    "data-crows-direction": Case(
        ("--kick-data-dir=data",),
        ("crows_pairs_anonymized.csv:2: field 'stereo_antistereo' must be stereo or antistereo",),
        ret=FAILED,
        test=gate("assert_no_bias_regression(kick_pair, benchmark='crows_pairs', tolerance=0.1, source='dir')"),
    ),
    "data-truthfulqa-label-bool": Case(
        ("--kick-data-dir=data",),
        ("mc_task.json: question 0: field 'mc1_targets' must map each answer to 0 or 1, got bool True",),
        ret=FAILED,
        test=gate("assert_kick_accuracy_within(kick_pair, task='truthfulqa', max_drop=0.1, source='dir')"),
    ),
    "data-rtp-toxicity-text": Case(
        ("--kick-data-dir=data",),
        ("p.jsonl:1: field 'prompt.toxicity' must be a number, got str '0.9'",),
        ret=FAILED,
        test=gate("assert_no_toxicity_regression(kick_pair, 'realtoxicityprompts', tolerance=0.1, prompts='toxic', source='dir')"),
    ),
    "data-freebaseqa-not-utf8": Case(
        ("--kick-data-dir=data",),
        ("FreebaseQA-eval.json:1: not UTF-8 text (byte 0xe9); save the file as UTF-8",),
        ret=FAILED,
        test=gate("assert_kick_accuracy_within(kick_pair, task='freebaseqa', max_drop=0.1, source='dir')"),
    ),
    "data-ifeval-count-text": Case(
        ("--kick-data-dir=data",),
        ("input_data.jsonl:1: field 'kwargs[0].num_words' must be an integer, got str '300'",),
        ret=FAILED,
        test=gate("assert_generation_quality_within(kick_pair, 'ifeval', max_drop=0.1, source='dir')"),
    ),
}


def _config(folder: Path, **changes) -> None:
    import json

    data = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**data, **changes} if changes else {}))


def _truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _extra_tensor(folder: Path) -> None:
    import numpy as np
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    save_file({**tensors, "model.layers.0.mlp.extra.weight": np.zeros((4, 4), np.float32)}, str(folder / "model.safetensors"))


def _index(folder: Path) -> None:
    import json

    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}}))


def _vocabulary(folder: Path) -> None:
    import json

    tok = json.loads((folder / "tokenizer.json").read_text())
    word = next(t for t, i in tok["model"]["vocab"].items() if i == 10)
    tok["model"]["vocab"]["zzz-not-a-token"] = tok["model"]["vocab"].pop(word)
    (folder / "tokenizer.json").write_text(json.dumps(tok))


DAMAGED = {  # copies of the tiny random model, each damaged one way (made only for the cases that name them)
    "dmg-truncated": _truncate,
    "dmg-config-empty": lambda f: _config(f),
    "dmg-no-model-type": lambda f: _config(f, model_type=None),
    "dmg-bert-config": lambda f: _config(f, model_type="bert", vocab_size=30522, hidden_size=768),
    "dmg-widths": lambda f: _config(f, hidden_size=4096),
    "dmg-quant-string": lambda f: _config(f, quantization_config="gptq"),
    "dmg-no-tokenizer": lambda f: [p.unlink() for p in f.iterdir() if p.name.startswith(("tokenizer", "special_tokens"))],
    "dmg-more-layers": lambda f: _config(f, num_hidden_layers=4),
    "dmg-inner": lambda f: _config(f, intermediate_size=512),
    "dmg-kv-heads": lambda f: _config(f, num_key_value_heads=2),
    "dmg-index": _index,
    "dmg-extra-tensor": _extra_tensor,
    "dmg-vocabulary": _vocabulary,
    "dmg-header-garbage": lambda f: (f / "model.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{not json at all"),
}


def _setup(pytester: pytest.Pytester, model_dir: Path, args: tuple[str, ...] = ()) -> None:
    import shutil

    for name, content in FILES.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for name, damage in DAMAGED.items():
        if any(name in a for a in args):
            shutil.copytree(model_dir, pytester.path / name)
            damage(pytester.path / name)


SLOW = {"hub-dataset-offline"}  # imports datasets and asks the (unreachable) hub: seconds, not milliseconds


@pytest.mark.parametrize("case", [pytest.param(c, id=k, marks=[pytest.mark.slow] if k in SLOW else []) for k, c in CASES.items()])
def test_bad_input_is_caught_with_a_clear_message(case: Case, pytester: pytest.Pytester, monkeypatch, random_model_dir, request):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)  # this suite may run under xdist: the run under test does not
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    _setup(pytester, random_model_dir, case.args)
    pytester.makepyfile(test_user=case.test)
    if case.ini:
        (pytester.path / "pytest.ini").write_text(f"[pytest]\n{case.ini}\n")
    cache = pytester.path / "kick-cache"
    args = [a.replace("{model}", str(random_model_dir)) for a in case.args]
    if case.judge is not None:
        server = JudgeStub(case.judge, case.delay)
        request.addfinalizer(server.close)
        args = [a.replace("{judge}", server.url) for a in args]
    if case.model:
        args.append(f"--kick-model={random_model_dir}")
    if not any(a.startswith("--kick-cache-dir") for a in args):
        args.append(f"--kick-cache-dir={cache}")
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    out = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == case.ret, out
    for needle in case.needles:
        assert needle in out, f"{needle!r} not in:\n{out}"
    for secret in case.absent:
        assert secret not in out, f"{secret!r} shown in:\n{out}"
    assert "Traceback" not in out and "site-packages" not in out and "pytest_kick/" not in out, out
    assert "During handling of the above exception" not in out and "direct cause of the following" not in out, out
    if case.caches:
        return  # the model's answers were computed and kept before the failure (correct answers, reused next run)
    cached = [p for p in cache.rglob("*") if p.is_file() and p.parts[len(cache.parts)] != "hashes"] if cache.exists() else []
    assert cached == [], "the failed run cached something"
    if case.ret == USAGE:
        assert not cache.exists(), "a run stopped at start-up must not create the cache"


def test_an_unwritable_default_cache_stops_only_runs_that_use_pytest_kick(pytester, monkeypatch):
    """The default cache folder is checked once a test uses a kick fixture: a session without kick tests (the rest
    of a team's suite, on a machine whose home is read-only) is not stopped by it."""
    pytester.path.joinpath("a-file").write_text("not a folder")
    monkeypatch.delenv("PYTEST_KICK_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(pytester.path / "a-file"))
    pytester.makepyfile(test_plain="def test_plain(): pass\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.makepyfile(test_user=GATE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines(["ERROR: --kick-cache-dir *a-file/pytest-kick: *a-file is not a writable directory*"])
