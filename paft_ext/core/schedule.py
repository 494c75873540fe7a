"""The PAFT schedule: which row is trained at which position, and with which prompt.

It is materialised before tokenisation: T epochs become T seeded permutations laid end to end, which the trainer
reads as one sequential pass (``disable_shuffling``). Optimizer step ``s`` consumes positions ``s · rows_per_step``
to ``(s + 1) · rows_per_step − 1`` (rows per step = per-device batch × grad-accum × data-parallel world size; the
ranks share each step's block), so a window of K optimizer steps is a contiguous block of ``K · rows_per_step``
positions and gets one prompt (``window_unit: example`` makes it K rows). The prompt has to be in the rows before
tokenisation: by the time a callback runs, the rows are token ids and the step's micro-batches are already fetched.

Everything here is a pure function of its inputs (own seeded generators, no global RNG), so every data-parallel rank,
and a resumed run, computes the identical schedule.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from paft_ext.pools.option_symbols import check_symbol_sets

from .sampling import get_strategy
from .structure import Structure, draw_structure

WindowUnit = Literal["step", "example"]

_ORDER_STREAM = 0x5041
_PROMPT_STREAM = 0x4654
_CANONICAL_STREAM = 0x4341
CANONICAL = -1  # prompt index of a window that keeps the dataset's own fixed prompt (paft_canonical_ratio)
DECIDED = -2  # prompt index of a loss_aware window: one of its candidates, chosen during training (.loss_aware)


@dataclass(frozen=True)
class Geometry:
    """How rows become optimizer steps."""

    batch_size: int
    grad_accum: int
    world_size: int

    @property
    def rows_per_step(self) -> int:
        return self.batch_size * self.grad_accum * self.world_size


@dataclass(frozen=True)
class ScheduleSpec:
    """Every input of a schedule; its digest guards caches and resumed checkpoints."""

    n_rows: int
    epochs: int
    max_steps: int
    geometry: Geometry
    window: int
    window_unit: WindowUnit
    sampling: str  # a registered strategy (.sampling)
    epoch_reshuffle: bool
    pool_size: int
    pool_digest: str
    seed: int
    canonical_ratio: float = 0.0
    canonical_decay: bool = False  # the canonical windows come early, their density falling to zero at the end
    curriculum_order: tuple[int, ...] = ()  # pool indices, closest to the canonical prompt first (curriculum)
    # loss_aware: candidates per window, softmax temperature, probability floor, EMA decay (paft_ext.core.loss_aware)
    candidates: int = 0
    temperature: float = 1.0
    floor: float = 0.1
    ema: float = 0.5
    # structure draws (paft_ext.core.structure): the task's option letters, and what each window draws
    letters: str = ""
    option_order: bool = False
    option_symbols: tuple[str, ...] = ()
    max_shots: int = 0
    structure_ratio: float = 1.0  # share of the windows (not kept canonical) that draw a structure
    option_prose: float = 0.0  # share of the drawing windows whose options are written as a sentence
    option_prose_alone: bool = False  # those windows keep the letters in order and show no examples

    @property
    def draws_structure(self) -> bool:
        return bool(self.option_order or self.option_symbols or self.max_shots or self.option_prose)

    def as_dict(self) -> dict:
        """Every input, as stored in ``paft_schedule.json`` and cached-dataset metadata; the structure keys only
        when set (``structure_ratio`` only when below 1, ``canonical_decay`` only when true), so schedules without
        them keep the records and digests they had before those keys existed."""
        values = asdict(self)
        if not self.draws_structure:
            for key in _STRUCTURE_KEYS:
                values.pop(key)
        if values.get("structure_ratio") == 1.0:
            values.pop("structure_ratio")
        if not self.canonical_decay:
            values.pop("canonical_decay")
        if not self.option_prose:
            values.pop("option_prose")
        if not self.option_prose_alone:
            values.pop("option_prose_alone")
        return values

    def digest(self) -> str:
        """A hash of :meth:`as_dict` (resumed checkpoints and cached tokenized datasets are checked against it)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


_STRUCTURE_KEYS = ("letters", "option_order", "option_symbols", "max_shots", "structure_ratio")


@dataclass(frozen=True)
class Schedule:
    spec: ScheduleSpec
    order: np.ndarray  # position -> source row index
    prompt_index: np.ndarray  # position -> index into the pool (CANONICAL; DECIDED under loss_aware)
    window_rows: int
    candidates: np.ndarray | None = None  # loss_aware: window -> its candidate pool indices (CANONICAL: keep fixed)
    structure: Structure | None = None  # structure draws: each window's option order, symbols and shots

    @property
    def total_steps(self) -> int:
        return len(self.order) // self.spec.geometry.rows_per_step

    def epoch_end_steps(self) -> list[int]:
        """The optimizer steps (1-based, as ``global_step`` after them) that complete each PAFT epoch but the last
        (the trainer, which sees one pass, ends that one itself)."""
        rps, n = self.spec.geometry.rows_per_step, self.spec.n_rows
        epochs = -(-len(self.order) // n)
        return sorted({-(-(e + 1) * n // rps) for e in range(epochs - 1)} - {self.total_steps})

    def rendered_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(source row, prompt index) of every row to render: one per position, or under loss_aware one per position
        and candidate of its window (row ``p·C + c`` is position p with candidate c)."""
        if self.candidates is None:
            return self.order, self.prompt_index
        windows = np.arange(len(self.order)) // self.window_rows
        return np.repeat(self.order, self.candidates.shape[1]), self.candidates[windows].reshape(-1)

    def windows(self) -> list[dict[str, int]]:
        """One entry per window: its number, prompt index, and first/last optimizer step (0-based)."""
        rps = self.spec.geometry.rows_per_step
        out = []
        for start in range(0, len(self.order), self.window_rows):
            stop = min(start + self.window_rows, len(self.order))
            window = start // self.window_rows
            out.append({"window": window, "prompt_index": int(self.prompt_index[start]),
                        "first_step": start // rps, "last_step": (stop - 1) // rps,
                        **({"candidates": self.candidates[window].tolist()} if self.candidates is not None else {}),
                        **(self._drawn(start) if self.structure is not None else {})})
        return out

    def _drawn(self, position: int) -> dict:
        """A structure window's draw as recorded: ``prose`` only where the run draws it (older records lack it)."""
        drawn = asdict(self.structure.at(position))
        if not self.spec.option_prose:
            drawn.pop("prose")
        return drawn


def _canonical_windows(draws: np.ndarray, ratio: float, seed: int, decay: bool = False) -> np.ndarray:
    """``round(ratio · windows)`` seeded windows keep the canonical prompt (an exact share, not a coin per window);
    with ``decay`` they are :func:`decaying_windows` instead."""
    draws = draws.copy()
    if decay:
        draws[decaying_windows(len(draws), ratio, seed)] = CANONICAL
        return draws
    chosen = np.random.default_rng([seed, _CANONICAL_STREAM]).permutation(len(draws))[:round(ratio * len(draws))]
    draws[chosen] = CANONICAL
    return draws


def decaying_windows(n_windows: int, ratio: float, seed: int) -> np.ndarray:
    """Which of ``n_windows`` windows keep the canonical prompt under ``paft_canonical_decay``: a share ``ratio`` of
    them, front-loaded. Window w (at x = (w + ½) / W) is canonical with density min(1, a · (1 − x)), a = 2r for r ≤ ½
    (r = ½: from 1 at the start to 0 at the end) and 1 / (2 (1 − r)) above (all canonical up to 1 − 1/a), laid out by
    systematic sampling with a seeded offset, so every stretch of windows holds its density's share to within one
    window and the total is r · W rounded up or down. Why: structure draws from the first step taught the CPU model
    nothing, and a fixed half of canonical windows left one seed answering by letter position to the end
    (``results/structure/sst2``); this lets the task be learned first and takes the position shortcut away last."""
    if ratio >= 1.0:
        return np.ones(n_windows, dtype=bool)
    slope = 2 * ratio if ratio <= 0.5 else 1 / (2 * (1 - ratio))
    density = np.minimum(1.0, slope * (1 - (np.arange(n_windows) + 0.5) / n_windows))
    offset = np.random.default_rng([seed, _CANONICAL_STREAM]).random()
    reached = np.floor(np.cumsum(density) + offset)
    return np.diff(np.concatenate([[np.floor(offset)], reached])) > 0


def build_schedule(spec: ScheduleSpec) -> Schedule:
    """Materialise ``spec``.

    * Rows: T permutations of the data (or the identity T times without ``epoch_reshuffle``, as the authors' code);
      with ``max_steps`` > 0 as many epochs as those steps need. Only whole optimizer steps are kept.
    * Windows: ``window`` optimizer steps (unit ``step``) or ``window`` rows (unit ``example``); one prompt each,
      drawn by the ``sampling`` strategy (:mod:`.sampling`: uniformly with replacement as the paper, shuffled
      cycles, or a curriculum from the prompts closest to the canonical one, ``curriculum_order``). With
      ``canonical_ratio`` r, round(r · W) seeded windows keep the dataset's own fixed prompt instead
      (:data:`CANONICAL`); with ``canonical_decay`` they come early (:func:`decaying_windows`). ``loss_aware``
      draws ``candidates`` distinct seeded prompts per window instead; every row is rendered with each, and
      :mod:`.loss_aware` picks one per window while training (:data:`DECIDED`).
      Windows are always counted in optimizer steps from the start of training, never restarted
      at an epoch boundary (an epoch of N rows rarely ends on a window edge). Without ``epoch_reshuffle`` the rows keep
      their order, and when an epoch holds whole windows the draws repeat every epoch, so an example keeps its
      prompt (the authors' behaviour); otherwise each window draws anew.
    """
    if spec.n_rows <= 0:
        raise ValueError("the PAFT training set is empty")
    if spec.window < 1:
        raise ValueError(f"paft_window_steps must be >= 1, got {spec.window}")
    if spec.pool_size < 1:
        raise ValueError("the prompt pool is empty")
    if not 0.0 <= spec.canonical_ratio <= 1.0:
        raise ValueError(f"paft_canonical_ratio must be in [0, 1], got {spec.canonical_ratio}")
    if spec.canonical_decay and spec.canonical_ratio <= 0:
        raise ValueError("paft_canonical_decay places the canonical windows; it needs paft_canonical_ratio > 0")
    if not 0.0 <= spec.option_prose <= 1.0:
        raise ValueError(f"paft_option_prose must be in [0, 1], got {spec.option_prose}")
    if spec.option_prose_alone and not spec.option_prose:
        raise ValueError("paft_option_prose_alone needs paft_option_prose > 0")
    if not 0.0 < spec.structure_ratio <= 1.0:
        raise ValueError(f"paft_structure_ratio must be in (0, 1], got {spec.structure_ratio}")
    strategy = get_strategy(spec.sampling)
    decided = strategy.draw is None  # loss_aware: candidates here, one picked per window during training
    if decided and (spec.candidates < 2 or spec.window_unit != "step"
                                          or not spec.epoch_reshuffle):
        raise ValueError("loss_aware sampling needs >= 2 candidates per window, paft_window_unit: step and "
                         "paft_epoch_reshuffle: true")
    if spec.draws_structure and (not spec.letters or decided):
        raise ValueError("structure draws need a task with options (letters) and a sampling other than loss_aware")
    check_symbol_sets(spec.option_symbols, spec.letters, "paft_option_symbols")
    rps = spec.geometry.rows_per_step
    epochs = spec.epochs if spec.max_steps <= 0 else -(-spec.max_steps * rps // spec.n_rows)
    if epochs < 1:
        raise ValueError(f"PAFT needs at least one epoch, got num_train_epochs={spec.epochs}")
    order_rng = np.random.default_rng([spec.seed, _ORDER_STREAM])
    if spec.epoch_reshuffle:
        order = np.concatenate([order_rng.permutation(spec.n_rows) for _ in range(epochs)])
    else:
        order = np.tile(np.arange(spec.n_rows), epochs)
    total_steps = spec.max_steps if spec.max_steps > 0 else len(order) // rps
    if total_steps < 1:
        raise ValueError(f"{len(order)} rows do not fill one optimizer step of {rps} rows (batch × grad-accum × world)")
    order = order[: total_steps * rps]
    window_rows = spec.window * (rps if spec.window_unit == "step" else 1)
    window_of = np.arange(len(order)) // window_rows  # windows count from the first step, across epoch ends
    if not spec.epoch_reshuffle and spec.n_rows % window_rows == 0:
        window_of = window_of % (spec.n_rows // window_rows)  # epochs hold whole windows: an example keeps its prompt
    n_windows = int(window_of.max()) + 1
    prompt_rng = np.random.default_rng([spec.seed, _PROMPT_STREAM])
    if decided:  # seeded candidates per window; which one trains is decided during training
        size = min(spec.candidates, spec.pool_size)
        candidates = np.stack([prompt_rng.choice(spec.pool_size, size=size, replace=False) for _ in range(n_windows)])
        canonical = _canonical_windows(np.zeros(n_windows, dtype=int), spec.canonical_ratio, spec.seed,
                                       spec.canonical_decay) == CANONICAL
        candidates[canonical] = CANONICAL
        return Schedule(spec, order, np.full(len(order), DECIDED), window_rows, candidates)
    draws = strategy.draw(prompt_rng, n_windows, spec.pool_size, spec.curriculum_order)
    if spec.canonical_ratio > 0:
        draws = _canonical_windows(draws, spec.canonical_ratio, spec.seed, spec.canonical_decay)
    structure = None
    if spec.draws_structure:
        structure = draw_structure(spec.letters, spec.option_order, spec.option_symbols, spec.max_shots, spec.seed,
                                   order, spec.n_rows, window_of, draws == CANONICAL, share=spec.structure_ratio,
                                   prose=spec.option_prose, prose_alone=spec.option_prose_alone)
    return Schedule(spec, order, draws[window_of], window_rows, structure=structure)
