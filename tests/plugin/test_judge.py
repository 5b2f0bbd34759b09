"""--kick-judge against a real OpenAI-compatible server: `transformers serve` (transformers[serving]) serving a tiny
local model on a free port. The summarization gate runs end to end, the tiny model's verdicts are counted as
unparseable (never scored), a second session is answered from the verdict cache with the server stopped, and the
API key appears nowhere: not in output, the server's log, the report, JUnit XML or the cache."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
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


@contextmanager
def served(model_dir: Path, tmp_path: Path):
    """`transformers serve` with a copy of `model_dir` (a chat template added), its log in a file; yields (url,
    model, log, server process)."""
    pytest.importorskip("fastapi", reason="the judge test needs transformers[serving] (pip install 'transformers[serving]')")
    model = tmp_path / "judge-model"
    shutil.copytree(model_dir, model)
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


@pytest.fixture
def judge_server(random_model_dir, tmp_path):
    """A tiny untrained model served: it writes no verdict, and writes until its token limit."""
    with served(random_model_dir, tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
def verdict_model_dir(tmp_path_factory):
    """A tiny Llama trained to answer every pairwise judge prompt (through the chat template) with '9 6' and stop:
    a judge with a strong first-position bias and no other opinion, small enough to serve on CPU in a test."""
    from pytest_kick.gates.judges import JudgePrompt
    from pytest_kick.testing import made_up_facts, train_replies

    prompt, words = JudgePrompt.load("pairwise-scores"), [q for q, _ in made_up_facts(60, seed=5)]
    texts = []
    for i in range(24):
        question, first, second = words[i], words[i + 24], words[(i + 7) % 60] * (1 + i % 3)
        chat = f"system: {prompt.system}\nuser: {prompt.render(question, first, second)}\nassistant:"
        texts.append((chat, " 9 6</s>"))
    path = tmp_path_factory.mktemp("verdict-llama")
    assert train_replies(path, texts, steps=80) == 1.0
    return path


@pytest.fixture
def verdict_server(verdict_model_dir, tmp_path):
    with served(verdict_model_dir, tmp_path) as server:
        yield server


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


HEAD_TO_HEAD = """
from pytest_kick import assert_generation_quality_within


def test_instructions(kick_pair, kick_judge_head_to_head):
    r = assert_generation_quality_within(
        kick_pair, "instruction_following", scorer=kick_judge_head_to_head, judge_prompt="pairwise-scores",
        max_drop=0.5, max_new_tokens=8, source="builtin",
    )
    print("JUDGED", r.outcome, r.n, r.unscored, r.dense_mean, r.compressed_mean)
"""


def test_head_to_head_instructions_judged_by_a_served_model_on_cpu_within_the_budget(pytester, kick_args, verdict_server):
    """The built-in instructions have no reference answers: judged head to head against the dense answers, with
    the judge's options from the command line (a prompt per gate over the session's), every example is scored
    and the gate decides. The judge's first-position bias (it always says '9 6') cancels over both orders."""
    url, model, log, _ = verdict_server
    pytester.makepyfile(test_instructions=HEAD_TO_HEAD)
    judge = [f"--kick-judge={url}", f"--kick-judge-model={model}", "--kick-judge-prompt=summary-scores"]
    judge += ["--kick-judge-timeout=60", "--kick-judge-retries=1", "--kick-judge-concurrency=2", "--kick-judge-max-tokens=8"]
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8", *judge, "--kick-judge-budget=240", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*JUDGED within 8 0 7.5 7.5"])
    assert 16 <= requests_served(log) <= 32  # 8 instructions x both orders, once per distinct pair of answers


def test_a_stopped_run_leaves_no_request_running(pytester, kick_args, judge_server, tmp_path):
    """Ctrl-C while the judge writes (an untrained model writes to its limit: 1,000 tokens, about 40 s a request
    on CPU): the run stops, its open requests are closed, and the server goes idle within seconds instead of
    generating on for a run that no longer waits."""
    url, model, log, server = judge_server
    pytester.makepyfile(test_instructions=HEAD_TO_HEAD)
    judge = [f"--kick-judge={url}", f"--kick-judge-model={model}", "--kick-judge-concurrency=2", "--kick-judge-max-tokens=1000"]
    run = pytester.popen([sys.executable, "-m", "pytest", *kick_args, "--kick-method=rtn8", *judge, "-p", "no:cacheprovider"])
    deadline = time.monotonic() + 120
    while requests_started(log) < 2:  # both judge requests are being written
        assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)
    assert run.wait(60) != 0
    stopped = time.monotonic()
    while busy(server.pid) > 0.1:  # CPU seconds the server used in the last second
        assert time.monotonic() - stopped < 12, "the server went on generating for a stopped run"
    assert requests_started(log) == 2  # the queued requests were never sent


def requests_started(log: Path) -> int:
    return log.read_text().count("POST /v1/chat/completions")


def busy(pid: int, window: float = 1.0) -> float:
    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu()
    time.sleep(window)
    return cpu() - before
