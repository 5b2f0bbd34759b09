"""The judge endpoint's client against real HTTP servers on localhost (tests/judge_stub.py): replies in one piece or
streamed, failures named without secrets, a timeout and a budget that stop the run, and a stopped run that closes
its open requests (the server stops generating) and keeps every verdict that came back."""

import json
import os
import signal
import threading
import time

import pytest
from judge_stub import JudgeStub

from pytest_kick.contract import GenerationRequest, RunnerFactory
from pytest_kick.gates.endpoint import EndpointRunner, JudgeError, _RateLimit
from pytest_kick.runners.cache import CachedRunner, ResultCache


def test_the_rate_limit_spaces_request_starts():
    import time

    limit = _RateLimit(20.0)
    started = time.monotonic()
    for _ in range(5):
        limit.wait()
    assert time.monotonic() - started >= 4 / 20 - 0.01


def test_credentials_in_a_judge_url_are_never_shown():
    from pytest_kick.gates.endpoint import public_url

    assert public_url("http://alice:s3cret@judge.example:8000/v1") == "http://alice:***@judge.example:8000/v1"
    assert public_url("https://judge.example/v1") == "https://judge.example/v1"


def _ask(url: str, n: int, **kw):
    pytest.importorskip("openai")
    from pytest_kick.contract import GenerationRequest
    from pytest_kick.gates.endpoint import EndpointRunner

    runner = EndpointRunner(url, "judge-model", **kw)
    return runner.generate([GenerationRequest(f"q{i}", (), 8) for i in range(n)])


def test_a_judge_replying_with_html_is_a_clear_error_naming_the_server_without_its_password():
    from pytest_kick.gates.endpoint import JudgeError

    stub = JudgeStub(b"<html><body>Gateway login</body></html>")
    try:
        with pytest.raises(JudgeError) as err:
            _ask(stub.url, 3, retries=0, timeout=5.0, concurrency=1)
    finally:
        stub.close()
    message = str(err.value)
    assert "judge judge-model at http://user:***@127.0.0.1" in message and "pw@" not in message
    assert "did not reply with a chat completion" in message or "failed" in message
    assert "verdicts came back; the queued requests were cancelled" in message


def test_a_judge_that_never_answers_stops_within_its_timeout_and_cancels_the_queue():
    import time

    from pytest_kick.gates.endpoint import JudgeError

    stub = JudgeStub(b"{}", delay=30.0)
    start = time.perf_counter()
    try:
        with pytest.raises(JudgeError, match="failed: APITimeoutError"):
            _ask(stub.url, 8, retries=0, timeout=1.0, concurrency=2)
    finally:
        stub.close()
    assert time.perf_counter() - start < 10 and stub.hits <= 4  # not 8 requests x 30 s: the queue was cancelled


def test_a_judge_over_its_run_budget_stops_and_says_how_many_verdicts_came_back():
    """Each request takes 0.4 s; a budget of 0.5 s for the run lets the first ones through, then the rest are
    cancelled with the budget named."""
    import json
    import time

    from pytest_kick.gates.endpoint import JudgeError

    choice = {"index": 0, "message": {"role": "assistant", "content": "7 5"}, "finish_reason": "stop"}
    reply = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}).encode()
    stub = JudgeStub(reply, delay=0.4)
    start = time.perf_counter()
    try:
        with pytest.raises(JudgeError, match=r"budget of 0.5 s is spent .*\((\d+) of 10 verdicts came back"):
            _ask(stub.url, 10, retries=0, timeout=5.0, concurrency=1, budget=0.5)
    finally:
        stub.close()
    assert time.perf_counter() - start < 4 and 1 <= stub.hits < 10


def test_a_streamed_reply_is_read_token_by_token_and_the_stream_read_to_its_end():
    stub = JudgeStub(tokens=["7", " ", "5", "\nbecause"])
    try:
        assert _ask(stub.url, 3, retries=0, concurrency=2) == ["7 5\nbecause"] * 3
    finally:
        stub.close()
    assert stub.finished == 3 and stub.abandoned == 0


def test_a_request_over_its_timeout_closes_its_stream_so_the_server_stops_generating():
    """A verdict streamed slower than --kick-judge-timeout allows: the request fails at its timeout and its stream
    is closed (the server sees its client go), not read for the minutes the server would go on generating."""
    stub = JudgeStub(tokens=["x"] * 200, token_delay=0.05)  # 10 s of tokens
    start = time.perf_counter()
    try:
        with pytest.raises(JudgeError, match=r"no whole verdict within 1 s \(--kick-judge-timeout\)"):
            _ask(stub.url, 4, retries=0, timeout=1.0, concurrency=2)
        assert _until(lambda: stub.abandoned == stub.hits)
    finally:
        stub.close()
    assert time.perf_counter() - start < 6 and stub.finished == 0 and stub.hits <= 4


def test_a_stopped_run_leaves_no_request_running_and_keeps_what_came_back(tmp_path):
    """Ctrl-C while verdicts stream in: the queued requests are never sent, the open streams are closed at their
    next token, and the verdicts that had come back are in the cache (a rerun asks only for the rest)."""
    fast, slow = JudgeStub(tokens=["8 6"]), JudgeStub(tokens=["x"] * 400, token_delay=0.05)
    prompts = [GenerationRequest(f"q{i}", (), 8) for i in range(6)]
    cache = ResultCache(tmp_path)
    try:
        first = CachedRunner(RunnerFactory("judge", lambda: EndpointRunner(fast.url, "m", retries=0), "fp"), cache)
        assert first.generate(prompts[:2]) == ["8 6", "8 6"]
        runner = CachedRunner(RunnerFactory("judge", lambda: EndpointRunner(slow.url, "m", concurrency=2, retries=0), "fp"), cache)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()  # Ctrl-C
        with pytest.raises(KeyboardInterrupt):
            runner.generate(prompts)
        assert _until(lambda: slow.abandoned == 2), (slow.hits, slow.abandoned, slow.finished)
    finally:
        fast.close()
        slow.close()
    assert slow.hits == 2 and slow.finished == 0  # two open streams closed; the two still queued never sent
    assert runner.stats.hits == 2  # the verdicts that came back before were cached, each as it arrived


def test_each_verdict_is_cached_as_it_arrives_so_a_spent_budget_loses_nothing(tmp_path):
    choice = {"index": 0, "message": {"role": "assistant", "content": "7 5"}, "finish_reason": "stop"}
    reply = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}).encode()
    stub = JudgeStub(reply, delay=0.3)
    prompts = [GenerationRequest(f"q{i}", (), 8) for i in range(8)]
    try:
        runner = CachedRunner(
            RunnerFactory("judge", lambda: EndpointRunner(stub.url, "m", concurrency=1, retries=0, budget=0.5), "fp"), ResultCache(tmp_path)
        )
        with pytest.raises(JudgeError, match=r"\((\d) of 8 verdicts came back"):
            runner.generate(prompts)
        sent = stub.hits
        again = CachedRunner(RunnerFactory("judge", lambda: EndpointRunner(stub.url, "m", retries=0), "fp"), ResultCache(tmp_path))
        assert again.generate(prompts) == ["7 5"] * 8
    finally:
        stub.close()
    assert again.stats.hits == sent >= 1 and stub.hits == 8  # each verdict asked for once over both runs


def _until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()
