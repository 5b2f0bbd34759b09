"""Dialect pairs: the same sentence in African American English and in Standard American English; how much
less likely (per token) the model finds the AAE version. Any parallel corpus in the same layout works."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..contract import LoglikelihoodRequest
from ..errors import KickUsageError
from . import Example, Outcome, Runner, find_data_folder, nonblank_lines, read_text, safe_ratio
from .metrics import per_example

LAYOUT = "dialect_pairs/**/*.txt, one pair a line: '<AAE sentence>\\t<SAE sentence>' (first column the dialect)"
FIELDS = ("pairs", "aae_nll", "sae_nll")


def read_pairs(path: Path) -> list[tuple[int, str, str]]:
    """(line, AAE, SAE) per non-blank line; a line that is not two non-empty tab-separated columns is an error."""
    out = []
    for line_no, line in nonblank_lines(path):
        cols = line.rstrip("\r\n").split("\t")
        if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
            raise KickUsageError(
                f"{path}:{line_no}: expected 2 tab-separated columns (AAE, SAE), got {len(cols)} "
                f"column(s): {line.strip()[:60]!r}. Expected layout: {LAYOUT}"
            )
        out.append((line_no, cols[0].strip(), cols[1].strip()))
    return out


@dataclass(frozen=True)
class DialectPairs:
    """Options: `files` (a glob under the folder; default: every .txt/.tsv file whose first line has a tab),
    `source`. Per pair, each side's mean negative loglikelihood per token (log-perplexity, nats, after BOS).
    Metrics per file: `gap` = mean(AAE) - mean(SAE) (> 0: the dialect is less expected) and `ppl_ratio` =
    exp(gap)."""

    files: str | None = None
    source: str = "auto"
    name: str = "dialect_pairs"
    fields: ClassVar[tuple[str, ...]] = FIELDS
    gated: ClassVar[Mapping[str, str]] = {"gap": "up"}

    def _files(self, root: Path) -> list[Path]:
        if self.files:
            found = sorted(p for p in root.glob(self.files) if p.is_file())
            if not found:
                raise KickUsageError(f"{root}: no file matches {self.files!r}. Expected layout: {LAYOUT}")
            return found
        found = []
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix in (".txt", ".tsv"):
                first = next((line for line in read_text(p).splitlines() if line.strip()), "")
                if "\t" in first:  # word lists and other single-column files alongside the pairs are not pair files
                    found.append(p)
        if not found:
            raise KickUsageError(f"{root}: no pair file (a .txt/.tsv whose lines are 'AAE<TAB>SAE'). Expected layout: {LAYOUT}")
        return found

    def load(self, data_dir: Path | None) -> list[Example]:
        root = find_data_folder("dialect_pairs", data_dir, self.source, LAYOUT, aliases=("dialect",))
        examples = []
        for path in self._files(root):
            group = str(path.relative_to(root).with_suffix(""))
            for line_no, aae, sae in read_pairs(path):
                examples.append(Example(id=f"{group}:{line_no}", prompt=aae, choices=(aae, sae), group=group))
        return examples

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        results = runner.loglikelihood([LoglikelihoodRequest("", s) for ex in examples for s in ex.choices])
        outcomes = []
        for ex, pair in zip(examples, per_example(results, (len(ex.choices) for ex in examples))):
            aae, sae = (-r.logprob / max(r.n_tokens, 1) for r in pair)
            outcomes.append(Outcome(ex.id, aae <= sae, f"AAE {aae:.3f} vs SAE {sae:.3f} nats/token", ex.choices[1], scores=(aae, sae)))
        return outcomes

    def counts(self, example: Example, outcome: Outcome) -> tuple[float, ...]:
        return (1.0, outcome.scores[0], outcome.scores[1])

    def metrics(self, totals: Any) -> dict[str, Any]:
        import numpy as np

        t = np.asarray(totals, dtype=float)
        gap = safe_ratio(t[..., 1] - t[..., 2], t[..., 0])
        return {
            "aae_logppl": safe_ratio(t[..., 1], t[..., 0]),
            "sae_logppl": safe_ratio(t[..., 2], t[..., 0]),
            "gap": gap,
            "ppl_ratio": np.exp(gap),
        }

    def cluster(self, example: Example) -> str:
        return example.id

    def shift(self, example: Example, dense: Outcome, compressed: Outcome) -> float:
        return (compressed.scores[0] - compressed.scores[1]) - (dense.scores[0] - dense.scores[1])
