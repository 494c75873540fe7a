"""Structure variants of an evaluation prompt: other option symbols, and solved examples before the question.

Together with the option-order variants of :mod:`.option_order` these measure what structure draws in training
(:mod:`paft_ext.core.structure`) are for. A symbol variant labels the options 1/2/… or a/b/… instead of A/B/…
(the letters found by :func:`paft_ext.core.structure.symbolize`; its ``symbols`` field maps answers back to the
letters when scored). A k-shot variant puts k solved records of the task's *training* split before the question,
each the prompt filled with that record and its answer as the prompt shows it (its symbol, at its slot in the
prompt's option order), so the dataset's own gold still scores the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from paft_ext.tasks import fill_template

from .option_symbols import SHOT_SEPARATOR, SLOT, symbolize
from .store import Prompt

SYMBOL_SETS = ("123456789", "abcdefghi")  # first len(letters) characters of one, seeded per prompt


def symbol_variant(prompt: Prompt, letters: str, rng: np.random.Generator, source: str) -> Prompt | None:
    """The prompt with its option letters shown as digits or lower-case letters (None: it names no letter, or is a
    symbol variant already)."""
    if prompt.symbols or len(letters) < 2:
        return None
    slotted = symbolize(prompt.text, letters)
    if SLOT not in slotted:
        return None
    symbols = SYMBOL_SETS[int(rng.integers(len(SYMBOL_SETS)))][: len(letters)]
    text = fill_template(slotted, {SLOT + letter: symbols[k] for k, letter in enumerate(letters)})
    return Prompt(f"{prompt.id}~symbols", text, f"{source} of {prompt.id} ({prompt.source})", prompt.option_order,
                  symbols)


def shown_answer(prompt: Prompt, letters: str, gold: str) -> str:
    """How ``prompt`` labels the original option ``gold``: its slot in the prompt's option order, in its symbols."""
    slot = (prompt.option_order or letters).index(gold)
    return (prompt.symbols or letters)[slot]


def kshot_variant(prompt: Prompt, examples: Sequence[tuple[Mapping[str, str], str]], shots: int, letters: str,
                  rng: np.random.Generator, source: str) -> Prompt | None:
    """The prompt after ``shots`` solved training records drawn from ``examples`` ((fields, gold letter) each; a
    record whose text holds a brace is never drawn, so the result has only the prompt's placeholders). None: too
    few usable examples."""
    usable = [(fields, gold) for fields, gold in examples
              if not any("{" in v or "}" in v for v in fields.values()) and gold in letters]
    if len(letters) < 2 or len(usable) < shots or shots < 1:
        return None
    picks = rng.choice(len(usable), size=shots, replace=False)
    blocks = [f"{fill_template(prompt.text, usable[i][0])}\n{shown_answer(prompt, letters, usable[i][1])}"
              for i in picks.tolist()]
    text = SHOT_SEPARATOR.join([*blocks, prompt.text])
    return Prompt(f"{prompt.id}~kshot{shots}", text, f"{source} of {prompt.id} ({prompt.source})",
                  prompt.option_order, prompt.symbols)
