"""A judge behind an OpenAI-compatible chat endpoint (vLLM, TGI, llama.cpp, `transformers serve`, a hosted API),
through the official `openai` client: `concurrency` requests at once, the client's retries, a rate limit, a timeout
per request and a budget for the run, its key read from an environment variable and never shown.

Replies are streamed, so a run that stops (a failed request, a spent budget, Ctrl-C) closes its open requests and
the server stops generating for a run that no longer waits (`transformers serve`, vLLM and TGI abort a streamed
generation whose client went away; a server that ignores `stream` and answers in one piece cannot be stopped so).
Each verdict is handed back as it arrives, so the caller can cache it at once: a run that stops keeps what came."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ..contract import GenerationRequest
from ..errors import KickError, MissingBackend


class JudgeError(KickError):
    """A judge could not be reached or kept failing after its retries (what came back before is cached)."""


class _Stopped(Exception):
    """The run stopped waiting: this request's stream was closed before its end."""


class _RateLimit:
    """At most `per_second` request starts per second across threads (None: no limit)."""

    def __init__(self, per_second: float | None) -> None:
        self.gap = 1.0 / per_second if per_second else 0.0
        self.lock = threading.Lock()
        self.next = 0.0

    def wait(self) -> None:
        if not self.gap:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.gap
        time.sleep(max(0.0, start - now))


@dataclass
class EndpointRunner:
    """The Runner contract's `generate` over an OpenAI-compatible chat endpoint (greedy: temperature 0)."""

    base_url: str
    model: str
    key_env: str = "OPENAI_API_KEY"
    system: str = ""
    concurrency: int = 4
    retries: int = 3
    rate_limit: float | None = None
    timeout: float = 120.0  # seconds for one request, from its start to its last token
    budget: float | None = None  # seconds for all of this judge's requests in the run (None: no limit)
    reports_each = True  # `generate(requests, on_result)` hands each reply back as it arrives
    _client: Any = field(default=None, repr=False)
    _started: float | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"judge {self.model} at {public_url(self.base_url)}"

    def _make_client(self):
        try:
            from openai import OpenAI
        except ImportError:
            raise MissingBackend("a judge endpoint needs the openai client: pip install 'pytest-kick[generation]'") from None
        key = os.environ.get(self.key_env) or "no-key"  # local servers take any key; the value is never logged
        return OpenAI(base_url=self.base_url, api_key=key, max_retries=self.retries, timeout=self.timeout)

    def generate(self, requests: Sequence[GenerationRequest], on_result: Callable[[int, str], None] | None = None) -> list[str]:
        if self._client is None:
            self._client = self._make_client()
        limit, stop = _RateLimit(self.rate_limit), threading.Event()
        self._started = self._started if self._started is not None else time.monotonic()

        def one(req: GenerationRequest) -> str:
            limit.wait()
            if stop.is_set():
                raise _Stopped
            if self.budget is not None and time.monotonic() - self._started > self.budget:
                raise JudgeError(f"{self.where}: the run's judge budget of {self.budget:g} s is spent (--kick-judge-budget)")
            messages = ([{"role": "system", "content": self.system}] if self.system else []) + [{"role": "user", "content": req.context}]
            try:
                return self._ask(messages, req.max_new_tokens, stop)
            except (JudgeError, _Stopped):
                raise
            except Exception as exc:  # after the client's own retries: say which judge, never the key
                raise JudgeError(f"{self.where} failed: {type(exc).__name__}: {_redact(str(exc), self.key_env, self.base_url)}") from None

        return _all_or_cancel(one, requests, self.concurrency, stop, on_result)

    def _ask(self, messages: list[dict], max_tokens: int, stop: threading.Event) -> str:
        """One chat completion, streamed; the stream is closed when the run stops or the request's time is up."""
        started = time.monotonic()
        raw = self._client.chat.completions.with_raw_response.create(
            model=self.model, messages=messages, temperature=0.0, max_tokens=max_tokens, stream=True
        )
        kind = raw.headers.get("content-type", "")
        if "text/event-stream" not in kind:  # answered in one piece (a server without streaming, or no chat API)
            return self._whole(raw.http_response.read(), kind)
        stream, parts = raw.parse(), []
        try:
            for chunk in stream:
                if stop.is_set():
                    raise _Stopped
                if time.monotonic() - started > self.timeout:
                    raise JudgeError(f"{self.where}: no whole verdict within {self.timeout:g} s (--kick-judge-timeout)")
                for choice in getattr(chunk, "choices", None) or ():
                    text = getattr(getattr(choice, "delta", None), "content", None)
                    parts.append(text if isinstance(text, str) else "")
        finally:
            stream.close()  # a stream left early: the server sees its client go and stops generating
        return "".join(parts)

    def _whole(self, body: bytes, kind: str) -> str:
        try:
            content = _content(json.loads(body))
        except ValueError:
            content = None
        if content is None:
            shown = _redact(body[:120].decode("utf-8", "replace"), self.key_env, self.base_url)
            raise JudgeError(f"{self.where} did not reply with a chat completion (got {kind or 'no content type'}: {shown!r})")
        return content

    def loglikelihood(self, requests):  # pragma: no cover - a judge only generates
        raise JudgeError("a judge endpoint only generates text")

    loglikelihood_rolling = distribution = loglikelihood


def _content(reply: Any) -> str | None:
    """The text of a chat completion's first choice (as JSON); None when the reply is not one (no choices)."""
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _all_or_cancel(one, requests: Sequence, concurrency: int, stop: threading.Event, on_result=None) -> list[str]:
    """Every request's reply, `concurrency` at a time, each handed to `on_result(index, reply)` (in this thread) as
    it arrives. At the first failure, or when the run stops (Ctrl-C), the queued requests are cancelled and the open
    ones closed at their next token (the server is not left working for a run that has stopped), and the error
    says how many verdicts came back."""
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="kick-judge")
    futures = {pool.submit(one, r): i for i, r in enumerate(requests)}
    out: list = [None] * len(requests)
    pending, came = set(futures), 0
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            failure = None
            for f in sorted(finished, key=futures.__getitem__):
                if f.exception() is not None:  # kept until the replies that came with it are handed back
                    failure = failure or f.exception()
                    continue
                out[futures[f]] = f.result()
                came += 1
                if on_result is not None:
                    on_result(futures[f], out[futures[f]])
            if failure is not None:
                raise failure
        return out
    except JudgeError as exc:
        raise JudgeError(f"{exc} ({came} of {len(futures)} verdicts came back; the queued requests were cancelled)") from None
    finally:
        stop.set()
        for f in pending:
            f.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def public_url(url: str) -> str:
    """The URL as it may be shown: a password in it (http://user:pass@host) replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unreadable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _redact(text: str, key_env: str, url: str = "") -> str:
    key = os.environ.get(key_env)
    text = text.replace(key, "***") if key else text
    return text.replace(url, public_url(url)) if url and public_url(url) != url else text
