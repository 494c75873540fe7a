"""One registry of sampling strategies: a strategy added as one registered function is a valid ``paft_sampling`` for
SFT (the hook's config) and GRPO, and the schedule draws with it; the shipped strategies keep their draws."""

from __future__ import annotations

import numpy as np
import pytest

from paft_ext.core import sampling
from paft_ext.core import schedule as streams
from paft_ext.core.config import PaftConfigError, build_config
from paft_ext.core.schedule import Geometry, ScheduleSpec, build_schedule
from paft_ext.pools.store import Prompt
from paft_ext.rl.config import RLConfigError, parse_run
from paft_ext.rl.data import grpo_rows
from paft_ext.tasks import get_task


@pytest.fixture()
def last_prompt_strategy(monkeypatch):
    """A new strategy, registered the way a contributor would: every window draws the pool's last prompt."""
    monkeypatch.setattr(sampling, "STRATEGIES", dict(sampling.STRATEGIES))
    monkeypatch.setattr("paft_ext.core.config.STRATEGIES", sampling.STRATEGIES)
    monkeypatch.setattr("paft_ext.rl.config.STRATEGIES", sampling.STRATEGIES)

    @sampling.strategy("always_last")
    def always_last(rng, count, pool_size, closeness):
        return np.full(count, pool_size - 1)

    return always_last


def _spec(name: str, **overrides) -> ScheduleSpec:
    values = dict(n_rows=8, epochs=2, max_steps=-1, geometry=Geometry(2, 1, 1), window=1, window_unit="step",
                  sampling=name, epoch_reshuffle=True, pool_size=3, pool_digest="d", seed=7)
    return ScheduleSpec(**{**values, **overrides})


def test_a_registered_strategy_reaches_sft_grpo_and_the_schedule(last_prompt_strategy, piqa_rows):
    with pytest.raises(PaftConfigError, match="paft_sampling must be one of .*'always_last'.*got 'nope'"):
        build_config({"pool": "p.jsonl", "sampling": "nope"})
    assert build_config({"pool": "p.jsonl", "sampling": "always_last"}).sampling == "always_last"
    _, paft = parse_run({"model_name_or_path": "m", "dataset": "d", "output_dir": "o", "paft_pool": "p.jsonl",
                         "paft_sampling": "always_last"})
    assert paft.sampling == "always_last"
    schedule = build_schedule(_spec("always_last"))
    assert schedule.prompt_index.tolist() == [2] * 16
    task = get_task("piqa")
    rows = [{k: r[k] for k in (*task.fields, "answer")} for r in piqa_rows[:8]]
    pool = [Prompt(f"p{i}", f"{i}: {{goal}} {{sol1}} {{sol2}}", "test") for i in range(3)]
    assert {r["paft_prompt_id"] for r in grpo_rows(task, rows, schedule, pool, system="")} == {"p2"}


def test_grpo_refuses_an_sft_only_strategy_and_names_the_usable_ones():
    with pytest.raises(RLConfigError, match="loss_aware is an SFT option.*use uniform, cycle, curriculum with GRPO"):
        parse_run({"model_name_or_path": "m", "dataset": "d", "output_dir": "o", "paft_pool": "p.jsonl",
                   "paft_sampling": "loss_aware"})


def test_a_name_registered_twice_is_refused():
    with pytest.raises(ValueError, match="'uniform' is registered twice"):
        sampling.strategy("uniform")(lambda rng, count, pool_size, closeness: np.zeros(count, dtype=int))


def test_shipped_strategies_draw_as_documented():
    # expected from the documented seeding (the prompt stream of seed 7), written out apart from the registry
    windows = 8  # 16 rows, 2 rows per step, 1 step per window
    rng = np.random.default_rng([7, streams._PROMPT_STREAM])
    assert build_schedule(_spec("uniform")).prompt_index[::2].tolist() == rng.integers(0, 3, size=windows).tolist()
    rng = np.random.default_rng([7, streams._PROMPT_STREAM])
    cycles = np.concatenate([rng.permutation(3) for _ in range(3)])[:windows]
    assert build_schedule(_spec("cycle")).prompt_index[::2].tolist() == cycles.tolist()
    closeness = (2, 0, 1)
    rng = np.random.default_rng([7, streams._PROMPT_STREAM])
    reach = [max(1, -(-3 * (w + 1) // windows)) for w in range(windows)]
    expected = [closeness[int(rng.integers(0, k))] for k in reach]
    drawn = build_schedule(_spec("curriculum", curriculum_order=closeness)).prompt_index[::2].tolist()
    assert drawn == expected and drawn[0] == 2  # the first window can only reach the closest prompt
    with pytest.raises(ValueError, match="curriculum sampling needs an order of the whole pool"):
        build_schedule(_spec("curriculum", curriculum_order=(0, 1)))
