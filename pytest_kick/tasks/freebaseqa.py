"""FreebaseQA (LLM-KICK's factoid QA): release JSON, 'question | answer' text, or .tab; greedy answer, exact match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import GenerationRequest
from ..errors import KickUsageError
from . import BUILTIN_DATA, Example, Outcome, Runner, field, json_file, nonblank_lines, task_data_dir
from .metrics import exact_match

LAYOUT = "freebaseqa/**/FreebaseQA-<split>.json (release JSON), FreebaseQA-<split>.txt ('question | answer') or .tab"

# Our own worked examples that show the model the answer format (short answer, then a newline).
SHOTS = (
    ("What is the capital city of Italy?", "Rome"),
    ("How many wheels does a bicycle have?", "two"),
    ("Which animal is known for its black and white fur and for eating bamboo?", "giant panda"),
)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"')
    return text


def read_txt(path: Path) -> dict[str, list[str]]:
    """'question | answer' lines; a question repeated on several lines has several accepted answers."""
    out: dict[str, list[str]] = {}
    for n, line in nonblank_lines(path):
        if "|" not in line:
            raise KickUsageError(f"{path}:{n}: expected 'question | answer', found no '|' in {line.strip()[:60]!r}")
        q, _, a = line.rpartition("|")
        q, a = _unquote(q), a.strip()
        if not q or not a:
            raise KickUsageError(f"{path}:{n}: empty question or answer in {line.strip()[:60]!r}")
        out.setdefault(q, []).append(a)
    return out


def read_tab(path: Path) -> dict[str, list[str]]:
    """The v1.1 .tab layout: 8 tab-separated fields, answer in field 7 and question in field 8."""
    out: dict[str, list[str]] = {}
    for n, line in nonblank_lines(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 8:
            raise KickUsageError(f"{path}:{n}: expected 8 tab-separated fields, got {len(fields)}")
        if not _unquote(fields[7]) or not fields[6].strip():
            raise KickUsageError(f"{path}:{n}: empty answer (field 7) or question (field 8)")
        out.setdefault(_unquote(fields[7]), []).append(fields[6].strip())
    return out


def read_json(path: Path) -> dict[str, list[str]]:
    """The release JSON: Questions[].RawQuestion with Parses[].Answers[].AnswersName[]."""
    data = json_file(path)
    out: dict[str, list[str]] = {}
    questions = field(data, "Questions", "list", str(path)) if isinstance(data, dict) and "Questions" in data else []
    for i, q in enumerate(questions):
        where = f"{path}: Questions[{i}]"
        question = field(q, "RawQuestion", "text", where).strip()
        names = []
        for j, parse in enumerate(field(q, "Parses", "list", where)):
            for k, ans in enumerate(field(parse, "Answers", "list", where, name=f"Parses[{j}].Answers")):
                names += field(ans, "AnswersName", "list[str]", where, name=f"Parses[{j}].Answers[{k}].AnswersName")
        if not any(n.strip() for n in names):
            raise KickUsageError(f"{where}: no answer (expected Parses[].Answers[].AnswersName: a list of strings)")
        out.setdefault(question, []).extend(n for n in names if n.strip() and n not in out.get(question, []))
    if not out:
        raise KickUsageError(f"{path}: no 'Questions' in this file; is it the FreebaseQA release JSON?")
    return out


@dataclass(frozen=True)
class FreebaseQA:
    """Options: `split` ('eval' or 'dev'), `k_shot` (built-in worked examples, up to 3), `max_new_tokens`, `source`."""

    split: str = "eval"
    k_shot: int = 3
    max_new_tokens: int = 16
    source: str = "auto"
    name: str = "freebaseqa"

    def __post_init__(self) -> None:
        if not 0 <= self.k_shot <= len(SHOTS):
            raise KickUsageError(f"freebaseqa: k_shot must be between 0 and {len(SHOTS)}, got {self.k_shot}")

    def _file(self, data_dir: Path | None) -> Path:
        if self.source == "hub":
            raise KickUsageError("freebaseqa has no maintained hub copy; use --kick-data-dir with the release files")
        root = task_data_dir("freebaseqa", data_dir, self.source, LAYOUT)
        if root == BUILTIN_DATA / "freebaseqa":
            if self.split != "eval":  # one sample, standing in for the default split: never read as another one
                raise KickUsageError(
                    f"freebaseqa: the built-in sample has no split {self.split!r}; use --kick-data-dir with the release files"
                )
            return root / "general-knowledge.txt"
        for ext in ("json", "txt", "tab"):
            found = sorted(root.rglob(f"FreebaseQA-{self.split}.{ext}"))
            if found:
                return found[0]
        raise KickUsageError(f"{root}: no FreebaseQA-{self.split}.json/.txt/.tab found. Expected layout: {LAYOUT}")

    def load(self, data_dir: Path | None) -> list[Example]:
        path = self._file(data_dir)
        reader = {".json": read_json, ".txt": read_txt, ".tab": read_tab}[path.suffix]
        shots = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in SHOTS[: self.k_shot])
        return [
            Example(id=f"{path.stem}/{i}", prompt=f"{shots}Question: {q}\nAnswer:", answers=tuple(answers))
            for i, (q, answers) in enumerate(reader(path).items())
        ]

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        texts = runner.generate([GenerationRequest(ex.prompt, ("\n",), self.max_new_tokens) for ex in examples])
        return [Outcome(ex.id, exact_match(t, ex.answers), t.strip(), " / ".join(ex.answers)) for ex, t in zip(examples, texts)]
