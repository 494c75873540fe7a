"""Paired bootstrap over evaluation questions, for differences between methods on one prompt set.

With a hundred questions, which questions were drawn moves every prompt's accuracy together, and no per-prompt
standard error shows that. One resample of the questions serves every prompt and method of a (task, prompt set), so
a difference such as PAFT − fixed is computed on the same resampled questions: the interval is paired.

Per resample and method: the mean over prompts, the spread over prompts (ddof 0) and the noise-corrected spread
``sqrt(max(0, variance over prompts − mean binomial variance of one prompt's accuracy))``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

STATS = ("mean", "std", "spread")


@dataclass(frozen=True)
class Estimate:
    """An observed statistic and the 2.5 / 97.5 percentiles of its bootstrap distribution."""

    value: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def correctness(results: Iterable, task: str, prompt_set: str) -> dict[str, np.ndarray]:
    """Method -> prompts × questions matrix of 0/1, prompts in index order. Methods without per-question
    correctness are left out; methods that did not answer the same number of questions are refused."""
    by_model: dict[str, list] = {}
    for r in results:
        if r.task == task and r.prompt_set == prompt_set:
            by_model.setdefault(r.model, []).append(r)
    matrices = {}
    for model, mine in sorted(by_model.items()):
        if all(r.item_correct for r in mine):
            mine.sort(key=lambda r: r.prompt_index)
            lengths = {len(r.item_correct) for r in mine}
            if len(lengths) != 1:
                raise ValueError(f"{model} / {task} / {prompt_set}: prompts answered different numbers of questions "
                                 f"({sorted(lengths)}); a paired bootstrap needs the same questions for every prompt")
            matrices[model] = np.array([[c == "1" for c in r.item_correct] for r in mine], dtype=float)
    lengths = {m.shape[1] for m in matrices.values()}
    if len(lengths) > 1:
        raise ValueError(f"{task} / {prompt_set}: methods answered different numbers of questions ({sorted(lengths)})")
    return matrices


def set_stats(per_prompt: np.ndarray, questions: int) -> dict[str, np.ndarray]:
    """``per_prompt``: prompts × resamples accuracies in %."""
    variance = per_prompt.var(axis=0)
    binomial = (per_prompt * (100 - per_prompt) / questions).mean(axis=0)
    return {"mean": per_prompt.mean(axis=0), "std": np.sqrt(variance),
            "spread": np.sqrt(np.maximum(0.0, variance - binomial))}


def paired_bootstrap(correct: dict[str, np.ndarray], *, resamples: int = 2000,
                     seed: int = 0) -> dict[str, dict[str, tuple[float, np.ndarray]]]:
    """Method -> statistic -> (observed value, values over the shared resamples)."""
    if not correct:
        return {}
    n = next(iter(correct.values())).shape[1]
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)])
    out = {}
    for method, matrix in correct.items():
        observed = set_stats(100 * matrix.mean(axis=1, keepdims=True), n)
        resampled = set_stats(100 * matrix @ counts.T / n, n)
        out[method] = {s: (float(observed[s][0]), resampled[s]) for s in STATS}
    return out


def estimate(observed: float, values: np.ndarray) -> Estimate:
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(observed, float(low), float(high))


def difference(boot: dict[str, dict[str, tuple[float, np.ndarray]]], method: str, baseline: str,
               stat: str) -> Estimate | None:
    """``method − baseline`` on one statistic, paired over the shared resamples (None if either is missing)."""
    if method not in boot or baseline not in boot:
        return None
    (a, va), (b, vb) = boot[method][stat], boot[baseline][stat]
    return estimate(a - b, va - vb)
