"""Table 1 with seeds as the unit: the per-seed runs of one preset (same records, questions and prompts; a seed sets
the LoRA init, the data order and the PAFT schedule) summarised per method as mean ± sd over seeds, and the claims
against fixed-prompt SFT tested on seed averages with intervals that resample seeds and questions.

Interval: each resample draws the seeds with replacement and, within each drawn seed, the questions with
replacement (one draw shared by every method of that seed, so a difference is paired by seed and question); a
statistic is its mean over the drawn seeds. With three seeds the seed draw is coarse — the interval says how far the
claim rests on which seeds were run, not only on which questions were asked.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from paft_ext.evaluation.bootstrap import STATS, correctness, set_stats
from paft_ext.evaluation.prompt_results import PromptResult
from paft_ext.evaluation.report import seen_unseen_gaps

from .claims import check_claims, claims_markdown
from .presets import METHOD_TITLES, METHODS

SEED_STATS = ("mean", "std_pop", "spread_beyond_noise", "min", "balanced_accuracy", "no_answer_pct")


def _fmt(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}" if values else "–"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def over_seeds(per_seed_rows: dict[int, list[dict]]) -> list[dict]:
    """Per (method, task, prompt set): its seeds, per statistic the per-seed values, their mean (the key itself, so
    the rows read like :func:`report.summarise` rows) and sd over seeds (``<stat>_sd``)."""
    groups: dict[tuple[str, str, str], dict[int, dict]] = {}
    for seed, rows in sorted(per_seed_rows.items()):
        for row in rows:
            if row["task"] != "AVERAGE":
                groups.setdefault((row["model"], row["task"], row["prompt_set"]), {})[seed] = row
    out = []
    for (model, task, prompt_set), by_seed in groups.items():
        row = {"model": model, "task": task, "prompt_set": prompt_set, "seeds": sorted(by_seed),
               "worst_prompt": "mean of the seeds' worst"}
        for stat in SEED_STATS:
            values = [float(r[stat]) for r in by_seed.values() if r.get(stat) is not None]
            row[f"{stat}_per_seed"] = values
            row[stat] = statistics.fmean(values) if values else math.nan
            row[f"{stat}_sd"] = statistics.stdev(values) if len(values) > 1 else math.nan
        row["collapsed_prompts_per_seed"] = [r.get("collapsed_prompts") for r in by_seed.values()]
        out.append(row)
    return out


def seed_bootstrap(per_seed_correct: dict[int, dict[str, np.ndarray]], *, resamples: int = 2000,
                   seed: int = 0) -> dict[str, dict[str, tuple[float, np.ndarray]]]:
    """Method -> statistic -> (mean over seeds, values over resamples of seeds and questions), for the methods every
    seed has. ``per_seed_correct``: seed -> method -> prompts × questions 0/1 (the same questions in every seed)."""
    seeds = sorted(per_seed_correct)
    methods = [m for m in per_seed_correct[seeds[0]] if all(m in per_seed_correct[s] for s in seeds)]
    if not methods:
        return {}
    n = {per_seed_correct[s][m].shape[1] for s in seeds for m in methods}
    if len(n) != 1:
        raise ValueError(f"seeds answered different numbers of questions ({sorted(n)}); seeds must share questions")
    n = n.pop()
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(seeds), size=(resamples, len(seeds)))
    counts = {s: np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)])
              for s in range(len(seeds))}
    out: dict[str, dict[str, tuple[float, np.ndarray]]] = {}
    for method in methods:
        observed = {stat: [] for stat in STATS}
        resampled = {stat: np.zeros((resamples, len(seeds))) for stat in STATS}
        for i, s in enumerate(seeds):
            matrix = per_seed_correct[s][method]
            for stat, value in set_stats(100 * matrix.mean(axis=1, keepdims=True), n).items():
                observed[stat].append(float(value[0]))
            per_resample = set_stats(100 * matrix @ counts[i].T / n, n)  # this seed under every question draw
            for stat in STATS:
                resampled[stat][:, i] = per_resample[stat]
        out[method] = {}
        for stat in STATS:
            picked = np.take_along_axis(resampled[stat], drawn, axis=1)  # the drawn seeds' values
            out[method][stat] = (statistics.fmean(observed[stat]), picked.mean(axis=1))
    return out


def seed_boots(per_seed_results: dict[int, list[PromptResult]], tasks: tuple[str, ...],
               resamples: int = 2000) -> dict[tuple[str, str], dict]:
    """(task, prompt set) -> :func:`seed_bootstrap` over the seeds that evaluated it."""
    sets = sorted({(r.task, r.prompt_set) for results in per_seed_results.values() for r in results
                   if r.task in tasks})
    return {key: seed_bootstrap({seed: correctness(results, *key) for seed, results in per_seed_results.items()},
                                resamples=resamples) for key in sets}


def seeds_markdown(rows: list[dict], prompt_set_order: list[str]) -> str:
    """One line per method and prompt set: per-seed means, and mean ± sd over seeds of each statistic."""
    lines = ["| Prompt set | Method | seeds | mean per seed | mean | std over prompts | noise-corrected spread | "
             "worst prompt | balanced accuracy | no answer % | collapsed prompts per seed |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {s: i for i, s in enumerate(prompt_set_order)}
    for row in sorted(rows, key=lambda r: (r["task"], order.get(r["prompt_set"], 99), METHODS.index(r["model"]))):
        lines.append(f"| {row['prompt_set']} | {METHOD_TITLES[row['model']]} | {len(row['seeds'])} | "
                     + " / ".join(f"{v:.2f}" for v in row["mean_per_seed"]) + " | "
                     + " | ".join(_fmt(row[f"{stat}_per_seed"]) for stat in SEED_STATS) + " | "
                     + " / ".join("–" if n is None else str(n) for n in row["collapsed_prompts_per_seed"]) + " |")
    return "\n".join(lines) + "\n"


def write_seeds_report(per_seed_rows: dict[int, list[dict]], per_seed_results: dict[int, list[PromptResult]],
                       tasks: tuple[str, ...], prompt_set_order: list[str], out: Path, header: list[str]) -> list:
    """``table1_seeds.md`` under ``out``: the per-seed table and the claims on seed averages; returns the claims."""
    rows = over_seeds(per_seed_rows)
    boots = seed_boots(per_seed_results, tasks)
    claims = check_claims(rows, seen_unseen_gaps(rows), boots)
    text = [*header, "## Per method and prompt set: each seed, and mean ± sd over seeds", "",
            seeds_markdown(rows, prompt_set_order),
            "## The claims against fixed-prompt SFT, on seed averages", "",
            "Each statistic is the mean over seeds (the worst prompt: the mean of each seed's worst); intervals "
            "resample seeds and, within each, questions (paired by seed and question; 2000 resamples).", "",
            claims_markdown(claims)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "table1_seeds.md").write_text("\n".join(text))
    return claims
