"""--kick-judge against a real OpenAI-compatible server: `transformers serve` (transformers[serving]) serving a tiny
local model on a free port. The summarization gate runs end to end, the tiny model's verdicts are counted as
unparseable (never scored), a second session is answered from the verdict cache with the server stopped, and the
API key appears nowhere: not in output, the server's log, the report, JUnit XML or the cache."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts a server and runs real (tiny) models

SECRET = "sk-test-SECRET-4f2a9c"
GATE = """
from pytest_kick import assert_generation_quality_within


def test_summaries(kick_pair, kick_judge):
    assert_generation_quality_within(
        kick_pair, "summarization", scorer=kick_judge, max_drop=1.0, max_new_tokens=12, limit=2, source="builtin"
    )
"""
TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def judge_server(random_model_dir, tmp_path):
    """`transformers serve` with a tiny model (a chat template added), its log in a file; yields (url, model, log)."""
    pytest.importorskip("fastapi", reason="the judge test needs transformers[serving] (pip install 'transformers[serving]')")
    model = tmp_path / "judge-model"
    shutil.copytree(random_model_dir, model)
    cfg = model / "tokenizer_config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "chat_template": TEMPLATE}))
    port, log = free_port(), tmp_path / "server.log"
    exe = Path(sys.executable).parent / "transformers"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(exe), "serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "info"],
            stdout=out, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"transformers serve did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", str(model), log, server
    finally:
        server.terminate()
        server.wait(30)


def requests_served(log: Path) -> int:
    return log.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')


def test_a_summarization_gate_judged_by_a_served_model(pytester, kick_args, judge_server, monkeypatch, tmp_path):
    url, model, log, server = judge_server
    monkeypatch.setenv("KICK_JUDGE_KEY", SECRET)
    pytester.makepyfile(test_judged_summaries=GATE)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    args = [*kick_args, "--kick-method=rtn8", f"--kick-judge={url}", f"--kick-judge-model={model}", "--kick-judge-key-env=KICK_JUDGE_KEY"]
    first = pytester.runpytest(*args, f"--kick-report={report}", f"--junitxml={junit}")
    first.assert_outcomes(failed=1)  # a tiny random model cannot write a verdict: nothing was shown
    first.stdout.fnmatch_lines(["*no example of 'summarization' scored by judge:*could be scored (2 unscored)*"])
    served = requests_served(log)
    # 2 stories x both answer orders x each model's summary; where rtn8's summary equals the dense one, its judge
    # prompt is the same and is answered from the verdict cache within the run
    assert 4 <= served <= 8
    server.terminate()  # the second session must not need the judge at all
    server.wait(30)
    second = pytester.runpytest(*args)
    second.assert_outcomes(failed=1)
    second.stdout.fnmatch_lines(["*could be scored (2 unscored)*"])
    assert requests_served(log) == served
    cache = Path(next(a for a in kick_args if a.startswith("--kick-cache-dir")).split("=", 1)[1])
    places = [first.stdout.str(), first.stderr.str(), second.stdout.str(), log.read_text(), report.read_text(), junit.read_text()]
    places += [p.read_text(errors="replace") for p in cache.rglob("*") if p.is_file() and p.suffix == ".json"]
    assert not any(SECRET in text for text in places)
