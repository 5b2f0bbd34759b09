"""WikiText-2 perplexity (or any local text file): rolling-window loglikelihood over each whole article."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..contract import RollingRequest
from ..errors import KickUsageError
from . import Example, Outcome, Runner, find_data_folder, read_text, safe_ratio

LAYOUT = "wikitext2/wiki.<split>.raw (the raw WikiText-2 release; articles start with a ' = Title = ' line)"
FIELDS = ("nll", "tokens")
_TITLE = re.compile(r"^ ?= [^=].* = ?$")


def split_articles(text: str) -> list[tuple[str, str]]:
    """(title, text) per top-level ' = Title = ' heading; a file without headings is one article."""
    lines = text.replace("\r\n", "\n").split("\n")
    articles: list[tuple[str, list[str]]] = []
    for line in lines:
        if _TITLE.match(line):
            articles.append((line.strip(" =").strip(), [line]))
        elif articles:
            articles[-1][1].append(line)
        elif line.strip():
            articles.append(("(start)", [line]))
    return [(t, "\n".join(body).strip("\n")) for t, body in articles if "".join(body).strip()]


@dataclass(frozen=True)
class WikiText2:
    """Options: `split` ('test'), `path` (any local text file instead), `window` (1024 tokens per forward) and
    `stride` (512 newly scored tokens per window, so every token after the first window sees at least 511
    tokens of its article), `source`. Examples are articles; perplexity = exp(total NLL / total tokens)."""

    split: str = "test"
    path: str | None = None
    window: int = 1024
    stride: int = 512
    source: str = "auto"
    name: str = "wikitext2"
    fields: ClassVar[tuple[str, ...]] = FIELDS
    gated: ClassVar[Mapping[str, str]] = {"perplexity": "up"}

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or not isinstance(self.stride, int) or self.window < 2 or not 1 <= self.stride < self.window:
            raise KickUsageError(f"wikitext2: need window >= 2 and 1 <= stride < window, got window={self.window}, stride={self.stride}")

    def _file(self, data_dir: Path | None) -> Path:
        if self.path is not None:
            p = Path(self.path).expanduser()
            if not p.is_file():
                raise KickUsageError(f"wikitext2: path {self.path}: no such file")
            return p
        root = find_data_folder("wikitext2", data_dir, self.source, LAYOUT, aliases=("wikitext-2-raw", "wikitext-2"))
        p = root / f"wiki.{self.split}.raw"
        if not p.is_file():
            raise KickUsageError(f"{root}: no wiki.{self.split}.raw. Expected layout: {LAYOUT}")
        return p

    def load(self, data_dir: Path | None) -> list[Example]:
        path = self._file(data_dir)
        articles = split_articles(read_text(path))
        if not articles:
            raise KickUsageError(f"{path}: no text")
        return [Example(id=f"{path.name}/{i}", prompt=body, answers=(title,), group=path.name) for i, (title, body) in enumerate(articles)]

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        results = runner.loglikelihood_rolling([RollingRequest(ex.prompt, self.window, self.stride) for ex in examples])
        return [
            Outcome(ex.id, True, f"{-r.logprob / r.n_tokens:.4f} nats/token", ex.answers[0], scores=(-r.logprob, float(r.n_tokens)))
            for ex, r in zip(examples, results)
        ]

    def counts(self, example: Example, outcome: Outcome) -> tuple[float, ...]:
        return outcome.scores

    def metrics(self, totals: Any) -> dict[str, Any]:
        import numpy as np

        t = np.asarray(totals, dtype=float)
        return {"perplexity": np.exp(safe_ratio(t[..., 0], t[..., 1]))}

    def cluster(self, example: Example) -> str:
        return example.id

    def shift(self, example: Example, dense: Outcome, compressed: Outcome) -> float:
        return (compressed.scores[0] - dense.scores[0]) / max(dense.scores[1], 1.0)
