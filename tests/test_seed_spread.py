"""The seed-spread decomposition on simulated readings whose true seed spread is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paft_ext.experiments.seed_spread import seed_spread


def _readings(rng, offsets, n=100, base=0.87, flip=0.10):
    """Seeds that share the questions' difficulty but err on different questions: each seed answers a question right
    with the question's own probability (shared) shifted by the seed's true offset, independently per seed."""
    difficulty = np.clip(rng.normal(base, 0.15, size=n), 0.02, 0.98)
    return [(rng.random(n) < np.clip(difficulty + off, 0, 1)).astype(float) for off in offsets]


def test_equal_seeds_have_no_spread_beyond_the_question_noise():
    rng = np.random.default_rng(0)
    raw, corrected_sq = [], []
    for _ in range(800):
        found = seed_spread(_readings(rng, [0.0, 0.0, 0.0]))
        raw.append(found["sd"] ** 2)
        corrected_sq.append(found["sd"] ** 2 - found["floor"] ** 2)
    # the observed sd of equal seeds is pure question noise (well above zero at 100 questions) ...
    assert math.sqrt(np.mean(raw)) > 1.5
    # ... and the floor accounts for it: sd² − floor² averages to zero (unbiased within simulation error)
    assert abs(np.mean(corrected_sq)) < 0.15 * np.mean(raw)


def test_a_true_seed_spread_is_recovered_on_many_questions():
    rng = np.random.default_rng(1)
    offsets = [-0.03, 0.0, 0.03]  # true seed sd: 3 points
    found = seed_spread(_readings(rng, offsets, n=20000))
    assert found["floor"] < 0.5
    assert found["sd_beyond_questions"] == pytest.approx(3.0, abs=0.4)


def test_hand_computed_two_seeds():
    a, b = [1, 1, 0, 1], [1, 0, 0, 0]  # means 75 and 25; differences 0, 1, 0, 1 (points: 0, 100, 0, 100)
    found = seed_spread([a, b])
    assert found["sd"] == pytest.approx(50 / math.sqrt(2))  # stdev of (75, 25)
    pair_se2 = np.var([0, 100, 0, 100], ddof=1) / 4  # 3333.3 / 4
    assert found["floor"] == pytest.approx(math.sqrt(pair_se2 / 2))
    assert found["sd_beyond_questions"] == pytest.approx(math.sqrt(1250 - pair_se2 / 2))
    assert math.isnan(seed_spread([a])["sd"])
    with pytest.raises(ValueError, match="same questions"):
        seed_spread([a, b[:3]])
