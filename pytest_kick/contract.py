"""The evaluation contract: the four kinds of request a task may make of a model, their results, the `Runner`
that answers them, the `RunnerFactory` that makes one on demand, and the JSON payload each result is cached as.

Nothing here runs a model; the engine, the result cache and `pytest_kick.testing.FakeRunner` all speak it."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context); continuation tokens are those of context+continuation past the context."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float
    is_greedy: bool  # every continuation token was the argmax
    n_tokens: int = 0  # continuation tokens scored (for per-token normalisation)


@dataclass(frozen=True)
class RollingRequest:
    """log P(text) token by token, in windows of at most `window` input tokens that advance by `stride` scored
    tokens (stride <= window - 1); after the first window every token keeps at least `window - stride - 1` tokens
    of context. The first token is scored after BOS. stride = window - 1 gives disjoint windows."""

    text: str
    window: int = 1024
    stride: int = 512


@dataclass(frozen=True)
class RollingResult:
    """Per window: (sum of log-probabilities, tokens scored). Windows let a caller resample parts of a text."""

    windows: tuple[tuple[float, int], ...]

    @property
    def logprob(self) -> float:
        return sum(w[0] for w in self.windows)

    @property
    def n_tokens(self) -> int:
        return sum(w[1] for w in self.windows)


@dataclass(frozen=True)
class GenerationRequest:
    """A continuation of `context`, cut at the first stop string, `min_new_tokens` to `max_new_tokens` tokens.

    `sample=-1` decodes greedily. `sample=i >= 0` asks for the i-th of a seeded set of nucleus samples
    (`top_p`, `temperature`): all samples of one context are drawn together from a generator seeded by (`seed`,
    context), so a sample never depends on which other prompts share its batch."""

    context: str
    stop: tuple[str, ...] = ("\n",)
    max_new_tokens: int = 32
    min_new_tokens: int = 0
    sample: int = -1
    top_p: float = 1.0
    temperature: float = 1.0
    seed: int = 0

    @property
    def sampled(self) -> bool:
        return self.sample >= 0


@dataclass(frozen=True)
class DistributionRequest:
    """What the model believes, not only what it picks (for fidelity metrics: KL, top-k agreement, flips).

    Each of `continuations` is scored after `context`: a task's answer choices (the distribution over them is a
    softmax of their log-probabilities away) or one free text. With `top_k > 0` the result also holds, at every
    scored position of every continuation, the `top_k` most likely next tokens and the mass outside them."""

    context: str
    continuations: tuple[str, ...]
    top_k: int = 0


@dataclass(frozen=True)
class TopK:
    """One scored position: the most likely next tokens (log-probabilities, descending), the log of the
    probability of every other token together (`rest`, -inf when nothing is left), and the token that was there."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    rest: float
    target: int
    target_logprob: float


@dataclass(frozen=True)
class DistributionResult:
    """Per continuation: its log-probability and token count; with top_k, its positions' `TopK`s."""

    logprobs: tuple[float, ...]
    n_tokens: tuple[int, ...]
    positions: tuple[tuple[TopK, ...], ...] = ()

    def choice_logprobs(self) -> tuple[float, ...]:
        """log P(choice | one of the choices): the log-softmax of the continuations' log-probabilities."""
        return log_softmax(self.logprobs)


def log_softmax(values: Sequence[float]) -> tuple[float, ...]:
    """log of the normalised distribution exp(values) / sum(exp(values)), computed stably."""
    if not values:
        return ()
    top = max(values)
    norm = top + math.log(math.fsum(math.exp(v - top) for v in values))
    return tuple(v - norm for v in values)


class Runner(Protocol):
    """What a task may ask of a model: the `Engine`, the result cache in front of it, or a `FakeRunner`.
    A runner answers a batch of requests of one kind with one result per request, in order."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]: ...

    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]: ...

    def distribution(self, requests: Sequence[DistributionRequest]) -> list[DistributionResult]: ...


def plain_chat(messages: Sequence[dict]) -> str:
    """Chat messages as plain text, for a model without a chat template: 'User: ...\nAssistant: ...', ending with
    'Assistant:' for the reply to come."""
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    lines = [f"{names.get(m['role'], m['role'].title())}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nAssistant:"


def chat_prompt(runner: Any, messages: Sequence[dict]) -> str:
    """The prompt a runner's model expects for `messages` (its chat template), or `plain_chat` without one."""
    render = getattr(runner, "chat_prompt", None)
    return render(messages) if callable(render) else plain_chat(messages)


@dataclass
class RunnerFactory:
    """How to get one model's runner, and what identifies its answers.

    `make()` is called at most once, on the first request the result cache cannot answer, so a fully cached run
    never loads the model. `fingerprint` keys the cache: it must change whenever an answer could (weights, dtype,
    engine); None means the answers are never cached (a scripted runner)."""

    name: str
    make: Callable[[], Runner]
    fingerprint: str | None = None
    chat: Callable[[Sequence[dict]], str] | None = None  # renders chat messages with the model's template (tokenizer only)

    @classmethod
    def of(cls, runner: Runner, name: str | None = None) -> RunnerFactory:
        """A factory for a runner that already exists (never cached: it has no fingerprint)."""
        return cls(name or type(runner).__name__, lambda: runner)


# ---- cache payloads: JSON objects, strictly checked on the way back (a bad shape raises, and counts as a miss) ---
def _floats(values: Sequence[float]) -> str:
    """float64 values, little-endian, base64: exact for any runner's floats, ~11 characters each."""
    return base64.b64encode(struct.pack(f"<{len(values)}d", *values)).decode()


def _unfloats(text: str) -> tuple[float, ...]:
    raw = base64.b64decode(text, validate=True)
    return struct.unpack(f"<{len(raw) // 8}d", raw) if len(raw) % 8 == 0 else _bad("float array")


def _ints(values: Sequence[int]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}i", *values)).decode()


def _unints(text: str) -> tuple[int, ...]:
    raw = base64.b64decode(text, validate=True)
    return struct.unpack(f"<{len(raw) // 4}i", raw) if len(raw) % 4 == 0 else _bad("int array")


def _bad(what: str):
    raise ValueError(f"cached payload: malformed {what}")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _bad("number")
    return float(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _bad("count")
    return value


def _encode_topk(positions: Sequence[TopK]) -> dict:
    return {
        "ids": _ints([i for p in positions for i in p.token_ids]),
        "lp": _floats([x for p in positions for x in p.logprobs]),
        "k": [len(p.token_ids) for p in positions],
        "rest": _floats([p.rest for p in positions]),
        "target": _ints([p.target for p in positions]),
        "target_lp": _floats([p.target_logprob for p in positions]),
    }


def _decode_topk(d: dict) -> tuple[TopK, ...]:
    ids, lps, rest = _unints(d["ids"]), _unfloats(d["lp"]), _unfloats(d["rest"])
    target, target_lp, ks = _unints(d["target"]), _unfloats(d["target_lp"]), [_count(k) for k in d["k"]]
    if not (len(ids) == len(lps) == sum(ks)) or not (len(ks) == len(rest) == len(target) == len(target_lp)):
        _bad("top-k block")
    out, at = [], 0
    for j, k in enumerate(ks):
        out.append(TopK(ids[at : at + k], lps[at : at + k], rest[j], target[j], target_lp[j]))
        at += k
    return tuple(out)


def _encode_distribution(r: DistributionResult) -> dict:
    return {"lp": list(r.logprobs), "n": list(r.n_tokens), "positions": [_encode_topk(p) for p in r.positions]}


def _decode_distribution(d: dict) -> DistributionResult:
    lps, ns = tuple(_number(x) for x in d["lp"]), tuple(_count(n) for n in d["n"])
    positions = tuple(_decode_topk(p) for p in d["positions"])
    if len(lps) != len(ns) or (positions and [len(p) for p in positions] != list(ns)):
        _bad("distribution")
    return DistributionResult(lps, ns, positions)


def _decode_loglikelihood(d: dict) -> LoglikelihoodResult:
    if not isinstance(d["is_greedy"], bool):
        _bad("is_greedy")
    return LoglikelihoodResult(_number(d["logprob"]), d["is_greedy"], _count(d.get("n_tokens", 0)))


def _decode_rolling(d: dict) -> RollingResult:
    return RollingResult(tuple((_number(a), _count(b)) for a, b in d["windows"]))


def _decode_text(d: dict) -> str:
    return d["text"] if isinstance(d["text"], str) else _bad("text")


@dataclass(frozen=True)
class Kind:
    """One request kind: its name in keys, the `Runner` method that answers it, and its result's JSON payload both
    ways."""

    name: str
    method: str
    encode: Callable[[Any], dict]
    decode: Callable[[dict], Any]


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "loglikelihood",
            "loglikelihood",
            lambda r: {"logprob": r.logprob, "is_greedy": r.is_greedy, "n_tokens": r.n_tokens},
            _decode_loglikelihood,
        ),
        Kind("rolling", "loglikelihood_rolling", lambda r: {"windows": [list(w) for w in r.windows]}, _decode_rolling),
        Kind("generate", "generate", lambda text: {"text": text}, _decode_text),
        Kind("distribution", "distribution", _encode_distribution, _decode_distribution),
    )
}


def decode(kind: str, payload: Any) -> Any:
    """The result in `payload`, or ValueError when it does not have the kind's shape."""
    try:
        return KINDS[kind].decode(payload)
    except (KeyError, TypeError, ValueError, struct.error) as exc:
        raise ValueError(f"cached {kind} payload has the wrong shape ({type(exc).__name__}: {exc})") from None
