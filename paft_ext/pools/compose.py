"""Compositional expansion of hand-written prompt parts into candidate templates (how the shipped pools are made
on a machine that reaches no LLM API).

Each pool has hand-written parts in :mod:`paft_ext.pools.parts`: *instructions* in many styles (terse, verbose,
formal, casual, role-play, step hints), *context forms* (how the passage/question/goal is introduced), and
*answer lines* (with and without "Answer:" cues). Options are laid out in several label styles, inline or one per
line. A candidate is one seeded combination, and its ``source`` names the parts it was built from, so every
shipped prompt says where it came from.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from .build import Candidate

# How option k with placeholder {f} is written; `{L}` is the letter.
OPTION_STYLES = ("{L}. {f}", "{L}) {f}", "({L}) {f}", "[{L}] {f}", "Option {L}: {f}", "{L} - {f}")


@dataclass(frozen=True)
class Parts:
    instructions: tuple[str, ...]
    contexts: tuple[str, ...]  # the non-option fields, e.g. "Goal: {goal}" or "{article}\n\nQuestion: {question}"
    answer_lines: tuple[str, ...]  # "" = no answer cue
    options: tuple[str, ...] = ()  # option placeholders in order, labelled A, B, ...


def options_block(options: tuple[str, ...], style: str, inline: bool) -> str:
    items = [style.format(L="ABCD"[k], f="{" + field + "}") for k, field in enumerate(options)]
    return "  ".join(items) if inline else "\n".join(items)


def compose(parts: Parts, i: int, c: int, a: int, style: int, inline: bool, instruction_last: bool) -> str:
    body = parts.contexts[c]
    if parts.options:
        body += "\n" + options_block(parts.options, OPTION_STYLES[style], inline)
    blocks = [body, parts.instructions[i]] if instruction_last else [parts.instructions[i], body]
    if parts.answer_lines[a]:
        blocks.append(parts.answer_lines[a])
    return "\n".join(blocks)


def load_parts(pool: str) -> Parts:
    return importlib.import_module(f"paft_ext.pools.parts.{pool}").PARTS


def composed_candidates(pool: str, count: int, seed: int = 0) -> list[Candidate]:
    """``count`` distinct seeded combinations of the pool's hand-written parts."""
    parts = load_parts(pool)
    rng = np.random.default_rng(seed)
    n_styles = len(OPTION_STYLES) if parts.options else 1
    n_inline = 2 if parts.options else 1
    space = (len(parts.instructions), len(parts.contexts), len(parts.answer_lines), n_styles, n_inline, 2)
    total = int(np.prod(space))
    picks = rng.choice(total, size=min(count, total), replace=False)
    candidates = []
    for flat in picks:
        i, c, a, s, inline, last = np.unravel_index(int(flat), space)
        text = compose(parts, int(i), int(c), int(a), int(s), bool(inline), bool(last))
        source = (f"composed:handwritten-parts/instruction{i:02d}-context{c:02d}-answer{a:02d}-options{s}"
                  f"{'-inline' if inline else ''}{'-instruction_last' if last else ''}")
        candidates.append(Candidate(text, source))
    return candidates


def few_shot_examples(pool: str, count: int = 3) -> list[str]:
    """Hand-picked, clearly different compositions shown to generators in the few-shot meta-prompt."""
    parts = load_parts(pool)
    picks = [(0, 0, 0, 0, False, False), (1, 1, 1, 2, True, True), (2, 2, 2, 4, False, False)]
    return [compose(parts, i % len(parts.instructions), c % len(parts.contexts), a % len(parts.answer_lines),
                    s % len(OPTION_STYLES), inline, last) for i, c, a, s, inline, last in picks[:count]]
