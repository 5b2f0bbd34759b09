"""ICR-QA (LLM-KICK's in-context retrieval QA): the same questions asked closed-book (the model's own knowledge)
and open-book (with an evidence passage cut to a character budget). Compressed models lose closed-book accuracy
much faster than open-book accuracy; `setting="gap"` measures that difference per question.

Data, by source:
- built-in: our own 30 questions with passages (real facts, and made-up ones only the passage can answer);
- dir: DATA_DIR/icr_qa/ (or nq_open_closed/) with either a pair of files in llm-foundry's layout, `*closed*.jsonl`
  and `*openbook*.jsonl` (`{"context", "answer", "aliases"}`, same questions line by line), or `*.jsonl` records
  `{"question", "answers", "passage"}`;
- hub: TriviaQA's `rc` validation split (question, answer aliases, the first Wikipedia evidence page)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import GenerationRequest
from ..errors import KickUsageError
from . import Example, Outcome, Runner, field, find_data_folder, jsonl_records
from .metrics import contains_match, exact_match

LAYOUT = "icr_qa/*closed*.jsonl + *openbook*.jsonl ({context, answer, aliases}), or icr_qa/*.jsonl ({question, answers, passage})"
SETTINGS = ("closed", "open", "gap")
MATCHES = ("exact", "contains")
_OPEN = re.compile(r"^Context:\s*(?P<passage>.*?)\n\nQuestion:\s*(?P<q>.*?)\nAnswer:\s*$", re.S)
_CLOSED = re.compile(r"^Question:\s*(?P<q>.*?)\nAnswer:\s*$", re.S)


# Our own worked examples that show the answer format (a short answer, then a newline), with their evidence.
SHOTS = (
    ("What is the capital city of Italy?", "Rome", "Italy is a country in southern Europe. Its capital city is Rome, on the river Tiber."),
    (
        "What colour are the shutters of the inn at Dunley?",
        "yellow",
        "The old inn at Dunley stands by the bridge. Its yellow shutters were painted by the landlord's daughter.",
    ),
)


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: tuple[str, ...]
    passage: str


def _answers(rec: dict, where: str, key: str = "answer") -> tuple[str, ...]:
    """Every accepted answer: 'answers' (a list of strings), or `key` (a string) and 'aliases' (a list of strings).
    A string where a list belongs is refused: read as its letters, any one-letter output would be right."""
    if "answers" in rec:
        answers = field(rec, "answers", "list[str]", where)
    else:
        answers = [field(rec, key, "str", where), *field(rec, "aliases", "list[str]", where, default=[])]
    answers = tuple(a.strip() for a in answers if a.strip())
    if not answers:
        raise KickUsageError(f"{where}: no answer (expected 'answers': [...], or 'answer' and 'aliases')")
    return answers


def read_records(path: Path) -> list[Item]:
    """Our layout: one `{"question", "answers", "passage"}` object per line."""
    items = []
    for n, rec in jsonl_records(path):
        where = f"{path}:{n}"
        question, passage = field(rec, "question", "text", where), field(rec, "passage", "text", where)
        items.append(Item(f"{path.stem}/{n}", question.strip(), _answers(rec, where), passage.strip()))
    return items


def read_pair(closed: Path, openbook: Path) -> list[Item]:
    """llm-foundry's pair: line i of each file is the same question, closed-book and with its passage."""
    closed_rows, open_rows = list(jsonl_records(closed)), list(jsonl_records(openbook))
    if len(closed_rows) != len(open_rows):
        raise KickUsageError(f"{closed} has {len(closed_rows)} records but {openbook} has {len(open_rows)}: they must pair line by line")
    items = []
    for (n, c), (m, o) in zip(closed_rows, open_rows):
        mc = _CLOSED.match(field(c, "context", "str", f"{closed}:{n}"))
        mo = _OPEN.match(field(o, "context", "str", f"{openbook}:{m}"))
        if mc is None:
            raise KickUsageError(f"{closed}:{n}: 'context' is not 'Question: ...\\nAnswer:'")
        if mo is None:
            raise KickUsageError(f"{openbook}:{m}: 'context' is not 'Context: ...\\n\\nQuestion: ...\\nAnswer:'")
        if mc["q"].strip() != mo["q"].strip():
            raise KickUsageError(f"{openbook}:{m}: question {mo['q'].strip()[:60]!r} is not the one on {closed.name}:{n}")
        items.append(Item(f"{closed.stem}/{n}", mc["q"].strip(), _answers(c, f"{closed}:{n}"), mo["passage"].strip()))
    return items


def cut(passage: str, budget: int) -> str:
    """The first `budget` characters of the evidence, ending at a word boundary."""
    if len(passage) <= budget:
        return passage
    head = passage[:budget]
    return head[: head.rfind(" ")] if " " in head else head


@dataclass(frozen=True)
class ICRQA:
    """Options: `setting` ('closed', 'open' or 'gap'), `evidence_chars` (the evidence budget; LLM-KICK used about
    3,000), `match` ('exact', or 'contains': an accepted answer inside the answer's first line), `max_new_tokens`,
    `source` ('auto', 'builtin', 'dir', 'hub'), `k_shot` (built-in worked examples in the same setting, up to 2)."""

    setting: str = "open"
    evidence_chars: int = 3000
    k_shot: int = 2
    match: str = "exact"
    max_new_tokens: int = 16
    source: str = "auto"

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise KickUsageError(f"icr_qa: setting must be one of {', '.join(SETTINGS)}, got {self.setting!r}")
        if not 0 <= self.k_shot <= len(SHOTS):
            raise KickUsageError(f"icr_qa: k_shot must be between 0 and {len(SHOTS)}, got {self.k_shot}")
        if self.match not in MATCHES:
            raise KickUsageError(f"icr_qa: match must be one of {', '.join(MATCHES)}, got {self.match!r}")
        if isinstance(self.evidence_chars, bool) or not isinstance(self.evidence_chars, int) or self.evidence_chars < 100:
            raise KickUsageError(f"icr_qa: evidence_chars must be an integer >= 100, got {self.evidence_chars!r}")

    @property
    def name(self) -> str:
        return f"icr_qa[{self.setting}]"

    def items(self, data_dir: Path | None) -> list[Item]:
        if self.source == "hub":
            return self._hub_items()
        root = find_data_folder("icr_qa", data_dir, self.source, LAYOUT, aliases=("nq_open_closed",))
        closed, openbook = sorted(root.glob("*closed*.jsonl")), sorted(root.glob("*openbook*.jsonl"))
        if closed and openbook:
            return read_pair(closed[0], openbook[0])
        if closed or openbook:  # half a pair is not a set of records: never ask it closed-book only, or read others
            have, lacks = (closed[0].name, "*openbook*.jsonl") if closed else (openbook[0].name, "*closed*.jsonl")
            raise KickUsageError(f"{root}: {have} has no {lacks} to pair with. Expected layout: {LAYOUT}")
        files = sorted(p for p in root.glob("*.jsonl") if p not in closed + openbook)
        if not files:
            raise KickUsageError(f"{root}: no ICR-QA files. Expected layout: {LAYOUT}")
        return [item for f in files for item in read_records(f)]

    def _hub_items(self) -> list[Item]:
        from ..sources import hub_dataset

        items = []
        for i, rec in enumerate(hub_dataset("icr_qa", "mandarjoshi/trivia_qa", "rc", "validation")):
            pages = list(rec["entity_pages"]["wiki_context"]) + list(rec["search_results"]["search_context"])
            if pages:
                where = f"mandarjoshi/trivia_qa rc validation row {i}"
                answers = _answers(field(rec, "answer", "dict", where), where, key="value")
                items.append(Item(f"trivia_qa/{i}", field(rec, "question", "text", where), answers, pages[0]))
        return items

    def load(self, data_dir: Path | None) -> list[Example]:
        return [
            Example(
                id=it.id, prompt=self.prompt(it, "closed" if self.setting == "closed" else "open"), answers=it.answers, meta={"item": it}
            )
            for it in self.items(data_dir)
        ]

    def prompt(self, item: Item, setting: str) -> str:
        shots = "".join(self._one(Item("", q, (a,), p), setting) + f" {a}\n\n" for q, a, p in SHOTS[: self.k_shot])
        return shots + self._one(item, setting)

    def _one(self, item: Item, setting: str) -> str:
        question = f"Question: {item.question}\nAnswer:"
        return question if setting == "closed" else f"Context: {cut(item.passage, self.evidence_chars)}\n\n{question}"

    def _score(self, text: str, answers: tuple[str, ...]) -> bool:
        return exact_match(text, answers) if self.match == "exact" else contains_match(text, answers)

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        settings = ("closed", "open") if self.setting == "gap" else (self.setting,)
        texts = {
            s: runner.generate([GenerationRequest(self.prompt(ex.meta["item"], s), ("\n",), self.max_new_tokens) for ex in examples])
            for s in settings
        }
        out = []
        for i, ex in enumerate(examples):
            right = {s: self._score(texts[s][i], ex.answers) for s in settings}
            reference = " / ".join(ex.answers)
            if self.setting != "gap":
                out.append(Outcome(ex.id, right[self.setting], texts[self.setting][i].strip(), reference))
                continue
            score = float(right["closed"]) - float(right["open"])
            shown = f"closed: {texts['closed'][i].strip()} | open: {texts['open'][i].strip()}"
            values = {"score": score, "closed": float(right["closed"]), "open": float(right["open"])}
            out.append(Outcome(ex.id, right["closed"], shown, reference, values=values))
        return out
