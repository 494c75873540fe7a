"""Option-order variants of prompt templates, and the answer remapping they need.

A variant swaps which option each labelled slot shows: with order "BA" the slot labelled A shows the original option
B and vice versa — only the option placeholders move (``{sol1}`` ↔ ``{sol2}``), labels and text stay. The gold letter
therefore moves too; evaluation maps a model's letter back to the original option (:func:`original_letter`, used as
OpenCompass's ``pred_postprocessor`` by :mod:`paft_ext.evaluation.expand` and by the report; in
:mod:`paft_ext.tasks.answers`), so accuracy is always
scored against the dataset's own gold. :func:`rotations` gives the N cyclic orders of an N-option task for
CircularEval (a question counts only if answered correctly under every rotation).

Caveat: for tasks whose options are fixed labels (SST-2's negative/positive), a prompt that names a label's letter in
its own words ("answer A if negative") contradicts its permuted options; such wording is the prompt writer's to avoid.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from paft_ext.tasks import PLACEHOLDER

from .store import Prompt

ROTATION = re.compile(r"^(.*)@rot(\d+)$")  # ids of a CircularEval set: <source prompt id>@rot<k>


def check_order(order: str, letters: str, where: str) -> None:
    if sorted(order) != sorted(letters):
        raise ValueError(f"{where}: option_order {order!r} is not a permutation of the task's options {letters}")


def check_variant(prompt: Prompt, letters: str, where: str) -> None:
    """A structure variant's order and symbols fit the task's option letters."""
    if prompt.option_order:
        check_order(prompt.option_order, letters, where)
    if prompt.symbols and len(prompt.symbols) != len(letters):
        raise ValueError(f"{where}: symbols {prompt.symbols!r} name {len(prompt.symbols)} options, the task has "
                         f"{len(letters)} ({letters})")


def permute_options(text: str, options: Sequence[str], letters: str, order: str) -> str:
    """``text`` with the slot of letter k showing the option originally at letter ``order[k]``."""
    check_order(order, letters, "permute_options")
    moved = {options[k]: options[letters.index(order[k])] for k in range(len(options))}
    return PLACEHOLDER.sub(lambda m: "{" + moved[m[1]] + "}" if m[1] in moved else m[0], text)


def variant(prompt: Prompt, options: Sequence[str], letters: str, order: str, suffix: str, source: str) -> Prompt:
    return Prompt(f"{prompt.id}{suffix}", permute_options(prompt.text, options, letters, order),
                  f"{source} of {prompt.id} ({prompt.source})", order)


def random_order(letters: str, rng: np.random.Generator) -> str:
    """A seeded permutation of ``letters`` other than the identity."""
    while True:
        order = "".join(rng.permutation(list(letters)))
        if order != letters:
            return order


def rotations(pool: Sequence[Prompt], options: Sequence[str], letters: str) -> list[Prompt]:
    """Every cyclic rotation of every prompt's options (rotation 0 is the prompt as written), ids ``<id>@rot<k>``."""
    if len(options) < 2:
        raise ValueError("option rotations need a task with options")
    if any(p.option_order for p in pool):
        raise ValueError("the source set already holds option-order variants; rotate the original prompts")
    return [variant(p, options, letters, letters[k:] + letters[:k], f"@rot{k}", f"option rotation {k}")
            for p in pool for k in range(len(letters))]
