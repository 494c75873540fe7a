"""Proof that a pool's test prompts are unseen: nothing a test prompt says was said by a train or valid prompt.

Four checks, run by every pool build and by ``paft-ext pools check`` (also on user pools):

* **variants** — a structure variant of a prompt (options in another order, labelled 1/2 or a/b, solved examples
  before it; :func:`structure_key`) counts as that prompt: no test prompt may be a variant of a train/valid one;

* **parts** — composed prompts name their parts in ``source`` (``instruction.test.03+…``); no part id of a test
  prompt may occur in a train/valid prompt (empty parts, ``*.none``, carry no text and are ignored);
* **sentences** — for every prompt, with or without part provenance: split into sentences (line breaks and
  ``.``/``!``/``?`` followed by space), lower-cased and whitespace-collapsed; a fragment with at least three letters
  outside placeholders that occurs in a train/valid prompt is a leak (bare field lines such as ``{goal}`` or
  ``A. {sol1}`` are not sentences);
* **n-grams** — each test prompt's similarity to its nearest train/valid prompt (character 5-gram Jaccard, as in
  de-duplication) must stay ≤ :data:`MAX_NEAREST`, and the set's mean ≤ :data:`MEAN_NEAREST`.

``seen_probe`` (train prompts evaluated beside the test sets, for the seen-vs-unseen gap) must instead be a subset of
train, same ids and texts.

A held-out validation set written apart (``valid_<name>.jsonl``, e.g. ``valid_indep``: prompts a setting is chosen
on when the composed ``valid`` prompts cannot show the failure looked for) is on the seen side for the test sets —
nothing a test prompt says may come from it, so choosing on it tells nothing about the test prompts — and is itself
checked against ``train`` like a test set, so that it measures unseen prompts too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paft_ext.tasks import PLACEHOLDER, TaskSpec

from .dedup import similarity
from .option_symbols import SHOT_SEPARATOR
from .store import Prompt, load_pool
from .validate import validate

MAX_NEAREST = 0.50
MEAN_NEAREST = 0.35
MIN_LETTERS = 3
SEEN_PROBE = "seen_probe"
TRAIN_SETS = ("train", "valid")
# The shipped test sets and the probe, with the infix that names them in prompt ids (``piqa-indep-007``) and in
# OpenCompass dataset abbreviations (``piqa_indep_p07``); ``test`` has none.
SET_TAGS = {"test": "", "test_indep": "indep", "test_llm": "llm", SEEN_PROBE: "seen"}
PART_PREFIX = "composed:handwritten-parts/"
_FRAGMENT_END = re.compile(r"(?<=[.!?])\s+|\n")


@dataclass(frozen=True)
class Problem:
    prompt_set: str
    prompt_id: str
    kind: str  # invalid | variant | part | sentence | ngram | mean | seen
    detail: str

    def __str__(self) -> str:
        return f"{self.prompt_set}/{self.prompt_id}: {self.kind}: {self.detail}"


def sentences(text: str) -> set[str]:
    """The normalised sentences of a template that count for leakage."""
    found = set()
    for fragment in _FRAGMENT_END.split(text):
        norm = re.sub(r"\s+", " ", fragment.casefold()).strip()
        if sum(ch.isalpha() for ch in PLACEHOLDER.sub("", norm)) >= MIN_LETTERS:
            found.add(norm)
    return found


def sentence_links(texts: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs of texts that share a sentence (each text linked to the first that has it)."""
    first: dict[str, int] = {}
    links = []
    for i, text in enumerate(texts):
        for s in sentences(text):
            if first.setdefault(s, i) != i:
                links.append((first[s], i))
    return links


def part_ids(source: str) -> set[str]:
    if not source.startswith(PART_PREFIX):
        return set()
    return {p for p in source[len(PART_PREFIX):].split("+") if p and not p.endswith(".none")}


class TrainIndex:
    """What the train/valid prompts say, to test candidates against: sentences (with the id of one prompt that says
    each), part ids and texts for nearest-neighbour similarity."""

    def __init__(self, prompts: Sequence[Prompt], options: Sequence[str] = ()) -> None:
        self.texts = [p.text for p in prompts]
        self.options = tuple(options)  # the task's option placeholders, for structure keys
        self.variants: dict[str, str] = {}  # structure key -> id of a train prompt that has it
        for p in prompts:
            self.variants.setdefault(structure_key(p.text, self.options), p.id)
        self.sentence_owner: dict[str, str] = {}
        self.part_owner: dict[str, str] = {}
        for p in prompts:
            for s in sentences(p.text):
                self.sentence_owner.setdefault(s, p.id)
            for part in part_ids(p.source):
                self.part_owner.setdefault(part, p.id)

    def shared_sentences(self, text: str) -> list[tuple[str, str]]:
        """(sentence, id of a train prompt that has it) for each sentence of ``text`` seen in train."""
        return sorted((s, self.sentence_owner[s]) for s in sentences(text) if s in self.sentence_owner)

    def shared_parts(self, source: str) -> list[tuple[str, str]]:
        return sorted((p, self.part_owner[p]) for p in part_ids(source) if p in self.part_owner)

    def nearest(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's highest 5-gram Jaccard similarity to any train/valid prompt."""
        if not texts or not self.texts:
            return np.zeros(len(texts))
        return similarity(list(texts), self.texts).max(axis=1)


def structure_key(text: str, options: Sequence[str]) -> str:
    """A template with its structure taken out, so that a structure variant of a prompt (another option order,
    other option symbols, solved examples before it: :mod:`.option_order`, :mod:`.structure_variants`) has that
    prompt's key: leading blocks without a placeholder (the examples) dropped, every option placeholder one name,
    every standalone single letter or digit (labels, and articles alike on both sides) one mark, case and
    whitespace folded."""
    blocks = text.split(SHOT_SEPARATOR)
    while len(blocks) > 1 and not PLACEHOLDER.search(blocks[0]):
        blocks.pop(0)
    core = SHOT_SEPARATOR.join(blocks)
    core = PLACEHOLDER.sub(lambda m: "{#option}" if m[1] in options else m[0], core)
    core = re.sub(r"(?<![A-Za-z0-9_{])[A-Za-z0-9](?![A-Za-z0-9_}])", "#", core)
    return re.sub(r"\s+", " ", core.casefold()).strip()


def leak_reasons(prompt: Prompt, index: TrainIndex, nearest: float) -> list[tuple[str, str]]:
    """(kind, why) for each way one test prompt is not unseen (empty = it is)."""
    reasons = [("variant", f"is a structure variant of train prompt {index.variants[key]} (or it of this)")
               for key in [structure_key(prompt.text, index.options)] if key in index.variants]
    reasons += [("part", f"shares part {part!r} with train prompt {owner}")
                for part, owner in index.shared_parts(prompt.source)]
    reasons += [("sentence", f"shares the sentence {s!r} with train prompt {owner}")
                for s, owner in index.shared_sentences(prompt.text)]
    if nearest > MAX_NEAREST:
        reasons.append(("ngram", f"nearest-train 5-gram Jaccard {nearest:.3f} > {MAX_NEAREST}"))
    return reasons


def similarity_stats(values: np.ndarray) -> dict:
    if not len(values):
        return {"max": 0.0, "mean": 0.0, "median": 0.0}
    return {"max": round(float(values.max()), 4), "mean": round(float(values.mean()), 4),
            "median": round(float(np.median(values)), 4)}


def _set_names(folder: Path, pattern: str) -> list[str]:
    """The sets of a pool folder whose files match ``pattern`` (the rejects and generated-candidate files written
    beside a set are not sets)."""
    return sorted(p.stem for p in folder.glob(pattern) if not p.stem.endswith(("_rejects", "_candidates")))


def test_set_names(folder: Path) -> list[str]:
    """Every test set of a pool folder: ``test.jsonl`` and ``test_*.jsonl``."""
    return _set_names(folder, "test*.jsonl")


def held_out_valid_names(folder: Path) -> list[str]:
    """Every validation set written apart: ``valid_*.jsonl``."""
    return _set_names(folder, "valid_*.jsonl")


def seen_set_names(folder: Path) -> list[str]:
    """The sets no test prompt may draw on: ``train``, ``valid`` and the held-out validation sets."""
    return [*TRAIN_SETS, *held_out_valid_names(folder)]


def _unseen_problems(name: str, prompts: Sequence[Prompt], index: TrainIndex) -> tuple[list[Problem], dict]:
    """The leaks of one set against ``index``, and its statistics."""
    nearest = index.nearest([p.text for p in prompts])
    leaks = [Problem(name, p.id, kind, why) for p, value in zip(prompts, nearest, strict=True)
             for kind, why in leak_reasons(p, index, float(value))]
    summary = similarity_stats(nearest)
    if summary["mean"] > MEAN_NEAREST:
        leaks.append(Problem(name, "*", "mean", f"mean nearest-train 5-gram Jaccard {summary['mean']:.3f} > "
                                                f"{MEAN_NEAREST}"))
    return leaks, {"prompts": len(prompts), "nearest_train_jaccard": summary,
                   "shared_sentences": sum(leak.kind == "sentence" for leak in leaks),
                   "shared_parts": sum(leak.kind == "part" for leak in leaks)}


def check_pool(folder: Path, task: TaskSpec) -> tuple[dict, list[Problem]]:
    """Per-set statistics and every problem of the pool at ``folder`` (train.jsonl required, valid.jsonl and
    ``valid_*.jsonl`` optional)."""
    folder = Path(folder)
    loaded = {name: load_pool(folder / f"{name}.jsonl", task.fields)
              for name in (*seen_set_names(folder), *test_set_names(folder), SEEN_PROBE)
              if (folder / f"{name}.jsonl").is_file()}
    if "train" not in loaded:
        raise FileNotFoundError(f"{folder}: no train.jsonl to check the test prompts against")
    problems: list[Problem] = []
    for name, prompts in loaded.items():
        for p in prompts:
            verdict = validate(p.text, task)
            if not verdict.ok:
                problems.append(Problem(name, p.id, "invalid", "; ".join(verdict.reasons)))
            elif verdict.text != p.text:
                problems.append(Problem(name, p.id, "invalid", "text is not in normalised form"))
    index = TrainIndex([p for name in seen_set_names(folder) for p in loaded.get(name, [])], task.options)
    stats: dict = {}
    for name in test_set_names(folder):
        leaks, stats[name] = _unseen_problems(name, loaded[name], index)
        problems += leaks
    train_index = TrainIndex(loaded["train"], task.options)
    for name in held_out_valid_names(folder):
        leaks, stats[name] = _unseen_problems(name, loaded[name], train_index)
        problems += leaks
    if SEEN_PROBE in loaded:
        train = {p.id: p.text for p in loaded["train"]}
        for p in loaded[SEEN_PROBE]:
            if train.get(p.id) != p.text:
                problems.append(Problem(SEEN_PROBE, p.id, "seen", "not a train prompt (id and text must match "
                                                                   "train.jsonl)"))
        stats[SEEN_PROBE] = {"prompts": len(loaded[SEEN_PROBE])}
    stats["targets"] = {"max_nearest_train_jaccard": MAX_NEAREST, "mean_nearest_train_jaccard": MEAN_NEAREST}
    return stats, problems
