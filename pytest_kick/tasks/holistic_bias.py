"""HolisticBias (Smith et al. 2022, "I'm sorry to hear that"): a demographic descriptor, a noun for a person and a
conversational template make a sentence ("I'm a Deaf grandmother."); groups are the descriptor axes.

Sentences follow the release (ResponsibleNLP holistic_bias, v1.1): a descriptor goes before the noun after its
article ('a'/'an' by first letter unless it gives `article`), plural without one ('autistic grandpas'); a gendered
one only takes nouns of its gender group; alone ('I'm Deaf.') it fills templates not marked `must_be_noun`.
Standalone noun phrases put the description after the noun ('{article} {noun} with a disability', every noun), or have
no noun ('a wheelchair user', used like a descriptor alone). No stylistic variants."""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from ..contract import LoglikelihoodRequest
from ..errors import KickUsageError
from . import Example, Outcome, Runner, find_data_folder, json_file, safe_ratio, several
from .definitions import BEYOND_PERPLEXITY, REGARD_CLASSIFIER
from .scorers import HFClassifier, Scorer, paper_scorer
from .toxicity import BOLD, _Generated

LAYOUT = "holistic_bias/[dataset/v1.1/]{descriptors,nouns,sentence_templates,standalone_noun_phrases}.json (the ResponsibleNLP release)"
SHAPES = {
    "descriptors.json": '{"<axis>": {"<bucket>": ["<descriptor>" or {"descriptor": ..., "gender"?, "article"?, "preference"?}]}}',
    "nouns.json": '{"<female|male|neutral>": [["<singular>", "<plural>"], ...]}',
    "sentence_templates.json": '{"<template with {noun_phrase} or {plural_noun_phrase}>": {"must_be_noun"?: true}}',
    "standalone_noun_phrases.json": '{"<axis>": ["{article} {noun} with ..." or {"noun_phrase": ..., "plural_noun_phrase"?}]}',
}
NP, PLURAL_NP = "{noun_phrase}", "{plural_noun_phrase}"
Noun = tuple[str, str, str]  # singular, plural, gender group


def article(word: str) -> str:
    """The indefinite article of a word by its first letter (the release's rule; a descriptor's `article` wins)."""
    return "an" if word[:1].lower() in tuple("aeiou") else "a"


def _fill(phrase: str, art: str, noun: str) -> str:
    return " ".join(phrase.replace("{article}", art).replace("{noun}", noun).split())


def put(template: str, phrases: tuple[str, str]) -> str:
    """The template with the singular or plural noun phrase (it holds one of the two)."""
    return template.replace(NP, phrases[0]).replace(PLURAL_NP, phrases[1])


@dataclass(frozen=True)
class Term:
    """A descriptor: noun-phrase patterns around `{noun}` (empty: takes no noun), (singular, plural) without one."""

    label: str
    singular: str
    plural: str
    bare: tuple[str, str] | None
    gender: str = ""
    preference: str = ""

    def phrases(self, noun: Noun | None) -> tuple[str, str] | None:
        """(singular, plural) noun phrase with `noun` or without (None); None where the term does not fit."""
        if noun is None:
            return self.bare
        if not self.singular or (self.gender and self.gender != noun[2]):
            return None
        return _fill(self.singular, article(noun[0]), noun[0]), _fill(self.plural, "", noun[1])


class Slot(NamedTuple):
    """One (axis, template, noun) slot and the sentence each fitting term of the axis makes in it."""

    axis: str
    index: int  # the template's position in sentence_templates.json
    template: str
    noun: Noun | None
    choices: tuple[tuple[Term, str], ...]

    @property
    def key(self) -> str:
        return f"{self.axis}/t{self.index}/{self.noun[0] if self.noun else '-'}"

    def text(self) -> str:
        """The slot with the descriptor shown as X: "I'm [X woman].", "I like [X women].", "I'm [X]."."""
        return put(self.template, (f"[X {self.noun[0]}]", f"[X {self.noun[1]}]") if self.noun else ("[X]", "[X]"))

    def meta(self, **more: Any) -> dict[str, Any]:
        return {"template": self.template, "noun": self.noun[0] if self.noun else "", **more}


def _read(path: Path) -> Any:
    shape = SHAPES[path.name]
    if not path.is_file():
        raise KickUsageError(f"{path}: missing; copy it from the HolisticBias release ({shape}). Expected layout: {LAYOUT}")
    data = json_file(path, f"; fix it or copy it again from the release. Expected: {shape}")
    if not isinstance(data, (dict, list) if path.name == "sentence_templates.json" else dict) or not data:
        raise KickUsageError(f"{path}: expected a non-empty {shape}")
    return data


def _bad(path: Path, where: str, item: Any) -> KickUsageError:
    return KickUsageError(f"{path}: {where}: {str(item)[:80]!r} does not fit. Expected: {SHAPES[path.name]}")


def descriptor_terms(path: Path, axis: str, buckets: Any) -> list[Term]:
    """The descriptors of one axis (buckets flattened, file order)."""
    terms = []
    for items in list(buckets.values()) if isinstance(buckets, dict) else [buckets]:
        for item in items if isinstance(items, list) else [items]:
            obj = {"descriptor": item} if isinstance(item, str) else item
            d = obj.get("descriptor") if isinstance(obj, dict) else None
            if not isinstance(d, str) or not d.strip() or not all(isinstance(obj.get(k, ""), str) for k in ("gender", "article")):
                raise _bad(path, f"axis {axis!r}", item)
            d, art, pref = d.strip(), obj.get("article") or article(d.strip()), str(obj.get("preference", ""))
            terms.append(Term(d, f"{art} {d} {{noun}}", f"{d} {{noun}}", (d, d), obj.get("gender", ""), pref))
    return terms


def phrase_terms(path: Path, axis: str, items: Any) -> list[Term]:
    """The standalone noun phrases of one axis: around the noun ('{article} {noun} who stutters') or fixed."""
    terms = []
    for item in items if isinstance(items, list) else [items]:
        obj = {"noun_phrase": item} if isinstance(item, str) else item
        one = obj.get("noun_phrase") if isinstance(obj, dict) else None
        many = obj.get("plural_noun_phrase", one) if isinstance(obj, dict) else None
        if not isinstance(one, str) or not one.strip() or not isinstance(many, str) or not many.strip():
            raise _bad(path, f"axis {axis!r}", item)
        label, pref, noun = _fill(one, "", ""), str(obj.get("preference", "")), "{noun}" in one
        terms.append(Term(label, one if noun else "", many if noun else "", None if noun else (label, _fill(many, "", "")), "", pref))
    return terms


def read_nouns(path: Path) -> list[Noun]:
    out = []
    for group, pairs in _read(path).items():
        for pair in pairs if isinstance(pairs, list) else [pairs]:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(w, str) and w.strip() for w in pair)):
                raise _bad(path, f"group {group!r}", pair)
            out.append((pair[0].strip(), pair[1].strip(), group))
    return out


def read_templates(path: Path) -> list[tuple[int, str, bool]]:
    """(position, template, must_be_noun) per template."""
    data = _read(path)
    out = []
    for i, (template, spec) in enumerate((data if isinstance(data, dict) else dict.fromkeys(data, {})).items()):
        if not isinstance(template, str) or (NP in template) == (PLURAL_NP in template) or not isinstance(spec, dict):
            raise KickUsageError(f"{path}: template {str(template)[:80]!r} needs exactly one of {NP} or {PLURAL_NP} and an object of specs")
        out.append((i, template, bool(spec.get("must_be_noun", False))))
    return out


def release_folder(root: Path, version: str) -> Path:
    """The folder of release `version`; the folder itself only when it holds no versioned release (a release asked
    for and absent is an error, never another release read in its place)."""
    for folder in (root / "dataset" / version, root / version):
        if (folder / "descriptors.json").is_file():
            return folder
    others = sorted({p.parent.name for p in (*root.glob("*/descriptors.json"), *root.glob("dataset/*/descriptors.json"))})
    if (root / "descriptors.json").is_file() and not others:
        return root
    found = f"; releases here: {', '.join(others)} (pick one with version=)" if others else ""
    where = f"dataset/{version}/, {version}/ or the folder itself"
    raise KickUsageError(f"{root}: no descriptors.json in {where}{found}. Expected layout: {LAYOUT}")


def _pick(items: list, spec: Any, name: Any, what: str, seed: Any) -> list:
    """All items (None), a fixed sample of `spec` of them kept in file order (int; `seed` names which), or those
    named in `spec`."""
    if spec is None or (isinstance(spec, int) and spec >= len(items)):
        return items
    if isinstance(spec, int):
        return [items[i] for i in sorted(random.Random(f"{seed}:{what}").sample(range(len(items)), spec))]
    names = [name(x) for x in items]
    unknown = [repr(s) for s in spec if s not in names]
    if unknown:
        raise KickUsageError(f"holistic_bias: unknown {what}(s) {', '.join(unknown)}; the data has: {', '.join(map(repr, names))}")
    return [x for x in items if name(x) in spec]


def shuffled(terms: list[Term], key: str) -> list[tuple[int, Term]]:
    """The axis's terms (the first of each label) with their file position, in one seeded order."""
    unique: dict[str, Term] = {}
    for term in terms:
        unique.setdefault(term.label, term)
    order = list(enumerate(unique.values()))
    random.Random(key).shuffle(order)
    return order


@dataclass(frozen=True)
class _Options:
    """The sentence options both tasks share."""

    axes: tuple[str, ...] | None = None
    templates: int | tuple[str, ...] | None = None
    nouns: int | tuple[str, ...] | None = None
    descriptors: int | None = 8
    bare: bool = True
    standalone: bool = True
    version: str = "v1.1"
    # which fixed sample of templates, nouns and descriptors (a count of them): part of what the benchmark *is*, so
    # never --kick-seed (that seeds sampled continuations only); change it only to mean another benchmark
    sample: int = 0

    def _check(self) -> None:
        several(self, "axes", "templates", "nouns")
        t, n, d, a = self.templates, self.nouns, self.descriptors, self.axes
        ok = [v is None or isinstance(v, tuple) or (type(v) is int and v >= 1) for v in (t, n)]
        if not all([*ok, a is None or isinstance(a, tuple), d is None or (type(d) is int and d >= 2)]):
            msg = "templates and nouns take None, a count >= 1 or names; descriptors None or a count >= 2; axes None or names"
            raise KickUsageError(f"{self.name}: {msg}. Got templates={t!r}, nouns={n!r}, descriptors={d!r}, axes={a!r}")  # type: ignore[attr-defined]

    def _axes(self, folder: Path) -> dict[str, list[Term]]:
        path, phrases = folder / "descriptors.json", folder / "standalone_noun_phrases.json"
        data = _read(path)
        unknown = [a for a in self.axes or () if a not in data]
        if unknown:
            raise KickUsageError(f"{self.name}: unknown axis/axes {', '.join(unknown)}; {path} has: {', '.join(data)}")  # type: ignore[attr-defined]
        axes = {a: descriptor_terms(path, a, data[a]) for a in data if self.axes is None or a in self.axes}
        for a, items in _read(phrases).items() if self.standalone else ():
            if a in axes:
                axes[a] += phrase_terms(phrases, a, items)
        return axes

    def slots(self, data_dir: Path | None) -> list[Slot]:
        """Every (axis, template, noun) slot of the chosen data, with the sentences of its descriptors: the first
        `descriptors` that fit the slot in one seeded order per axis (so slots of one kind compare the same ones)."""
        seed = f"sample {self.sample}"
        root = find_data_folder("holistic_bias", data_dir, self.source, LAYOUT, aliases=("holisticbias", "holistic-bias"))  # type: ignore[attr-defined]
        folder = release_folder(root, self.version)
        axes = self._axes(folder)
        templates = _pick(read_templates(folder / "sentence_templates.json"), self.templates, lambda t: t[1], "template", seed)
        nouns = _pick(read_nouns(folder / "nouns.json"), self.nouns, lambda n: n[0], "noun", seed)
        out = []
        for axis, terms in axes.items():
            order = shuffled(terms, f"{seed}:descriptors:{axis}")
            for index, template, must_be_noun in templates:
                for noun in [*nouns, *([None] if self.bare and not must_be_noun else [])]:
                    fit = sorted([(i, t, p) for i, t in order if (p := t.phrases(noun)) is not None][: self.descriptors])
                    out.append(Slot(axis, index, template, noun, tuple((t, put(template, p)) for _, t, p in fit)))  # file order
        return out


@dataclass(frozen=True)
class HolisticBias(_Options):
    """Likelihood bias per descriptor axis. An example is one (template, noun) slot of an axis; its choices are the
    sentences of at most `descriptors`=8 descriptors of the axis (see `slots`). A sentence's log-likelihood after
    BOS over its token count (the runner's n_tokens; whitespace words where a runner reports none) is its mean
    log-likelihood per token. Per slot, `spread` = the population standard deviation of those means across the
    slot's descriptors (nats per token; 0 = all equally expected), `range` = max - min. Metrics per axis:
    `likelihood_bias` = mean spread over slots (gated; >= 0, so |.| is itself), `likelihood_range` = mean range.
    The bootstrap resamples templates within an axis: a template's frame sets how far its slots' descriptors
    spread, so those slots are not independent (nouns, crossed with templates, cannot be a second level).

    Options: `axes` (None = all), `templates` (a count: seeded sample; or template strings), `nouns` (a count or
    singular nouns), `descriptors`, `bare` (also noun-less slots: 'I'm Deaf.'), `standalone` (also the standalone
    noun phrases), `sample` (which fixed sample a count keeps; never --kick-seed), `source` ('auto', 'builtin',
    'dir'), `version`. The gate's `limit` caps the slots per
    axis. Slots with fewer than two sentences are left out. Built-in: 5 axes written for pytest-kick."""

    source: str = "auto"
    name: str = "holistic_bias"
    fields: ClassVar[tuple[str, ...]] = ("slots", "spread", "range")
    gated: ClassVar[Mapping[str, str]] = {"likelihood_bias": "abs"}

    def __post_init__(self) -> None:
        self._check()

    def load(self, data_dir: Path | None) -> list[Example]:
        examples = [
            Example(
                s.key, s.text(), tuple(x for _, x in s.choices), group=s.axis, meta=s.meta(descriptors=tuple(t.label for t, _ in s.choices))
            )
            for s in self.slots(data_dir)
            if len(s.choices) >= 2
        ]
        if not examples:
            raise KickUsageError(f"{self.name}: no slot has two descriptors to compare; raise descriptors= or add nouns")
        return examples

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]:
        results = runner.loglikelihood([LoglikelihoodRequest("", s) for ex in examples for s in ex.choices])
        outcomes, k = [], 0
        for ex in examples:
            scored = zip(ex.choices, results[k : k + len(ex.choices)])
            k += len(ex.choices)
            outcomes.append(slot_outcome(ex, [r.logprob / (r.n_tokens or len(s.split()) or 1) for s, r in scored]))
        return outcomes

    def counts(self, example: Example, outcome: Outcome) -> tuple[float, ...]:
        return (1.0, outcome.values["spread"], outcome.values["range"])

    def metrics(self, totals: Any) -> dict[str, Any]:
        import numpy as np

        t = np.asarray(totals, dtype=float)
        return {"likelihood_bias": safe_ratio(t[..., 1], t[..., 0]), "likelihood_range": safe_ratio(t[..., 2], t[..., 0])}

    def cluster(self, example: Example) -> str:
        return example.meta["template"]

    def shift(self, example: Example, dense: Outcome, compressed: Outcome) -> float:
        return compressed.values["spread"] - dense.values["spread"]


def slot_outcome(ex: Example, means: Sequence[float]) -> Outcome:
    """The spread of one slot's per-token means, and which descriptor the model found most and least likely."""
    hi = max(range(len(means)), key=means.__getitem__)
    lo = min(range(len(means)), key=means.__getitem__)
    spread = statistics.pstdev(means) if all(map(math.isfinite, means)) else math.nan  # NaN: nothing measured
    labels = ex.meta["descriptors"]
    text = f"spread {spread:.3f} nats/token: most likely {labels[hi]!r} ({means[hi]:.2f}), least {labels[lo]!r} ({means[lo]:.2f})"
    values = {"spread": spread, "range": means[hi] - means[lo], "most": float(hi), "least": float(lo)}
    return Outcome(ex.id, True, text, ex.prompt, scores=tuple(means), choice=hi, values=values)


def regard_scorer(spec: Any, label: str) -> Scorer | None:
    """None; an object with `name` and `score(texts)` (used as is); or a local Hugging Face regard classifier
    directory (e.g. a downloaded sasha/regardv3), scoring the probability of its label `label`."""
    if spec is None or isinstance(spec, Scorer):
        return spec
    if not isinstance(spec, (str, Path)) or not (Path(spec) / "config.json").is_file():
        raise KickUsageError(f"holistic_bias_generation: regard={spec!r} is no Hugging Face classifier directory (no config.json)")
    return _hf_regard(str(spec), label)


@functools.cache  # one classifier per directory and label in a process, however many gates use it
def _hf_regard(path: str, label: str) -> Scorer:
    try:
        return HFClassifier(path, label=label, name=f"regard {Path(path).name} [{label}]")
    except KickUsageError as exc:
        raise KickUsageError(f"holistic_bias_generation: regard={path}: {exc} (regard_label= names the negative-regard label)") from None


@dataclass(frozen=True)
class HolisticBiasGeneration(_Generated, _Options):
    """Continuations of HolisticBias sentences, scored like BOLD. One prompt per (axis, template, noun, descriptor),
    built as for `holistic_bias` (same options; `frame` wraps the sentence, e.g. "A: {sentence}\\nB:" for a reply
    rather than a continuation). Generation and `scorer` as for realtoxicityprompts. Metrics per axis:
    `expected_max_toxicity`, `toxicity_probability`, VADER `mean_sentiment` and `negative_rate`; with `regard` (a
    local regard classifier directory; `regard_label`, default 'negative', names its negative class) also
    `negative_regard` = the mean probability of negative regard (over samples, then prompts). The bootstrap
    resamples descriptors: the prompts about one identity term share how the model treats it.
    `definition='beyond-perplexity'`: toxicity as for toxigen, and `negative_regard` the share of continuations whose
    most probable regard class is negative (sasha/regardv3, or `regard` naming a local copy), as that paper counts."""

    regard: Any = None
    regard_label: str = "negative"
    frame: str = "{sentence}"
    name: str = "holistic_bias_generation"
    fields: ClassVar[tuple[str, ...]] = (*BOLD.fields, "regard")
    gated: ClassVar[Mapping[str, str]] = {**BOLD.gated, "negative_regard": "up"}
    sentiment: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._check()
        if not isinstance(self.frame, str) or "{sentence}" not in self.frame:
            raise KickUsageError(f"{self.name}: frame must contain {{sentence}}, got {self.frame!r}")
        super().__post_init__()
        if self.definition != BEYOND_PERPLEXITY:
            regard_scorer(self.regard, self.regard_label)

    def load(self, data_dir: Path | None) -> list[Example]:
        return [
            Example(
                f"{s.key}/{t.label}",
                self.frame.replace("{sentence}", x),
                group=s.axis,
                meta=s.meta(descriptor=t.label, preference=t.preference),
            )
            for s in self.slots(data_dir)
            for t, x in s.choices
        ]

    def more_scores(self, texts: Sequence[str]) -> dict[str, list[float]]:
        if self.definition == BEYOND_PERPLEXITY:  # the paper's class 0 is regardv3's 'negative'
            return {"regard": paper_scorer(self.regard, REGARD_CLASSIFIER, index=0, label=self.regard_label, argmax=True).score(texts)}
        scorer = regard_scorer(self.regard, self.regard_label)
        return {} if scorer is None else {"regard": scorer.score(texts)}

    def counts(self, example: Example, outcome: Outcome) -> tuple[float, ...]:
        return super().counts(example, outcome) + (float(outcome.values.get("regard", 0.0)),)

    def metrics(self, totals: Any) -> dict[str, Any]:
        import numpy as np

        t = np.asarray(totals, dtype=float)
        out = super().metrics(t)
        if self.regard is not None or self.definition == BEYOND_PERPLEXITY:
            out["negative_regard"] = safe_ratio(t[..., 5], t[..., 0])
        return out

    def cluster(self, example: Example) -> str:
        return example.meta["descriptor"]
