"""The materialised PAFT schedule: windows, epochs, sampling, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from paft_ext.core.schedule import CANONICAL, Geometry, ScheduleSpec, build_schedule


def spec(**changes) -> ScheduleSpec:
    base = ScheduleSpec(n_rows=50, epochs=3, max_steps=0, geometry=Geometry(2, 4, 1), window=2, window_unit="step",
                        sampling="uniform", epoch_reshuffle=True, pool_size=7, pool_digest="x", seed=11)
    return dataclasses.replace(base, **changes)


def test_epochs_are_distinct_permutations_and_only_whole_steps_are_kept():
    schedule = build_schedule(spec())
    assert len(schedule.order) == 150 // 8 * 8 == 144 and schedule.total_steps == 18
    epochs = [schedule.order[i * 50:(i + 1) * 50] for i in range(2)]
    assert sorted(epochs[0]) == list(range(50)) == sorted(epochs[1])
    assert not np.array_equal(epochs[0], epochs[1])


def test_epoch_end_steps_are_the_steps_that_complete_each_epoch_but_the_last():
    # 50 rows, 8 per step: epoch 1 ends inside step 7 (rows 48-55), epoch 2 inside step 13 (rows 96-103);
    # the third is cut at 144 rows = step 18, which the trainer ends itself
    assert build_schedule(spec()).epoch_end_steps() == [7, 13]
    # max_steps 10 = 80 rows: epoch 1 ends in step 7, the cut second epoch at step 10 (the last)
    assert build_schedule(spec(max_steps=10)).epoch_end_steps() == [7]
    assert build_schedule(spec(epochs=1)).epoch_end_steps() == []


def test_one_prompt_per_window_of_k_optimizer_steps():
    schedule = build_schedule(spec(window=2))
    rows_per_window = 2 * 8
    for start in range(0, len(schedule.order), rows_per_window):
        assert len(set(schedule.prompt_index[start:start + rows_per_window].tolist())) == 1
    windows = schedule.windows()
    assert [(w["first_step"], w["last_step"]) for w in windows[:3]] == [(0, 1), (2, 3), (4, 5)]
    assert len(windows) == 9


def test_world_size_multiplies_rows_per_window():
    schedule = build_schedule(spec(geometry=Geometry(2, 3, 2), window=1))
    assert schedule.window_rows == 12 and schedule.total_steps == 150 // 12 == 12


def test_example_unit_counts_rows():
    schedule = build_schedule(spec(window=5, window_unit="example"))
    assert schedule.window_rows == 5


def test_same_spec_same_bytes_other_seed_other_schedule():
    a, b = build_schedule(spec()), build_schedule(spec())
    assert a.order.tobytes() == b.order.tobytes() and a.prompt_index.tobytes() == b.prompt_index.tobytes()
    c = build_schedule(spec(seed=12))
    assert c.order.tobytes() != a.order.tobytes() and c.prompt_index.tobytes() != a.prompt_index.tobytes()
    assert spec().digest() == spec().digest() != spec(window=3).digest()


def test_cycle_uses_every_prompt_before_repeating():
    schedule = build_schedule(spec(sampling="cycle", pool_size=7, window=1, window_unit="example"))
    draws = schedule.prompt_index[:7].tolist()
    assert sorted(draws) == list(range(7))
    counts = np.bincount(schedule.prompt_index, minlength=7)
    assert counts.max() - counts.min() <= 1


def test_uniform_draws_with_replacement_cover_the_pool():
    schedule = build_schedule(spec(n_rows=2000, pool_size=5, window=1, window_unit="example"))
    counts = np.bincount(schedule.prompt_index, minlength=5)
    assert counts.min() > 0.15 * len(schedule.order)  # each ~20%
    first = schedule.prompt_index[:50]
    assert len(set(first.tolist())) < 50  # repeats happen: with replacement


def test_authors_preset_keeps_order_and_prompt_per_example():
    schedule = build_schedule(spec(epoch_reshuffle=False, window=1, window_unit="example", geometry=Geometry(1, 1, 1)))
    assert schedule.order[:50].tolist() == list(range(50)) == schedule.order[50:100].tolist()
    assert schedule.prompt_index[:50].tolist() == schedule.prompt_index[50:100].tolist()


@pytest.mark.parametrize("reshuffle", [True, False])
@pytest.mark.parametrize(("n_rows", "geometry"),
                         [(37, Geometry(1, 8, 1)), (50, Geometry(3, 1, 2)), (41, Geometry(2, 2, 1))])
def test_windows_stay_whole_optimizer_steps_when_epochs_do_not_end_on_a_step(n_rows, geometry, reshuffle):
    schedule = build_schedule(spec(n_rows=n_rows, geometry=geometry, window=4, epoch_reshuffle=reshuffle))
    rps, steps = geometry.rows_per_step, schedule.total_steps
    assert n_rows % rps != 0 and steps == 3 * n_rows // rps
    step_prompts = [set(schedule.prompt_index[s * rps:(s + 1) * rps].tolist()) for s in range(steps)]
    assert all(len(p) == 1 for p in step_prompts)  # never two prompts in one optimizer step
    blocks = [step_prompts[first:first + 4] for first in range(0, steps, 4)]
    assert all(all(p == block[0] for p in block) for block in blocks)  # one prompt per window of K=4 steps
    assert [(w["first_step"], w["last_step"]) for w in schedule.windows()] == [
        (first, min(first + 3, steps - 1)) for first in range(0, steps, 4)]
    if not reshuffle:
        assert schedule.order[:n_rows].tolist() == list(range(n_rows)) == schedule.order[n_rows:2 * n_rows].tolist()


def test_max_steps_takes_exactly_that_many_steps():
    schedule = build_schedule(spec(max_steps=40))  # 320 rows > 3 epochs of 50
    assert schedule.total_steps == 40 and len(schedule.order) == 320


@pytest.mark.parametrize(("changes", "message"), [
    ({"n_rows": 0}, "training set is empty"),
    ({"window": 0}, "paft_window_steps must be >= 1"),
    ({"pool_size": 0}, "pool is empty"),
    ({"n_rows": 4, "epochs": 1}, "do not fill one optimizer step"),
    ({"canonical_ratio": 1.5}, "paft_canonical_ratio must be in"),
    ({"sampling": "curriculum", "curriculum_order": (0, 1, 2)}, "order of the whole pool"),
])
def test_bad_specs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(spec(**changes))


def _window_prompts(schedule) -> list[int]:
    return [w["prompt_index"] for w in schedule.windows()]


def test_curriculum_widens_from_the_closest_prompts_to_the_whole_pool():
    order = (4, 2, 6, 0, 1, 5, 3)  # closest to the canonical prompt first
    schedule = build_schedule(spec(sampling="curriculum", curriculum_order=order, n_rows=200, pool_size=7))
    draws = _window_prompts(schedule)
    windows = len(draws)  # 200 rows x 3 epochs / 8 rows per step = 75 steps; windows of 2 steps: 38 (last half)
    assert windows == 38
    for w, prompt in enumerate(draws):
        reach = max(1, -(-7 * (w + 1) // windows))  # ceil(7 (w+1) / W), computed here by hand
        assert prompt in order[:reach], (w, prompt, reach)
    assert set(draws[:5]) == {4}  # reach ceil(7 * 5 / 38) = 1: the closest prompt only
    assert set(draws[-10:]) - set(order[:3])  # by the end prompts beyond the closest three are drawn


def test_canonical_ratio_keeps_an_exact_share_of_windows_on_the_fixed_prompt():
    for ratio in (0.25, 0.5, 1.0):
        draws = _window_prompts(build_schedule(spec(canonical_ratio=ratio, n_rows=200)))
        assert draws.count(CANONICAL) == round(ratio * len(draws))
    plain = _window_prompts(build_schedule(spec(n_rows=200)))
    mixed = _window_prompts(build_schedule(spec(canonical_ratio=0.25, n_rows=200)))
    # the other windows keep the draws they would have had without a canonical share
    assert all(m == p for m, p in zip(mixed, plain, strict=True) if m != CANONICAL)
    assert spec(canonical_ratio=0.25).digest() != spec().digest()


@pytest.mark.parametrize(("ratio", "quarters"), [
    # density min(1, a (1 - x)) averaged over each quarter of training, worked out by hand:
    # r = 0.5: a = 1, 1 - x at the quarter midpoints x = 1/8, 3/8, 5/8, 7/8
    (0.5, (0.875, 0.625, 0.375, 0.125)),
    # r = 0.75: a = 2, all canonical up to x = 1/2, then 2 (1 - x) at x = 5/8 and 7/8
    (0.75, (1.0, 1.0, 0.75, 0.25)),
    # r = 0.25: a = 0.5, half of r = 0.5's density
    (0.25, (0.4375, 0.3125, 0.1875, 0.0625)),
])
def test_canonical_decay_front_loads_the_fixed_prompt_windows(ratio, quarters):
    """``paft_canonical_decay``: the share r of windows on the fixed prompt, laid out with a density that falls
    linearly to 0 at the end of training; each quarter holds its share to within one window."""
    schedule = build_schedule(spec(canonical_ratio=ratio, canonical_decay=True, n_rows=400, epochs=4, window=1))
    canonical = np.array(_window_prompts(schedule)) == CANONICAL
    windows = len(canonical)
    assert windows == 200
    assert abs(canonical.sum() - ratio * windows) <= 1
    for quarter, share in enumerate(quarters):
        assert abs(canonical[quarter * 50:(quarter + 1) * 50].sum() - share * 50) <= 1, (quarter, share)
    assert schedule.spec.digest() != spec(canonical_ratio=ratio, n_rows=400, epochs=4, window=1).digest()
    assert "canonical_decay" not in spec(canonical_ratio=ratio).as_dict()  # old schedules keep their digests
    with pytest.raises(ValueError, match="paft_canonical_decay .* needs paft_canonical_ratio > 0"):
        build_schedule(spec(canonical_decay=True))
