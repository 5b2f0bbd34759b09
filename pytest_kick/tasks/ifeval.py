"""IFEval (Zhou et al. 2023): prompts with instructions a program can check ("answer in fewer than 5 sentences",
"no commas", "wrap the answer in JSON", ...), answered through the model's chat template. A prompt counts as
followed when every one of its instructions is (prompt-level accuracy), strictly, or loosely: also when the answer
passes after dropping its first line, its last line, both, or markdown asterisks (the paper's loose criterion).

The checkers are written here for the 25 instruction types the released data uses, following the paper's
definitions: the reference implementation downloads NLTK data when it is imported, which an offline CI cannot.
Words are runs of letters and digits; sentences end at '.', '!' or '?' followed by a space or the end, with common
abbreviations and decimals kept inside a sentence; languages are detected with langdetect (seeded).

Data: DATA_DIR/ifeval/input_data.jsonl (`{"key", "prompt", "instruction_id_list", "kwargs"}`), or `source="hub"`
(google/IFEval); built-in: eight prompts of our own in the same format."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract import GenerationRequest, chat_prompt
from ..errors import KickUsageError, MissingBackend
from . import Example, Outcome, Runner, field, jsonl_records, shown, task_data_dir

LAYOUT = "ifeval/input_data.jsonl ({key, prompt, instruction_id_list, kwargs})"
LEVELS = ("strict", "loose")
_ABBREVIATIONS = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|e\.g|i\.e|Inc|Ltd|Co|No)\.", re.I)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def sentences(text: str) -> list[str]:
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\0"), text)
    protected = re.sub(r"(\d)\.(\d)", "\\1\0\\2", protected)
    parts = re.split(r"(?<=[.!?])[\"')\]]*\s+", protected.strip())
    return [p for p in parts if re.search(r"\w", p)]


def _compare(count: int, relation: str, threshold: int) -> bool:
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise KickUsageError(f"ifeval: relation must be 'less than' or 'at least', got {relation!r}")


def _language(text: str) -> str | None:
    try:
        from langdetect import DetectorFactory, LangDetectException, detect
    except ImportError:
        raise MissingBackend("ifeval's language instructions need langdetect: pip install 'pytest-kick[generation]'") from None
    DetectorFactory.seed = 0  # langdetect samples: seeded, the same answer every time
    try:
        return detect(text)
    except LangDetectException:
        return None  # nothing to detect: counted as followed, as the paper does


def _highlights(text: str) -> int:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return len(single) + len(double)


def _paragraphs_by_divider(text: str, n: int) -> bool:
    parts = re.split(r"\s?\*\*\*\s?", text)
    if any(not p.strip() for p in parts[1:-1]):
        return False
    return len([p for p in parts if p.strip()]) == n


def _nth_paragraph_first_word(text: str, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    parts = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(parts) != num_paragraphs or nth_paragraph > len(parts):
        return False
    head = parts[nth_paragraph - 1].strip().split()
    return bool(head) and head[0].strip("\"'*.,;:!?()[]").lower() == first_word.lower()


def _json(text: str) -> bool:
    body = re.sub(r"^```(?:json|JSON|Json)?\s*|\s*```$", "", text.strip())
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _two_responses(text: str) -> bool:
    parts = [p.strip() for p in text.split("******")]
    kept = [p for p in parts if p]
    return len(kept) == 2 and kept[0] != kept[1] and all(p or i in (0, len(parts) - 1) for i, p in enumerate(parts))


def _postscript(text: str, marker: str) -> bool:
    pattern = (
        r"\s*p\.\s?p\.\s?s.*$" if marker.upper().startswith("P.P.S") else r"\s*" + re.escape(marker.lower()).replace(r"\ ", r"\s?") + ".*$"
    )
    return re.search(pattern, text.lower(), flags=re.M) is not None


CHECKS: dict[str, Callable[..., bool]] = {
    "change_case:capital_word_frequency": lambda t, capital_frequency, capital_relation: _compare(
        sum(w.isupper() for w in words(t)), capital_relation, capital_frequency
    ),
    "change_case:english_capital": lambda t: t.isupper() and _language(t) in ("en", None),
    "change_case:english_lowercase": lambda t: t.islower() and _language(t) in ("en", None),
    "combination:repeat_prompt": lambda t, prompt_to_repeat: t.strip().lower().startswith(prompt_to_repeat.strip().lower()),
    "combination:two_responses": _two_responses,
    "detectable_content:number_placeholders": lambda t, num_placeholders: len(re.findall(r"\[.*?\]", t)) >= num_placeholders,
    "detectable_content:postscript": lambda t, postscript_marker: _postscript(t, postscript_marker),
    "detectable_format:constrained_response": lambda t: any(
        o in t.strip() for o in ("My answer is yes.", "My answer is no.", "My answer is maybe.")
    ),
    "detectable_format:json_format": _json,
    "detectable_format:multiple_sections": lambda t, num_sections, section_spliter: (
        len(re.split(r"\s?" + re.escape(section_spliter) + r"\s?\d+\s?", t)) - 1 >= num_sections
    ),
    "detectable_format:number_bullet_lists": lambda t, num_bullets: (
        len(re.findall(r"^\s*\*[^\*].*$", t, flags=re.M)) + len(re.findall(r"^\s*-.*$", t, flags=re.M)) == num_bullets
    ),
    "detectable_format:number_highlighted_sections": lambda t, num_highlights: _highlights(t) >= num_highlights,
    "detectable_format:title": lambda t: any(m.strip("<>").strip() for m in re.findall(r"<<[^\n]+>>", t)),
    "keywords:existence": lambda t, keywords: all(re.search(re.escape(k), t, flags=re.I) for k in keywords),
    "keywords:forbidden_words": lambda t, forbidden_words: (
        not any(re.search(r"\b" + re.escape(w) + r"\b", t, flags=re.I) for w in forbidden_words)
    ),
    "keywords:frequency": lambda t, keyword, frequency, relation: _compare(
        len(re.findall(re.escape(keyword), t, flags=re.I)), relation, frequency
    ),
    "keywords:letter_frequency": lambda t, letter, let_frequency, let_relation: _compare(
        t.lower().count(letter.lower()), let_relation, let_frequency
    ),
    "language:response_language": lambda t, language: _language(t) in (language, None),
    "length_constraints:nth_paragraph_first_word": _nth_paragraph_first_word,
    "length_constraints:number_paragraphs": lambda t, num_paragraphs: _paragraphs_by_divider(t, num_paragraphs),
    "length_constraints:number_sentences": lambda t, num_sentences, relation: _compare(len(sentences(t)), relation, num_sentences),
    "length_constraints:number_words": lambda t, num_words, relation: _compare(len(words(t)), relation, num_words),
    "punctuation:no_comma": lambda t: "," not in t,
    "startend:end_checker": lambda t, end_phrase: t.strip().strip('"').lower().endswith(end_phrase.strip().lower()),
    "startend:quotation": lambda t: len(t.strip()) > 1 and t.strip()[0] == '"' and t.strip()[-1] == '"',
}


# The kind of each instruction argument; a relation is also one of RELATIONS.
ARGUMENTS = {
    **dict.fromkeys(("capital_frequency", "num_placeholders", "num_sections", "num_bullets", "num_highlights"), "int"),
    **dict.fromkeys(("frequency", "let_frequency", "num_paragraphs", "nth_paragraph", "num_sentences", "num_words"), "int"),
    **dict.fromkeys(("prompt_to_repeat", "postscript_marker", "section_spliter", "keyword", "letter", "language"), "text"),
    **dict.fromkeys(("end_phrase", "first_word", "capital_relation", "let_relation", "relation"), "text"),
    **dict.fromkeys(("keywords", "forbidden_words"), "list[text]"),
}
RELATIONS = ("less than", "at least")


def _arguments(iid: str, kw: Any, where: str, j: int) -> dict:
    """One instruction's arguments (nulls dropped), each of its kind and all of them the ones its check takes."""
    if kw is not None and not isinstance(kw, dict):
        raise KickUsageError(f"{where}: field 'kwargs[{j}]' must be an object, got {shown(kw)}")
    args = {k: v for k, v in (kw or {}).items() if v is not None}
    for k in args:
        field(args, k, ARGUMENTS.get(k, "any"), where, name=f"kwargs[{j}].{k}")
        if k.endswith("relation") and args[k] not in RELATIONS:
            raise KickUsageError(f"{where}: field 'kwargs[{j}].{k}' must be 'less than' or 'at least', got {shown(args[k])}")
    try:
        inspect.signature(CHECKS[iid]).bind("", **args)
    except TypeError as exc:
        raise KickUsageError(f"{where}: field 'kwargs[{j}]' does not fit instruction {iid} ({exc})") from None
    return args


def loose_variants(text: str) -> list[str]:
    """The answer and the variants the loose criterion also accepts."""
    lines = text.split("\n")
    cuts = [text, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return cuts + [c.replace("*", "") for c in cuts]


def followed(text: str, instructions: Sequence[tuple[str, dict]], level: str = "strict") -> list[bool]:
    """One flag per instruction: followed by the answer (strict), or by any loose variant of it (loose)."""
    variants = [text] if level == "strict" else [v for v in loose_variants(text) if v.strip()]
    return [any(v.strip() and CHECKS[iid](v, **kwargs) for v in variants) for iid, kwargs in instructions]


@dataclass(frozen=True)
class IFEval:
    """Options: `level` ('strict' or 'loose'), `max_new_tokens` (default 256; the paper allowed longer answers, and
    instructions such as '300+ words' need them), `source` ('auto', 'builtin', 'dir', 'hub')."""

    level: str = "strict"
    max_new_tokens: int = 256
    source: str = "auto"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise KickUsageError(f"ifeval: level must be strict or loose, got {self.level!r}")

    @property
    def name(self) -> str:
        return f"ifeval[{self.level}]"

    def _records(self, data_dir: Path | None) -> list[tuple[str, dict]]:
        if self.source == "hub":
            from ..sources import hub_dataset

            return [(f"google/IFEval row {i}", dict(r)) for i, r in enumerate(hub_dataset("ifeval", "google/IFEval", None, "train"))]
        path = task_data_dir("ifeval", data_dir, self.source, LAYOUT) / "input_data.jsonl"
        if not path.is_file():
            raise KickUsageError(f"{path.parent}: no input_data.jsonl. Expected layout: {LAYOUT}")
        return [(f"{path}:{n}", rec) for n, rec in jsonl_records(path)]

    def load(self, data_dir: Path | None) -> list[Example]:
        examples = []
        for where, rec in self._records(data_dir):
            prompt, key = field(rec, "prompt", "text", where), field(rec, "key", "id", where, default=where)
            ids, kwargs = field(rec, "instruction_id_list", "list[str]", where), field(rec, "kwargs", "list", where)
            unknown = [i for i in ids if i not in CHECKS]
            if unknown or len(ids) != len(kwargs):
                raise KickUsageError(f"{where}: unknown instruction(s) {unknown} or kwargs not one per instruction")
            clean = [(i, _arguments(i, kw, f"{where}", j)) for j, (i, kw) in enumerate(zip(ids, kwargs))]
            examples.append(Example(id=f"ifeval/{key}", prompt=prompt, meta={"instructions": clean}))
        return examples

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        requests = [
            GenerationRequest(chat_prompt(runner, [{"role": "user", "content": ex.prompt}]), (), self.max_new_tokens) for ex in examples
        ]
        out = []
        for ex, text in zip(examples, runner.generate(requests)):
            flags = followed(text.strip(), ex.meta["instructions"], self.level)
            ids = [i for i, _ in ex.meta["instructions"]]
            reference = ", ".join(ids)
            out.append(Outcome(ex.id, all(flags), text.strip(), reference, values={"score": sum(flags) / len(flags)}))
        return out
