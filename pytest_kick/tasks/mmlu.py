"""MMLU (LLM-KICK's multiple-choice reasoning): original CSV layout, k-shot from dev, argmax over ' A'..' D'."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import LoglikelihoodRequest
from ..errors import KickUsageError
from ..registry import did_you_mean
from . import Example, Outcome, Runner, field, index_field, read_text, several, task_data_dir
from .metrics import argmax, per_example

LETTERS = ("A", "B", "C", "D")
LAYOUT = "mmlu/{dev,test}/<subject>_{dev,test}.csv (header-less rows: question,A,B,C,D,answer)"
Row = tuple[str, tuple[str, str, str, str], int]


def read_mmlu_csv(path: Path) -> list[Row]:
    """Rows of one MMLU CSV; a malformed row is a usage error naming file and line."""
    rows: list[Row] = []
    with io.StringIO(read_text(path), newline="") as fh:
        reader = csv.reader(fh)
        for rec in reader:
            if not rec or all(not c.strip() for c in rec):
                continue
            if len(rec) != 6 or rec[5].strip().upper() not in LETTERS:
                raise KickUsageError(
                    f"{path}:{reader.line_num}: expected 6 fields 'question,A,B,C,D,answer' with answer in A-D, "
                    f"got {len(rec)} field(s){' ending in ' + repr(rec[-1][:20]) if rec else ''}"
                )
            rows.append((rec[0].strip(), tuple(c.strip() for c in rec[1:5]), LETTERS.index(rec[5].strip().upper())))
    return rows


def hub_row(rec: dict, where: str) -> Row:
    """One cais/mmlu row: question, four choices, the answer's index."""
    choices = field(rec, "choices", "list[str]", where)
    if len(choices) != len(LETTERS):
        raise KickUsageError(f"{where}: field 'choices' must be a list of {len(LETTERS)} strings, got {len(choices)}")
    return field(rec, "question", "str", where), tuple(choices), index_field(rec, "answer", len(LETTERS), where)


def format_question(question: str, choices: Sequence[str], answer: int | None = None, cloze: bool = False) -> str:
    """Letter format lists the choices and answers with a letter; cloze format answers with the choice's text."""
    if cloze:
        return f"Question: {question}\nAnswer:" + (f" {choices[answer]}\n\n" if answer is not None else "")
    text = question + "\n" + "".join(f"{letter}. {c}\n" for letter, c in zip(LETTERS, choices)) + "Answer:"
    return text + (f" {LETTERS[answer]}\n\n" if answer is not None else "")


@dataclass(frozen=True)
class MMLU:
    """Options: `subjects` (None = all found), `k_shot` (5, as LLM-KICK), `split` ('test'), `source`
    ('auto' = the data dir when given, else the built-in sample; 'builtin', 'dir', 'hub'), and `scoring`:
    'letter' (default, LLM-KICK and the original MMLU: argmax over ' A'..' D', one forward per question) or
    'cloze' (argmax of each choice text's loglikelihood per byte; small models that cannot yet map letters to
    answers score above chance this way)."""

    subjects: tuple[str, ...] | None = None
    k_shot: int = 5
    split: str = "test"
    source: str = "auto"
    scoring: str = "letter"
    name: str = "mmlu"

    def __post_init__(self) -> None:
        if self.scoring not in ("letter", "cloze"):
            raise KickUsageError(f"mmlu: scoring must be 'letter' or 'cloze', got {self.scoring!r}")
        several(self, "subjects")
        if self.k_shot < 0:
            raise KickUsageError(f"mmlu: k_shot must be >= 0, got {self.k_shot}")

    def _tables(self, data_dir: Path | None) -> dict[str, tuple[list[Row], list[Row]]]:
        """subject -> (dev rows, eval rows)."""
        if self.source == "hub":
            return self._hub_tables()
        root = task_data_dir("mmlu", data_dir, self.source, LAYOUT)
        files = {p.name[: -len(f"_{self.split}.csv")]: p for p in (root / self.split).glob(f"*_{self.split}.csv")}
        if not files:
            raise KickUsageError(f"{root}: no {self.split}/*_{self.split}.csv files. Expected layout: {LAYOUT}")
        wanted = self._pick(sorted(files))
        tables = {}
        for subject in wanted:
            dev_path = root / "dev" / f"{subject}_dev.csv"
            if self.k_shot and not dev_path.is_file():
                raise KickUsageError(f"{dev_path} is missing: {self.k_shot}-shot prompts are drawn from dev. Add it or use k_shot=0.")
            dev = read_mmlu_csv(dev_path) if self.k_shot else []
            tables[subject] = (dev, read_mmlu_csv(files[subject]))
        return tables

    def _pick(self, available: list[str]) -> list[str]:
        if self.subjects is None:
            return available
        for s in self.subjects:
            if s not in available:
                raise KickUsageError(f"mmlu: unknown subject '{s}'.{did_you_mean(s, available)} Available: {', '.join(available)}.")
        return list(self.subjects)

    def _hub_tables(self) -> dict[str, tuple[list[Row], list[Row]]]:
        from ..sources import hub_dataset  # online path: the hub copy has the same fields

        tables = {}
        for subject in self.subjects or ("all",):

            def rows(split: str, subject: str = subject) -> list[Row]:
                ds = hub_dataset("mmlu", "cais/mmlu", subject, split)
                return [hub_row(dict(r), f"cais/mmlu {subject}/{split} row {i}") for i, r in enumerate(ds)]

            tables[subject] = (rows("dev") if self.k_shot else [], rows(self.split))
        return tables

    def load(self, data_dir: Path | None) -> list[Example]:
        examples = []
        for subject, (dev, rows) in self._tables(data_dir).items():
            title = subject.replace("_", " ")
            head = f"The following are multiple choice questions (with answers) about {title}.\n\n"
            cloze = self.scoring == "cloze"
            shots = "".join(format_question(q, c, a, cloze) for q, c, a in dev[: self.k_shot])
            for i, (q, choices, gold) in enumerate(rows):
                examples.append(
                    Example(
                        id=f"{subject}/{self.split}/{i}",
                        prompt=head + shots + format_question(q, choices, cloze=cloze),
                        choices=choices,
                        gold=gold,
                        group=subject,
                    )
                )
        return examples

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        cloze = self.scoring == "cloze"
        # Letter scoring: every choice is one token after the shared context, so one forward per question.
        conts = [[f" {c}" for c in ex.choices] if cloze else [f" {letter}" for letter in LETTERS] for ex in examples]
        requests = [LoglikelihoodRequest(ex.prompt, c) for ex, cs in zip(examples, conts) for c in cs]
        results = runner.loglikelihood(requests)
        outcomes = []
        for k, (ex, mine) in enumerate(zip(examples, per_example(results, (len(c) for c in conts)))):
            scores = tuple(r.logprob for r in mine)
            if cloze:
                scores = tuple(s / len(c.encode()) for s, c in zip(scores, conts[k]))
            pred = argmax(scores)
            outcomes.append(
                Outcome(
                    example_id=ex.id,
                    correct=pred == ex.gold,
                    prediction=f"{LETTERS[pred]}. {ex.choices[pred]}",
                    reference=f"{LETTERS[ex.gold]}. {ex.choices[ex.gold]}",
                    scores=scores,
                )
            )
        return outcomes
