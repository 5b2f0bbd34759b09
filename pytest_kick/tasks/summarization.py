"""In-context summarization (LLM-KICK): news stories summarized with the paper's instruction, scored against the
reference highlights (ROUGE) or against the dense model's summary (agreement), or by a judge. Stories are grouped
by length bucket (small / mid / large, the paper's buckets) and can be filtered with `buckets=`.

Data, by source:
- built-in: six short stories written for pytest-kick, in the CNN/DailyMail `.story` format (bucket 'small');
- dir: DATA_DIR/summarization/ (or cnn_dailymail/) with LLM-KICK's `new_question.jsonl` (`{"question_id", "text",
  "category"}`, the `@highlight` references still inline: they are cut off the prompt and become the reference),
  or `.story` files (story, then `@highlight` paragraphs) in one folder per bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import GenerationRequest
from ..errors import KickUsageError
from . import Example, Outcome, Runner, field, find_data_folder, jsonl_records, read_text

LAYOUT = "summarization/new_question.jsonl ({question_id, text, category}) or summarization/<bucket>/*.story"
INSTRUCTION = "Summarize the given story in less than 150 words while preserving high coherence, consistency, fluency, and relevance."
BUCKETS = ("small", "mid", "large")


@dataclass(frozen=True)
class Story:
    id: str
    bucket: str
    text: str
    reference: str


def split_highlights(text: str) -> tuple[str, list[str]]:
    """(story, highlights) of CNN/DailyMail text: everything before the first '@highlight', then one highlight per
    '@highlight' marker."""
    story, *parts = text.split("@highlight")
    return story.strip(), [" ".join(p.split()) for p in parts if p.strip()]


def read_questions(path: Path) -> list[Story]:
    stories = []
    for n, rec in jsonl_records(path):
        where = f"{path}:{n}"
        text, bucket = field(rec, "text", "text", where), field(rec, "category", "text", where)
        qid = field(rec, "question_id", "id", where, default=n)
        body, highlights = split_highlights(text.removeprefix(INSTRUCTION))
        if not highlights or not body:
            raise KickUsageError(f"{where}: no story or no '@highlight' reference in 'text'")
        stories.append(Story(f"{path.stem}/{qid}", bucket, body, " ".join(highlights)))
    return stories


def read_story(path: Path, bucket: str) -> Story:
    body, highlights = split_highlights(read_text(path))
    if not highlights or not body:
        raise KickUsageError(f"{path}: not a .story file (a story, then '@highlight' paragraphs)")
    return Story(f"{bucket}/{path.stem}", bucket, body, " ".join(highlights))


@dataclass(frozen=True)
class Summarization:
    """Options: `buckets` (e.g. ('small',); default all), `max_new_tokens` (default 200: about 150 words),
    `source`. The prompt is LLM-KICK's instruction, the story, then 'Summary:'; generation is greedy, and the
    summary is the text up to the first blank line after any leading whitespace."""

    buckets: tuple[str, ...] | None = None
    max_new_tokens: int = 200
    source: str = "auto"
    name: str = "summarization"
    free_text: bool = True  # no right answer: gate it with assert_generation_quality_within

    def stories(self, data_dir: Path | None) -> list[Story]:
        if self.source == "hub":
            raise KickUsageError("summarization reads local files only: use --kick-data-dir with cnn_dailymail/ (see the README)")
        root = find_data_folder("summarization", data_dir, self.source, LAYOUT, aliases=("cnn_dailymail",))
        questions = root / "new_question.jsonl"
        if questions.is_file():
            stories = read_questions(questions)
        else:
            stories = [read_story(p, p.parent.name) for p in sorted(root.glob("*/*.story"))]
        if not stories:
            raise KickUsageError(f"{root}: no stories. Expected layout: {LAYOUT}")
        if self.buckets is not None:
            unknown = sorted(set(self.buckets) - {s.bucket for s in stories})
            if unknown:
                raise KickUsageError(
                    f"summarization: no stories in bucket(s) {', '.join(unknown)}; found {sorted({s.bucket for s in stories})}"
                )
            stories = [s for s in stories if s.bucket in self.buckets]
        return stories

    def load(self, data_dir: Path | None) -> list[Example]:
        return [
            Example(id=s.id, prompt=f"{INSTRUCTION}\n\n{s.text}\n\nSummary:", answers=(s.reference,), group=s.bucket)
            for s in self.stories(data_dir)
        ]

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        # No stop string: a model often opens its summary with a blank line. The summary is what follows the
        # leading whitespace, up to the first blank line after it.
        texts = runner.generate([GenerationRequest(ex.prompt, (), self.max_new_tokens) for ex in examples])
        return [Outcome(ex.id, False, t.strip().split("\n\n", 1)[0].strip(), ex.answers[0]) for ex, t in zip(examples, texts)]
