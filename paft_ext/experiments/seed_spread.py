"""How much of a spread over seeds is the seeds' and how much the finite question set's.

Every seed of a method is read on the same questions, but two adapters of equal true accuracy still err on different
questions, so their means differ by question-sampling noise alone: with 100 questions this is about 2 points for a
pair of SST-2 adapters near 87 % (``results/recipe_cpu``). The sample variance of the seed means estimates the true
seed variance plus that idiosyncratic noise; the paired question standard error of each pair of seeds (the spread
over questions of their per-question accuracy difference, / √n) estimates twice the noise. So

    floor² = mean over pairs of SE²(a − b) / 2,      sd beyond questions = √max(0, sd² − floor²)

— an estimate of the spread a method would show over seeds on an unlimited question set, and the floor below which
no observed sd can be trusted to fall at this question count.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence

import numpy as np


def seed_spread(per_question: Sequence[Sequence[float]]) -> dict[str, float]:
    """``per_question``: one vector per seed, the accuracy (0–1, averaged over prompts) on each question, the same
    questions in the same order. Returns, in points: the sd of the seed means (ddof 1), the question-noise floor and
    the sd beyond it (NaN with fewer than two seeds)."""
    vectors = [np.asarray(v, dtype=float) for v in per_question]
    if len({len(v) for v in vectors}) > 1:
        raise ValueError("every seed must be read on the same questions")
    if len(vectors) < 2:
        return {"sd": math.nan, "floor": math.nan, "sd_beyond_questions": math.nan}
    n = len(vectors[0])
    sd = statistics.stdev(100 * float(v.mean()) for v in vectors)
    pair_var = [float(np.var(100 * (a - b), ddof=1)) / n for a, b in itertools.combinations(vectors, 2)]
    floor = math.sqrt(statistics.fmean(pair_var) / 2)
    return {"sd": sd, "floor": floor, "sd_beyond_questions": math.sqrt(max(0.0, sd**2 - floor**2))}
