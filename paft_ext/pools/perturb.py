"""Perturbed prompt sets: the same test prompts with the surface noise real users add — typos, dropped words,
casing, whitespace, another option-label style, another option order — seeded, with every placeholder kept intact.

Only the literal text between placeholders is touched (the template is split on ``{field}``), so a perturbed prompt
fills exactly the fields its source fills, in the same order; each result is re-validated like any pool prompt and
must differ from its source. A kind that finds nothing to change in a prompt (no option labels, say) yields no
variant for it, and the count says so. The output is an ordinary pool file, evaluated with
``paft-ext eval --prompt-set <file>.jsonl``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from paft_ext.tasks import PLACEHOLDER

from .option_order import random_order, variant
from .safety import unsafe_problems
from .store import Prompt, template_problems
from .structure_variants import kshot_variant, symbol_variant

# words, never a LaTeX command's name (GSM8K prompts ask for "\\boxed{}", which must stay as written)
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_LONG_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{4,}")
# an option label directly before a placeholder: "A. {x}", "(A) {x}", "A) {x}", "[A] {x}", "A: {x}", "A - {x}"
_LABEL = re.compile(r"(?:\(([A-E])\)|\[([A-E])\]|(?<![A-Za-z])([A-E])(?:[.):]| -))[ \t]*$")
LABEL_STYLES = ("{}. ", "({}) ", "{}) ", "[{}] ", "{}: ")


class PerturbError(ValueError):
    """A perturbation that broke a template (a bug here, never silently kept)."""


def _segments(text: str) -> list[str]:
    """[literal, placeholder, literal, …]: odd positions are the ``{field}`` markers, kept verbatim."""
    parts, last = [], 0
    for match in PLACEHOLDER.finditer(text):
        parts += [text[last:match.start()], match[0]]
        last = match.end()
    return [*parts, text[last:]]


def _map_literals(text: str, change: Callable[[str], str]) -> str:
    return "".join(part if i % 2 else change(part) for i, part in enumerate(_segments(text)))


def _typo(text: str, rng: np.random.Generator, rate: float = 0.12) -> str:
    def one(word: str) -> str:
        i = int(rng.integers(1, len(word) - 1))
        op = int(rng.integers(3))
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if op == 0 and swapped != word:  # swap two neighbours (unless they are the same letter)
            return swapped
        return word[:i] + word[i] + word[i:] if op == 2 else word[:i] + word[i + 1:]  # double or drop one

    return _per_word(text, _LONG_WORD, rng, rate, one)


def _word_drop(text: str, rng: np.random.Generator, rate: float = 0.15) -> str:
    dropped = _per_word(text, re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}[,;]?[ \t]?"), rng, rate, lambda w: "")
    return re.sub(r"[ \t]{2,}", " ", dropped)


def _per_word(text: str, pattern: re.Pattern, rng: np.random.Generator, rate: float,
              change: Callable[[str], str]) -> str:
    """``change`` applied to each ``pattern`` match of the literal text with probability ``rate``, and to one
    chosen match when the draws picked none (every variant differs from its source)."""
    parts = _segments(text)
    hits = [(i, m) for i, part in enumerate(parts) if i % 2 == 0 for m in pattern.finditer(part)]
    if not hits:
        return text
    chosen = {k for k in range(len(hits)) if rng.random() < rate} or {int(rng.integers(len(hits)))}
    edits: dict[int, list] = {}
    for k in sorted(chosen):
        i, m = hits[k]
        edits.setdefault(i, []).append(m)
    for i, matches in edits.items():
        part = parts[i]
        for m in sorted(matches, key=lambda m: m.start(), reverse=True):
            part = part[:m.start()] + change(m[0]) + part[m.end():]
        parts[i] = part
    return "".join(parts)


def _casing(text: str, rng: np.random.Generator) -> str:
    """Words of two or more letters all upper or all lower case (one-letter option labels keep their case)."""
    mode = str.upper if rng.random() < 0.5 else str.lower
    return _map_literals(text, lambda part: _WORD.sub(lambda m: mode(m[0]), part))


def _whitespace(text: str, rng: np.random.Generator) -> str:
    """Line breaks become spaces or blank lines, spaces double, the prompt gains surrounding blanks."""
    joiner = " " if rng.random() < 0.5 else "\n\n"

    def change(part: str) -> str:
        return re.sub(r"(?<=\S) (?=\S)", lambda m: "  " if rng.random() < 0.3 else " ", part.replace("\n", joiner))

    return "  " + _map_literals(text, change).strip() + "\n"


def _label_style(text: str, rng: np.random.Generator) -> str:
    """Every option label before a placeholder rewritten in one other style ("A. {x}" -> "(A) {x}")."""
    parts = _segments(text)
    labelled = [i for i in range(0, len(parts) - 1, 2) if _LABEL.search(parts[i])]
    if not labelled:
        return text
    current = _LABEL.search(parts[labelled[0]])[0]
    styles = [s for s in LABEL_STYLES if s.format("A").strip() not in current]
    style = styles[int(rng.integers(len(styles)))]
    for i in labelled:
        match = _LABEL.search(parts[i])
        letter = next(g for g in match.groups() if g)
        parts[i] = parts[i][:match.start()] + style.format(letter)
    return "".join(parts)


PERTURBATIONS: dict[str, Callable[[str, np.random.Generator], str]] = {
    "typo": _typo, "word_drop": _word_drop, "casing": _casing, "whitespace": _whitespace,
    "label_style": _label_style,
}


@dataclass(frozen=True)
class PerturbResult:
    prompts: list[Prompt]
    skipped: dict[str, int]  # kind -> prompts it found nothing to change in


# structure kinds: option_order (paft_ext.pools.option_order), symbols and kshot (paft_ext.pools.structure_variants)
KINDS = (*PERTURBATIONS, "option_order", "symbols", "kshot")


def perturb_pool(pool: Sequence[Prompt], fields: Sequence[str], kinds: Sequence[str], seed: int, *,
                 options: Sequence[str] = (), letters: str = "", mixed: bool = False,
                 examples: Sequence[tuple[Mapping[str, str], str]] = (), shots: int = 2) -> PerturbResult:
    """One variant per (prompt, kind), seeded per (seed, prompt position, kind): the same inputs give the same file.
    ``option_order`` and ``symbols`` need the task's option placeholders and letters, ``kshot`` solved training
    records (``examples``: (fields, gold letter) each; ``shots`` of them per prompt); without them a kind skips.

    ``mixed``: one variant per prompt instead — a set as large as its source, so that a perturbed reading costs what
    the clean one does. Prompt i tries the kinds in turn from ``kinds[i % len(kinds)]`` (an even share of each kind)
    and keeps the first that changes it; ``skipped`` then counts, under each prompt's first kind, the prompts that
    kind could not change (it passed to the next)."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise PerturbError(f"unknown perturbation(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    for prompt in pool:
        if prompt.option_order and sorted(prompt.option_order) != sorted(letters):
            raise PerturbError(f"prompt {prompt.id!r}: option_order {prompt.option_order!r} is not a permutation of "
                               f"the task's options {letters or '(none)'}")
    out, skipped = [], dict.fromkeys(kinds, 0)
    for index, prompt in enumerate(pool):
        order = [kinds[(index + k) % len(kinds)] for k in range(len(kinds))] if mixed else kinds
        for attempt, kind in enumerate(order):
            made = _perturbed(prompt, index, kind, seed, fields, options, letters, examples, shots)
            if made is None:
                if attempt == 0 or not mixed:  # mixed: counted under the prompt's first kind only
                    skipped[kind] += 1
                continue
            out.append(made)
            if mixed:
                break
        else:
            if mixed:
                raise PerturbError(f"none of {', '.join(kinds)} changes {prompt.id}")
    return PerturbResult(out, skipped)


def _perturbed(prompt: Prompt, index: int, kind: str, seed: int, fields: Sequence[str], options: Sequence[str],
               letters: str, examples: Sequence[tuple[Mapping[str, str], str]], shots: int) -> Prompt | None:
    """The ``kind`` variant of the pool's ``index``-th prompt (None: the kind finds nothing to change in it)."""
    rng = np.random.default_rng([seed, index, KINDS.index(kind)])
    source = f"perturbed:{kind}:seed={seed}"
    if kind == "option_order":
        if len(options) < 2 or prompt.option_order:
            return None
        return variant(prompt, options, letters, random_order(letters, rng), f"~{kind}", source)
    if kind in ("symbols", "kshot"):
        made = (symbol_variant(prompt, letters, rng, source) if kind == "symbols" else
                kshot_variant(prompt, examples, shots, letters, rng, f"{source}:shots={shots}"))
        if made is not None:
            _check(made, kind, prompt, fields)
        return made
    text = PERTURBATIONS[kind](prompt.text, rng)
    if text == prompt.text:
        return None
    if PLACEHOLDER.findall(text) != PLACEHOLDER.findall(prompt.text):
        raise PerturbError(f"{kind} changed the placeholders of {prompt.id}: {text!r}")
    _check(Prompt(prompt.id, text, ""), kind, prompt, fields)
    return Prompt(f"{prompt.id}~{kind}", text, f"{source} of {prompt.id} ({prompt.source})", prompt.option_order)


def _check(made: Prompt, kind: str, source: Prompt, fields: Sequence[str]) -> None:
    problems = template_problems(made.text, fields) + unsafe_problems(made.text)
    if problems:
        raise PerturbError(f"{kind} broke {source.id}: {'; '.join(problems)}")
