"""Seeds as the unit: the summary over seeds and the interval that resamples seeds and questions."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from paft_ext.evaluation.bootstrap import difference, estimate
from paft_ext.experiments.table1_seeds import over_seeds, seed_bootstrap, seeds_markdown


def test_the_interval_resamples_seeds_not_only_questions():
    # per seed, PAFT − fixed is +10, −10, +10 points on every question alike (every question is answered by the same
    # share of prompts), so resampling questions alone would give a zero-width interval; resampling the 3 seeds gives
    # the mean of 3 draws from {+10, −10, +10}
    fixed = np.full((2, 20), 0.5)
    per_seed = {0: {"fixed": fixed, "paft": fixed + 0.1}, 1: {"fixed": fixed, "paft": fixed - 0.1},
                2: {"fixed": fixed, "paft": fixed + 0.1}}
    boot = seed_bootstrap(per_seed, resamples=4000, seed=1)
    diff = difference(boot, "paft", "fixed", "mean")
    assert diff.value == pytest.approx(10 / 3)  # the mean over seeds of +10, −10, +10
    draws = boot["paft"]["mean"][1] - boot["fixed"]["mean"][1]
    assert set(np.round(draws, 6)) <= {-10.0, round(-10 / 3, 6), round(10 / 3, 6), 10.0}
    # P(all three draws are the −10 seed) = 1/27 > 2.5 %, so the interval reaches −10 (and +10 likewise)
    assert (diff.low, diff.high) == pytest.approx((-10.0, 10.0))


def test_the_interval_pairs_methods_on_the_same_question_draw():
    # two methods with identical answers in every seed: under a question draw shared by both, their difference is 0
    # in every resample; each method's own mean still moves with the questions drawn
    rng = np.random.default_rng(0)
    per_seed = {s: {"fixed": (m := (rng.random((3, 50)) < 0.6).astype(float)), "paft": m.copy()} for s in range(3)}
    boot = seed_bootstrap(per_seed, resamples=500, seed=2)
    diff = difference(boot, "paft", "fixed", "mean")
    assert (diff.value, diff.low, diff.high) == (0.0, 0.0, 0.0)
    single = estimate(*boot["fixed"]["mean"])
    assert single.high - single.low > 5


def test_methods_missing_in_a_seed_are_left_out_and_question_counts_must_agree():
    a = np.ones((2, 10))
    boot = seed_bootstrap({0: {"base": a, "fixed": a}, 1: {"fixed": a}}, resamples=10)
    assert set(boot) == {"fixed"}
    with pytest.raises(ValueError, match="same questions|different numbers of questions"):
        seed_bootstrap({0: {"fixed": a}, 1: {"fixed": np.ones((2, 9))}}, resamples=10)


def test_over_seeds_gives_per_seed_values_mean_and_sd():
    rows = {0: [{"model": "paft", "task": "sst2", "prompt_set": "test", "mean": 80.0, "std_pop": 2.0,
                 "spread_beyond_noise": 1.0, "min": 75.0, "balanced_accuracy": 79.0, "no_answer_pct": 0.0,
                 "collapsed_prompts": 2}],
            1: [{"model": "paft", "task": "sst2", "prompt_set": "test", "mean": 90.0, "std_pop": 4.0,
                 "spread_beyond_noise": 3.0, "min": 85.0, "balanced_accuracy": 91.0, "no_answer_pct": 1.0,
                 "collapsed_prompts": 0},
                {"model": "paft", "task": "AVERAGE", "prompt_set": "test", "mean": 90.0}]}
    (row,) = over_seeds(rows)
    assert row["seeds"] == [0, 1] and row["mean_per_seed"] == [80.0, 90.0]
    assert row["mean"] == 85.0 and row["mean_sd"] == pytest.approx(statistics.stdev([80, 90]))
    assert row["min"] == 80.0 and row["spread_beyond_noise"] == 2.0
    assert row["collapsed_prompts_per_seed"] == [2, 0]
    assert "| 2 / 0 |" in seeds_markdown([row], ["test"])
    (single,) = over_seeds({0: rows[0]})
    assert math.isnan(single["mean_sd"])
