"""Judges: a language model that scores answers, as a scorer for the generation-quality gate (in inspect_ai's sense:
configured by its arguments, it sees the prompt, the answer and the reference).

- Backends: any OpenAI-compatible endpoint (vLLM, TGI, llama.cpp, `transformers serve`, a hosted API) through the
  official `openai` client, concurrent, with retries and a rate limit, its key read from an environment variable
  (never from the command line, never written anywhere); or a local model run in-process through the engine.
- Prompts are data (`data/judges/prompts.jsonl`, or FastChat's `judge_prompts.jsonl`): output formats 'scores'
  (two numbers on the first line), 'criteria' (one line per criterion with two numbers; the mean is the score),
  'rating' (`[[7]]`, one answer) and 'verdict' (`[[A]]`/`[[B]]`/`[[C]]`: 1, 0, 0.5 for the first answer).
- A pairwise prompt is judged in both orders and the two scores averaged (judges favour the first position). A
  verdict that cannot be parsed is NaN: the gate counts and shows it, and never scores it.
- Verdicts are cached like model answers: keyed by the judge's identity (endpoint and model, or the local model's
  fingerprint, and generation settings) and the whole judge prompt (question, answers, reference)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import GenerationRequest, RunnerFactory
from ..errors import KickUsageError
from ..fingerprint import digest
from ..runners.cache import CachedRunner, ResultCache
from .endpoint import EndpointRunner, JudgeError, public_url  # noqa: F401 - the judge API: one import for users

PROMPTS = Path(__file__).resolve().parents[1] / "data" / "judges" / "prompts.jsonl"
FORMATS = ("scores", "criteria", "rating", "verdict")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class JudgePrompt:
    """A judge prompt: its template, how its verdict is written (`output_format`), and the rubric's `scale` (lowest,
    highest score; a score outside it is no verdict: unscored, counted and shown, never averaged)."""

    name: str
    template: str
    output_format: str = "scores"
    system: str = ""
    scale: tuple[float, float] = (1.0, 10.0)

    def __post_init__(self) -> None:
        if self.output_format not in FORMATS:
            raise KickUsageError(f"judge prompt {self.name!r}: output_format must be one of {', '.join(FORMATS)}")
        low, high = self.scale
        if not low < high:
            raise KickUsageError(f"judge prompt {self.name!r}: scale must be [lowest, highest] with lowest < highest, got {self.scale}")

    @property
    def pairwise(self) -> bool:
        return self.output_format != "rating"

    @classmethod
    def load(cls, name: str = "pairwise-scores", path: Path | None = None) -> JudgePrompt:
        """A prompt by name from a JSONL file of `{"name", "prompt_template", "output_format", "system_prompt"}`
        (ours by default; FastChat's judge_prompts.jsonl works too: '[[rating]]' and '[[A]]' formats). The older
        FastChat review prompts that LLM-KICK used (`prompt.jsonl`: no name, a `prompt_id` and `category`, the
        instruction in `defaults.prompt` filled into `{prompt}`, two scores on the first line) load by id or
        category."""
        path = Path(path) if path is not None else PROMPTS
        from ..tasks import jsonl_records

        names = []
        for n, rec in jsonl_records(path):
            keys = [str(k) for k in (rec.get("name"), rec.get("prompt_id"), rec.get("category")) if k is not None]
            names.append(keys[0] if keys else f"line {n}")
            if name in keys:
                return cls._from_record(rec, name, f"{path}:{n}")
        raise KickUsageError(f"{path}: no judge prompt named {name!r}; it has {', '.join(names)}")

    @classmethod
    def _from_record(cls, rec: dict, name: str, where: str) -> JudgePrompt:
        template, system = rec.get("prompt_template"), rec.get("system_prompt", rec.get("sys_prompt", ""))
        if not isinstance(template, str) or not isinstance(system, str):
            raise KickUsageError(f"{where}: judge prompt {name!r} needs a prompt_template string (and a system_prompt string)")
        default = (rec.get("defaults") or {}).get("prompt") if isinstance(rec.get("defaults"), dict) else None
        if isinstance(default, str) and "{prompt}" in template:  # FastChat's older review prompts
            template = template.replace("{prompt}", default.replace("{", "{{").replace("}", "}}"))
        fmt = {"[[rating]]": "rating", "[[A]]": "verdict"}.get(rec.get("output_format"), rec.get("output_format", "scores"))
        scale = rec.get("scale", [1, 10])
        if not (isinstance(scale, list) and len(scale) == 2 and all(isinstance(x, (int, float)) for x in scale)):
            raise KickUsageError(f"{where}: judge prompt {name!r}: scale must be [lowest, highest], got {scale!r}")
        return cls(name, template, fmt, system, (float(scale[0]), float(scale[1])))

    def render(self, question: str, first: str, second: str = "", reference: str = "") -> str:
        fields = {
            "question": question, "question_1": question, "answer_1": first, "answer_a": first, "answer": first,
            "answer_2": second, "answer_b": second, "ref_answer_1": reference,
        }  # fmt: skip
        try:
            return self.template.format_map(fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise KickUsageError(f"judge prompt {self.name!r}: unknown placeholder {exc} (known: {', '.join(fields)})") from None

    def parse(self, text: str) -> tuple[float, float]:
        """(first answer's score, second's); NaN where the verdict cannot be read or lies outside the scale."""
        low, high = self.scale

        def on_scale(value: float) -> float:
            return value if low <= value <= high else math.nan  # NaN stays NaN

        first, second = self._read(text)
        if self.output_format == "verdict":
            return first, second
        if self.output_format != "rating" and math.isnan(on_scale(first) + on_scale(second)):
            return math.nan, math.nan  # a verdict with a score off the rubric is no verdict on it, for either answer
        return on_scale(first), on_scale(second)

    def _read(self, text: str) -> tuple[float, float]:
        nan = (math.nan, math.nan)
        if self.output_format == "rating":
            m = re.search(r"\[\[(-?\d+(?:\.\d+)?)\]\]", text)
            return (float(m.group(1)), math.nan) if m else nan
        if self.output_format == "verdict":
            m = re.search(r"\[\[([ABC])\]\]", text)
            return {"A": (1.0, 0.0), "B": (0.0, 1.0), "C": (0.5, 0.5)}[m.group(1)] if m else nan
        lines = [line for line in text.strip().splitlines() if line.strip()]
        rows = lines[:1] if self.output_format == "scores" else lines[:4]
        pairs = [_NUMBER.findall(line.split(":", 1)[-1]) for line in rows]
        if not pairs or (self.output_format == "criteria" and len(pairs) < 4) or any(len(p) != 2 for p in pairs):
            return nan
        firsts, seconds = [float(p[0]) for p in pairs], [float(p[1]) for p in pairs]
        if self.output_format == "criteria" and not all(self.scale[0] <= v <= self.scale[1] for v in firsts + seconds):
            return nan  # one criterion off the scale: the verdict is not one on this rubric
        return sum(firsts) / len(firsts), sum(seconds) / len(seconds)


@dataclass
class Judge:
    """A scorer for `assert_generation_quality_within`: scores each answer against the reference (`against=
    'reference'`) or the compressed model's answers head to head against the dense model's (`against='dense'`)."""

    runner: CachedRunner
    prompt: JudgePrompt
    name: str = "judge"
    against: str = "reference"
    max_new_tokens: int = 256
    both_orders: bool = True
    calls: int = 0  # judge prompts answered (from the cache or the judge)

    def _judge(self, prompts: list[str]) -> list[tuple[float, float]]:
        self.calls += len(prompts)
        texts = self.runner.generate([GenerationRequest(p, (), self.max_new_tokens) for p in prompts])
        return [self.prompt.parse(t) for t in texts]

    def _pairwise(self, questions: Sequence[str], firsts: Sequence[str], seconds: Sequence[str]) -> tuple[list[float], list[float]]:
        """Both answers' scores, each the mean over the two orders (NaN if either order is unreadable)."""
        forward = [self.prompt.render(q, a, b, b) for q, a, b in zip(questions, firsts, seconds)]
        if not self.both_orders:
            verdicts = self._judge(forward)
            return [f[0] for f in verdicts], [f[1] for f in verdicts]
        backward = [self.prompt.render(q, b, a, b) for q, a, b in zip(questions, firsts, seconds)]
        verdicts = self._judge(forward + backward)  # one batch: the endpoint's concurrency covers both orders
        fw, bw = verdicts[: len(forward)], verdicts[len(forward) :]
        return [(f[0] + b[1]) / 2 for f, b in zip(fw, bw)], [(f[1] + b[0]) / 2 for f, b in zip(fw, bw)]

    def score(self, predictions: Sequence[str], references: Sequence[str], prompts: Sequence[str]) -> list[float]:
        """Each prediction's score against its reference (an example without reference cannot be scored: NaN)."""
        keep = [i for i, r in enumerate(references) if r.strip()]
        out = [math.nan] * len(predictions)
        if self.prompt.pairwise:
            scores, _ = self._pairwise([prompts[i] for i in keep], [predictions[i] for i in keep], [references[i] for i in keep])
        else:
            scores = [s for s, _ in self._judge([self.prompt.render(prompts[i], predictions[i], "", references[i]) for i in keep])]
        for i, s in zip(keep, scores):
            out[i] = s
        return out

    def score_pair(self, dense: Sequence[str], compressed: Sequence[str], prompts: Sequence[str]) -> tuple[list[float], list[float]]:
        """Dense and compressed answers judged head to head (pairwise prompts only)."""
        if not self.prompt.pairwise:
            return self.score(dense, [""] * len(dense), prompts), self.score(compressed, [""] * len(dense), prompts)
        return self._pairwise(prompts, dense, compressed)


def endpoint_judge(
    base_url: str,
    model: str,
    *,
    cache_dir: Path | None,
    prompt: JudgePrompt | None = None,
    key_env: str = "OPENAI_API_KEY",
    against: str = "reference",
    concurrency: int = 4,
    retries: int = 3,
    rate_limit: float | None = None,
    max_new_tokens: int = 256,
    timeout: float = 120.0,
    budget: float | None = None,
) -> Judge:
    """A judge behind an OpenAI-compatible endpoint; its verdicts are cached under `cache_dir` (None: not cached).
    `timeout` (seconds per request) and `retries` go to the client; `concurrency` requests run at once."""
    prompt = prompt or JudgePrompt.load()
    runner = EndpointRunner(base_url.rstrip("/"), model, key_env, prompt.system, concurrency, retries, rate_limit, timeout, budget)
    identity = digest(json.dumps(["endpoint", base_url.rstrip("/"), model, prompt.system, "temperature=0"]))
    factory = RunnerFactory(f"judge {model}", lambda: runner, identity)
    return Judge(CachedRunner(factory, ResultCache(cache_dir)), prompt, f"judge:{model}", against, max_new_tokens)


def local_judge(factory: RunnerFactory, *, cache_dir: Path | None, prompt: JudgePrompt | None = None, against: str = "reference") -> Judge:
    """A judge run in-process: `factory` is a model handle's `.factory()` (its answers are cached like any model's).
    The judge prompt is sent through the model's chat template."""
    prompt = prompt or JudgePrompt.load()
    cached = CachedRunner(factory, ResultCache(cache_dir))
    return _ChatJudge(cached, prompt, f"judge:{factory.name}", against)


class _ChatJudge(Judge):
    def _judge(self, prompts: list[str]) -> list[tuple[float, float]]:
        messages = [
            ([{"role": "system", "content": self.prompt.system}] if self.prompt.system else []) + [{"role": "user", "content": p}]
            for p in prompts
        ]
        return super()._judge([self.runner.chat_prompt(m) for m in messages])


def judge_prompt(text: str) -> JudgePrompt:
    """--kick-judge-prompt: a built-in prompt's name, or PATH:NAME of a JSONL file of judge prompts."""
    path, sep, name = text.rpartition(":")
    return JudgePrompt.load(name, Path(path)) if sep and path else JudgePrompt.load(text)


def configured_judge(spec, evaluation, load) -> Judge:
    """The judge --kick-judge describes (`settings.JudgeSpec`), its verdicts cached with the run's results."""
    prompt = judge_prompt(spec.prompt)
    if spec.url is not None:
        return endpoint_judge(
            spec.url, spec.model, cache_dir=evaluation.cache_dir, prompt=prompt, key_env=spec.key_env,
            concurrency=spec.concurrency, retries=spec.retries, timeout=spec.timeout, budget=spec.budget,
            max_new_tokens=spec.max_new_tokens,
        )  # fmt: skip
    from ..models.handles import dense_handle
    from ..sources import parse_model_source

    handle = dense_handle(parse_model_source(spec.model), load)
    judge = local_judge(handle.factory(evaluation.batch_size), cache_dir=evaluation.cache_dir, prompt=prompt)
    return dataclasses.replace(judge, max_new_tokens=spec.max_new_tokens)
