"""Compositional expansion of hand-written prompt parts into candidate templates (how the shipped pools are made
on a machine that reaches no LLM API).

Each pool has hand-written parts in :mod:`paft_ext.pools.parts`, in five families: *instructions* (terse, verbose,
formal, casual, role-play, step hints), *context forms* (how the passage/question/goal is introduced), *answer lines*
(cues and requests, or none), *option-label styles* and *layouts* (block and field order). Every family is split
into **train-only and test-only members** before anything is composed: a test candidate is built from test members
only, so no test prompt contains an instruction, context form, answer line, label style or layout that a train
prompt uses — "unseen" holds by construction (and :mod:`paft_ext.pools.leakage` verifies it on the text).

A candidate's ``source`` names its parts as ``family.side.member`` ids joined by ``+``; an empty answer line is
``answer.none`` (no text, so nothing is shared by both sides having one).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import numpy as np

from paft_ext.tasks import TaskSpec
from paft_ext.tasks.task_file import LETTERS, TASK_PARTS

from .build import Candidate, PoolBuildError
from .leakage import PART_PREFIX

# How option k with placeholder {f} is written; `{L}` is the letter.
OPTION_STYLES = {"train": ("{L}. {f}", "{L}) {f}", "({L}) {f}", "Option {L}: {f}"),
                 "test": ("[{L}] {f}", "{L} - {f}", "Choice {L} = {f}")}
# Block orders: I instruction, C context, O options, A answer line (empty blocks are left out); "~" puts the options
# on one line, "_" joins all blocks into one line, "/" separates blocks by a blank line.
LAYOUTS = {
    "choice": {"train": {"instruction_first": "ICOA", "instruction_first-inline": "ICOA~",
                         "instruction_last": "COIA", "instruction_last-inline": "COIA~"},
               "test": {"options_first": "OCIA", "instruction_between": "CIOA", "cue_first": "AICO",
                        "one_line": "ICOA_"}},
    "number": {"train": {"instruction_first": "ICA", "instruction_last": "CIA"},
               "test": {"cue_first": "AIC", "one_line": "ICA_", "spaced": "ICA/"}},
}
SIDES = ("train", "test")


@dataclass(frozen=True)
class Side:
    """The members of each text family that one side (train or test) may use."""

    instructions: tuple[str, ...]
    contexts: tuple[str, ...]  # the non-option fields, e.g. "Goal: {goal}" or "{article}\n\nQuestion: {question}"
    answer_lines: tuple[str, ...]  # "" = no answer cue


@dataclass(frozen=True)
class Parts:
    train: Side
    test: Side
    options: tuple[str, ...] = ()  # option placeholders in order, labelled A, B, ...

    def side(self, name: str) -> Side:
        return self.train if name == "train" else self.test

    def layouts(self, side: str) -> dict[str, str]:
        """The named block orders one side may use (choice tasks have an options block, GSM8K has none)."""
        return LAYOUTS["choice" if self.options else "number"][side]


def options_block(options: tuple[str, ...], style: str, inline: bool) -> str:
    items = [style.format(L=LETTERS[k], f="{" + field + "}") for k, field in enumerate(options)]
    return "  ".join(items) if inline else "\n".join(items)


def compose(parts: Parts, side: str, i: int, c: int, a: int, style: int, layout: str) -> str:
    """One template: the side's instruction ``i``, context ``c``, answer line ``a``, label style ``style``, laid out
    by the named ``layout`` of that side."""
    members = parts.side(side)
    order = parts.layouts(side)[layout]
    one_line, spaced = "_" in order, "/" in order
    options = (options_block(parts.options, OPTION_STYLES[side][style], inline="~" in order or one_line)
               if parts.options else "")
    block = {"I": members.instructions[i], "C": members.contexts[c], "O": options, "A": members.answer_lines[a]}
    keys = [k for k in order if block.get(k)]
    if one_line:
        return " ".join(re.sub(r"\s*\n\s*", " ", block[k]) for k in keys)
    return ("\n\n" if spaced else "\n").join(block[k] for k in keys)


def task_parts(task: TaskSpec) -> Parts:
    """The hand-written parts of a built-in task's pool (:mod:`paft_ext.pools.parts`) or of a task file's ``parts``
    (its option placeholders A, B, … are the options)."""
    if task.task_file is None:
        return importlib.import_module(f"paft_ext.pools.parts.{task.pool}").PARTS
    raw = TASK_PARTS.get(task.name)
    if raw is None:
        raise PoolBuildError(f"{task.task_file}: parts: missing; composing needs hand-written parts (train and test "
                             f"instructions, contexts, answer_lines), or build the pool with `paft-ext pools generate`")
    return Parts(Side(**raw["train"]), Side(**raw["test"]), task.options)


def part_counts(parts: Parts) -> dict[str, dict[str, int]]:
    """How many members each family has on each side (for the manifest)."""
    counts = {family: {s: len(getattr(parts.side(s), attr)) for s in SIDES}
              for family, attr in (("instruction", "instructions"), ("context", "contexts"),
                                   ("answer", "answer_lines"))}
    if parts.options:
        counts["options"] = {s: len(OPTION_STYLES[s]) for s in SIDES}
    counts["layout"] = {s: len(parts.layouts(s)) for s in SIDES}
    return counts


def composed_candidates(parts: Parts, count: int, side: str, seed: int = 0) -> list[Candidate]:
    """``count`` distinct seeded combinations of one side's parts, each tagged with that side."""
    members = parts.side(side)
    layouts = list(parts.layouts(side))
    n_styles = len(OPTION_STYLES[side]) if parts.options else 1
    space = (len(members.instructions), len(members.contexts), len(members.answer_lines), n_styles, len(layouts))
    total = int(np.prod(space))
    picks = np.random.default_rng([seed, SIDES.index(side)]).choice(total, size=min(count, total), replace=False)
    candidates = []
    for flat in picks:
        i, c, a, s, lay = (int(v) for v in np.unravel_index(int(flat), space))
        ids = [f"instruction.{side}.{i:02d}", f"context.{side}.{c:02d}",
               f"answer.{side}.{a:02d}" if members.answer_lines[a] else "answer.none"]
        ids += [f"options.{side}.{s}"] if parts.options else []
        ids.append(f"layout.{side}.{layouts[lay]}")
        text = compose(parts, side, i, c, a, s, layouts[lay])
        candidates.append(Candidate(text, PART_PREFIX + "+".join(ids), side))
    return candidates


def few_shot_examples(parts: Parts, count: int = 3) -> list[str]:
    """Hand-picked, clearly different train-side compositions shown to generators in the few-shot meta-prompt."""
    layouts = list(parts.layouts("train"))
    m = parts.train
    picks = [(0, 0, 0, 0, 0), (1, 1, 1, 2, 1), (2, 2, 2, 3, 2)]
    return [compose(parts, "train", i % len(m.instructions), c % len(m.contexts), a % len(m.answer_lines),
                    s % len(OPTION_STYLES["train"]), layouts[lay % len(layouts)]) for i, c, a, s, lay in picks[:count]]
