"""Instruction following (LLM-KICK): open questions answered through the model's chat template, scored by a judge,
by agreement with the dense model's answer, or by ROUGE against a reference answer where one exists.

- `bench="vicuna"`: the 80 single-turn Vicuna questions (generic, knowledge, roleplay, common-sense, Fermi,
  counterfactual, coding, math, writing), LLM-KICK's instruction-following set;
- `bench="mt_bench"`: MT-Bench's 80 two-turn questions; the second question is asked after the model's own first
  answer, and both answers are scored together.

Data: DATA_DIR/instruction_following/ or DATA_DIR/mt_bench/ in FastChat's layout (`vicuna_bench/question.jsonl`,
`question.jsonl`: `{"question_id", "category", "turns": [...]}`; reference answers, when present, in
`reference_answer/*.jsonl`: `{"question_id", "choices": [{"turns": [...]}]}`); built-in: eight instructions of our
own (single-turn)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import GenerationRequest, chat_prompt
from ..errors import KickUsageError
from . import Example, Outcome, Runner, field, find_data_folder, jsonl_records

LAYOUT = "instruction_following/ (or mt_bench/) with vicuna_bench/question.jsonl, question.jsonl ({question_id, category, turns})"
BENCHES = ("vicuna", "mt_bench")
TURN_BREAK = "\n\n[next turn]\n\n"


def read_questions(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    for n, rec in jsonl_records(path):
        where = f"{path}:{n}"
        turns = field(rec, "turns", "list[text]", where)
        out.append((str(field(rec, "question_id", "id", where, default=n)), field(rec, "category", "str", where, default=""), tuple(turns)))
    return out


def read_references(folder: Path) -> dict[str, tuple[str, ...]]:
    """question_id -> reference answer turns, from FastChat's reference_answer/*.jsonl (the first file found)."""
    files = sorted(folder.glob("reference_answer/*.jsonl"))
    if not files:
        return {}
    refs = {}
    for n, rec in jsonl_records(files[0]):
        where = f"{files[0]}:{n}"
        qid, choices = field(rec, "question_id", "id", where), field(rec, "choices", "list", where)
        if not choices:
            raise KickUsageError(f"{where}: field 'choices' must be a non-empty list of {{'turns': [...]}} objects, got an empty list")
        refs[str(qid)] = tuple(field(choices[0], "turns", "list[str]", where, name="choices[0].turns"))
    return refs


@dataclass(frozen=True)
class InstructionFollowing:
    """Options: `bench` ('vicuna' or 'mt_bench'), `categories` (e.g. ('writing', 'roleplay'); default all),
    `max_new_tokens` (default 256 per turn), `source`."""

    bench: str = "vicuna"
    categories: tuple[str, ...] | None = None
    max_new_tokens: int = 256
    source: str = "auto"
    free_text: bool = True

    def __post_init__(self) -> None:
        if self.bench not in BENCHES:
            raise KickUsageError(f"instruction_following: bench must be one of {', '.join(BENCHES)}, got {self.bench!r}")

    @property
    def name(self) -> str:
        return f"instruction_following[{self.bench}]"

    def load(self, data_dir: Path | None) -> list[Example]:
        root = find_data_folder("instruction_following", data_dir, self.source, LAYOUT, aliases=("mt_bench",))
        folder = root / "vicuna_bench" if self.bench == "vicuna" and (root / "vicuna_bench").is_dir() else root
        path = folder / "question.jsonl"
        if not path.is_file():
            raise KickUsageError(f"{root}: no {path.relative_to(root)}. Expected layout: {LAYOUT}")
        refs = read_references(folder)
        rows = read_questions(path)
        if self.bench == "vicuna" and any(len(turns) > 1 for *_, turns in rows):  # MT-Bench's, not Vicuna's
            raise KickUsageError(
                f"{path}: holds two-turn questions (MT-Bench's), not Vicuna's 80 single-turn ones: put Vicuna's at "
                f"{root}/vicuna_bench/question.jsonl, or gate bench='mt_bench'"
            )
        if self.bench == "mt_bench" and all(len(turns) == 1 for *_, turns in rows):  # Vicuna's (or ours), not MT-Bench's
            raise KickUsageError(
                f"{path}: holds single-turn questions only, not MT-Bench's two-turn ones: bench='mt_bench' needs FastChat's "
                "mt_bench/question.jsonl under --kick-data-dir, or gate bench='vicuna'"
            )
        if self.categories is not None:
            known = sorted({c for _, c, _ in rows})
            unknown = [c for c in self.categories if c not in known]
            if unknown:
                raise KickUsageError(f"instruction_following: unknown categories {', '.join(unknown)}; in the data: {', '.join(known)}")
            rows = [r for r in rows if r[1] in self.categories]
        return [
            Example(
                id=f"{self.bench}/{qid}",
                prompt=turns[0],
                answers=(TURN_BREAK.join(refs.get(qid, ())),),
                group=category,
                meta={"turns": turns if self.bench == "mt_bench" else turns[:1]},
            )
            for qid, category, turns in rows
        ]

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        histories: list[list[dict]] = [[] for _ in examples]
        answers: list[list[str]] = [[] for _ in examples]
        for turn in range(max(len(ex.meta["turns"]) for ex in examples)):
            asked = [i for i, ex in enumerate(examples) if turn < len(ex.meta["turns"])]
            for i in asked:
                histories[i].append({"role": "user", "content": examples[i].meta["turns"][turn]})
            requests = [GenerationRequest(chat_prompt(runner, histories[i]), ("\nUser:",), self.max_new_tokens) for i in asked]
            for i, text in zip(asked, runner.generate(requests)):
                answers[i].append(text.strip())
                histories[i].append({"role": "assistant", "content": text.strip()})
        return [Outcome(ex.id, False, TURN_BREAK.join(a), ex.answers[0]) for ex, a in zip(examples, answers)]
