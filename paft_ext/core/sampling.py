"""The sampling strategies of ``paft_sampling``: how each window's prompt is drawn from the train pool.

One registry for SFT (the LLaMA-Factory hook) and GRPO: both validate ``paft_sampling`` against it, ask it whether a
strategy needs the pool's closeness order (computed from their own rows), and :func:`.schedule.build_schedule` calls
the strategy's draw. Adding a strategy is one function registered with :func:`strategy` (plus its test); every
YAML key, schedule digest and artefact works unchanged. Draws must be a pure function of the generator and the
arguments, so every data-parallel rank and a resumed run get the same prompts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# (seeded generator, number of windows, pool size, pool indices closest to the fixed prompt first) -> pool index of
# every window
Draw = Callable[[np.random.Generator, int, int, tuple[int, ...]], np.ndarray]


@dataclass(frozen=True)
class Strategy:
    name: str
    draw: Draw | None  # None: decided during training (loss_aware: the schedule draws candidates, the trainer picks)
    needs_closeness: bool = False  # the caller computes the pool's closeness order to the fixed prompt
    sft_only: bool = False  # learns from the SFT training loss (GRPO refuses it)


STRATEGIES: dict[str, Strategy] = {}


def strategy(name: str, *, needs_closeness: bool = False) -> Callable[[Draw], Draw]:
    """Register a per-window draw function as ``paft_sampling: <name>``."""

    def register(draw: Draw) -> Draw:
        if name in STRATEGIES:
            raise ValueError(f"paft_sampling strategy {name!r} is registered twice")
        STRATEGIES[name] = Strategy(name, draw, needs_closeness)
        return draw

    return register


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"paft_sampling must be one of {tuple(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name]


@strategy("uniform")
def uniform(rng: np.random.Generator, count: int, pool_size: int, closeness: tuple[int, ...]) -> np.ndarray:
    """Uniformly with replacement (the paper)."""
    return rng.integers(0, pool_size, size=count)


@strategy("cycle")
def cycle(rng: np.random.Generator, count: int, pool_size: int, closeness: tuple[int, ...]) -> np.ndarray:
    """Shuffled cycles through the pool: every prompt is used before any repeats."""
    cycles = -(-count // pool_size)
    return np.concatenate([rng.permutation(pool_size) for _ in range(cycles)])[:count]


@strategy("curriculum", needs_closeness=True)
def curriculum(rng: np.random.Generator, count: int, pool_size: int, closeness: tuple[int, ...]) -> np.ndarray:
    """Window w of W draws uniformly from the ⌈pool · (w+1)/W⌉ prompts closest to the fixed one, widening to the
    whole pool by the last window."""
    if sorted(closeness) != list(range(pool_size)):
        raise ValueError("curriculum sampling needs an order of the whole pool (closest to the canonical first)")
    reach = np.maximum(1, np.ceil(pool_size * (np.arange(count) + 1) / count).astype(int))
    return np.asarray(closeness)[[int(rng.integers(0, k)) for k in reach]]


STRATEGIES["loss_aware"] = Strategy("loss_aware", None, sft_only=True)  # .loss_aware picks among seeded candidates
