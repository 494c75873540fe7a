"""Structure draws: per window, an option order, an option-symbol set, a number of in-context examples and (opt-in)
the options written as a sentence instead of a listing (:mod:`paft_ext.pools.option_prose`).

Wording is not the only way a user's prompt differs from the training prompts: options come in another order, are
numbered 1/2 or lettered a/b, or the question follows worked examples. A model trained on pools that keep "A = first
option" answers by letter position (``results/sampling_ablation/test_reading.md``). With structure draws every
window of K optimizer steps draws, next to its template, a seeded option order, a symbol set and a number of shots;
every row of the window is rendered with the options in that order, the labels replaced by the symbols, the shots
(solved training records, never the row itself) in the template's own format before it, and its gold answer
remapped to the symbol printed next to the correct option's text.

Templates carry symbols as slots ``{_sym_<letter>}``; pool templates write letters, which
:func:`paft_ext.pools.option_symbols.symbolize` turns into slots by rule. A template in which no letter is found keeps
the task's letters in every window (its effective symbols are recorded in ``paft_schedule.json``).
Everything here is a pure function of its inputs; no LLaMA-Factory import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from paft_ext.pools.option_prose import PROSE_FORMS, option_block, with_prose
from paft_ext.pools.option_symbols import SHOT_SEPARATOR, SLOT, StructureError, has_slots, symbolize
from paft_ext.pools.store import Prompt
from paft_ext.tasks import fill_template

_STRUCTURE_STREAM = 0x5354
_SHOT_STREAM = 0x5348
_SHARE_STREAM = 0x5352
_PROSE_STREAM = 0x5350


def option_layout(fields: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """(option placeholders in letter order, letters) of a PAFT dataset with these fields: the registered choice task
    that has them, else the fields named by single capitals ("A", "B", …)."""
    from paft_ext.tasks import TASKS

    for task in TASKS.values():
        if tuple(task.fields) == tuple(fields) and task.options:
            return task.options, task.choices
    capitals = tuple(f for f in fields if re.fullmatch(r"[A-Z]", f))
    if len(capitals) >= 2:
        return capitals, "".join(capitals)
    raise StructureError(f"structure draws need a choice task: fields {list(fields)} are no registered task's with "
                         f"options, and none is an option letter (A, B, …)")


@dataclass(frozen=True)
class WindowStructure:
    """One window's draw: ``order[k]`` is the original option shown at slot k (as :mod:`paft_ext.pools.option_order`),
    ``symbols[k]`` the symbol that labels slot k, ``shots`` the in-context examples before each row."""

    order: str
    symbols: str
    shots: int
    prose: int = -1  # the options as sentence PROSE_FORMS[prose] instead of the template's listing (-1: listed)


@dataclass(frozen=True)
class Structure:
    windows: tuple[WindowStructure, ...]  # one per drawn window
    window_of: np.ndarray  # position -> its window's draw
    examples: np.ndarray  # position -> the source rows of its shots (max_shots columns, never the row itself)

    def at(self, position: int) -> WindowStructure:
        return self.windows[int(self.window_of[position])]


def kept_windows(identity: np.ndarray, share: float, seed: int) -> np.ndarray:
    """``identity`` plus, of the other windows, all but round(share · their number) seeded ones: the windows that
    keep the shipped structure (an exact share, as ``paft_canonical_ratio``). The model on the CPU learned structure
    draws only with such windows beside them (``results/structure/sst2/pilot.md``)."""
    kept = identity.copy()
    free = np.flatnonzero(~identity)
    if len(free) and round(share * len(free)) == 0:
        raise StructureError(f"paft_structure_ratio {share:g} of {len(free)} windows rounds to none: no window would "
                             f"draw a structure; raise it or drop the structure keys")
    drawn = np.random.default_rng([seed, _SHARE_STREAM]).permutation(free)[:round(share * len(free))]
    kept[free] = True
    kept[drawn] = False
    return kept


def draw_structure(letters: str, option_order: bool, symbol_sets: Sequence[str], max_shots: int, seed: int,
                   order: np.ndarray, n_rows: int, window_of: np.ndarray, identity: np.ndarray,
                   share: float = 1.0, prose: float = 0.0, prose_alone: bool = False) -> Structure:
    """Seeded draws for every window (``identity[w]``: window w keeps the letters, order and no shots, as a window
    of the dataset's own fixed prompt does; with ``share`` < 1 so do the other windows but that share of them) and
    ``max_shots`` distinct example rows for every position. A window's draw does not depend on ``share``. With
    ``prose`` > 0 each drawing window shows its options as a sentence with that probability (a form of
    :data:`~paft_ext.pools.option_prose.PROSE_FORMS`), from a stream of its own: the other draws stay as without.
    With ``prose_alone`` such a window shows the letters in order and no examples, so the sentence is the one new
    thing in it (900 steps left some seeds with a fixed letter when it came on top of the other draws,
    ``results/structure/sst2/pilot_valid_indep.md``); the streams are drawn as without, so the other windows are
    the same."""
    n_windows = len(identity)
    identity = kept_windows(np.asarray(identity, dtype=bool), share, seed) if share < 1.0 else identity
    if max_shots and n_rows <= max_shots:
        raise StructureError(f"paft_max_shots {max_shots} needs more than {max_shots} training rows, got {n_rows}")
    rng, prose_rng = (np.random.default_rng([seed, stream]) for stream in (_STRUCTURE_STREAM, _PROSE_STREAM))
    windows = []
    for w in range(n_windows):
        drawn_order = "".join(rng.permutation(list(letters))) if option_order else letters
        symbols = symbol_sets[int(rng.integers(len(symbol_sets)))] if symbol_sets else letters
        shots = int(rng.integers(0, max_shots + 1)) if max_shots else 0
        form = int(prose_rng.integers(len(PROSE_FORMS))) if prose and prose_rng.random() < prose else -1
        if identity[w]:
            windows.append(WindowStructure(letters, letters, 0))
        elif prose_alone and form >= 0:
            windows.append(WindowStructure(letters, letters, 0, form))
        else:
            windows.append(WindowStructure(drawn_order, symbols, shots, form))
    shot_rng = np.random.default_rng([seed, _SHOT_STREAM])
    examples = np.zeros((len(order), max_shots), dtype=np.int64)
    for position, row in enumerate(order.tolist()):
        if max_shots:
            picks = shot_rng.choice(n_rows - 1, size=max_shots, replace=False)
            examples[position] = picks + (picks >= row)  # skip the row itself
    return Structure(tuple(windows), window_of, examples)


def warn_letterless(letters: str, symbol_sets: Sequence[str], pool: Sequence[Prompt], log) -> None:
    """Say which pool templates name no option letter and so keep the letters whatever symbol set a window draws
    (recorded per window in ``paft_schedule.json``; said here so that it is not silent)."""
    plain = [p.id for p in pool if not has_slots(p.text, letters)] if symbol_sets else []
    if plain:
        log.warning("[PAFT] paft_option_symbols: %d of %d pool prompts name no option letter and keep %s in every "
                    "window (e.g. %s)", len(plain), len(pool), letters, ", ".join(plain[:3]))


def warn_unlisted(options: Sequence[str], letters: str, prose: float, pool: Sequence[Prompt], log) -> None:
    """Say which pool templates have no listed option block and so keep their own wording in windows that draw the
    options as a sentence (``paft_option_prose``; said here so that it is not silent)."""
    plain = [p.id for p in pool if option_block(symbolize(p.text, letters), options, letters) is None] if prose else []
    if plain:
        log.warning("[PAFT] paft_option_prose: %d of %d pool prompts list no option block and keep their wording in "
                    "every window (e.g. %s)", len(plain), len(pool), ", ".join(plain[:3]))


def effective_symbols(template: str, letters: str, drawn: WindowStructure) -> str:
    """The symbols a template shows: the drawn set, or the letters when the template names no option letter."""
    return drawn.symbols if has_slots(template, letters) else letters


def render_one(template: str, fields: Mapping[str, str], gold: str, options: Sequence[str], letters: str,
               drawn: WindowStructure) -> tuple[str, str]:
    """(prompt, answer) of one record under one window's draw: options in the drawn order, labels as the drawn
    symbols, the answer the symbol of the slot that shows the gold option."""
    from paft_ext.pools.option_order import permute_options

    if gold not in letters:
        raise StructureError(f"gold answer {gold!r} is not one of the options {letters}")
    symbols = effective_symbols(template, letters, drawn)
    text = symbolize(template, letters)
    if drawn.prose >= 0:  # a template without a listed option block keeps its own wording
        text = with_prose(text, options, letters, PROSE_FORMS[drawn.prose]) or text
    text = permute_options(text, options, letters, drawn.order)
    slots = {SLOT + letter: symbols[k] for k, letter in enumerate(letters)}
    return fill_template(text, {**fields, **slots}), symbols[drawn.order.index(gold)]


def render_with_shots(template: str, fields: Mapping[str, str], gold: str, shots: Sequence[tuple[Mapping[str, str],
                      str]], options: Sequence[str], letters: str, drawn: WindowStructure) -> tuple[str, str]:
    """:func:`render_one` after ``drawn.shots`` solved examples (each the template filled with its record, a line
    break and its remapped answer; blank lines between)."""
    blocks = []
    for example_fields, example_gold in shots[:drawn.shots]:
        text, answer = render_one(template, example_fields, example_gold, options, letters, drawn)
        blocks.append(f"{text}\n{answer}")
    text, answer = render_one(template, fields, gold, options, letters, drawn)
    return SHOT_SEPARATOR.join([*blocks, text]), answer
