"""Consistency across prompts: does a model give the same answer to a question however it is asked?

Accuracy spread says how much prompts change the *score*; two prompts with equal accuracy can still disagree on
half the questions. Per model, task and prompt set, over the questions every prompt answered (P prompts, Q
questions, ``a[p][q]`` the extracted answer, '' = none, ``c[p][q]`` its correctness):

* **consistency rate** = mean over q of ``max_v #{p : a[p][q] = v} / P`` — the share of prompts that give the
  question's most common answer (1 = every prompt answers alike; "no answer" counts as an answer value);
* **PSS** (prompt sensitivity score) = mean over q of ``#{p < p' : a[p][q] ≠ a[p'][q]} / (P(P−1)/2)`` — the
  probability that two different prompts answer a question differently (0 = insensitive);
* **all-correct** = share of questions with ``c[p][q] = 1`` for every p (correct however it is asked);
* **rank stability** between two models = Spearman's ρ of their per-prompt accuracies on the same prompts (ties get
  average ranks): 1 = the same prompts are hard for both, so prompt difficulty is a property of the prompt.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np


def consistency(answers: list[list[str]], correct: list[list[bool]]) -> dict[str, float]:
    """The three per-question measures for one model (rows = prompts, columns = questions, equal lengths)."""
    prompts = len(answers)
    if prompts < 2 or any(len(row) != len(answers[0]) for row in answers + correct) or not answers[0]:
        raise ValueError("consistency needs >= 2 prompts answering the same >= 1 questions")
    pairs = prompts * (prompts - 1) / 2
    agree, sensitivity, all_correct = [], [], []
    for q in range(len(answers[0])):
        column = [row[q] for row in answers]
        agree.append(Counter(column).most_common(1)[0][1] / prompts)
        sensitivity.append(sum(a != b for a, b in combinations(column, 2)) / pairs)
        all_correct.append(all(row[q] for row in correct))
    return {"consistency_rate": 100 * float(np.mean(agree)), "pss": float(np.mean(sensitivity)),
            "all_correct_pct": 100 * float(np.mean(all_correct))}


def average_ranks(values: list[float]) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of the ranks they span ([10, 20, 20] -> [1, 2.5, 2.5])."""
    data = np.asarray(values, dtype=float)
    order = data.argsort(kind="mergesort")
    ranks = np.empty(len(data))
    start = 0
    while start < len(data):
        stop = start
        while stop + 1 < len(data) and data[order[stop + 1]] == data[order[start]]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2 + 1
        start = stop + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's ρ with average ranks for ties (None when either side is constant: no ranking to compare)."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("rank stability needs two equal-length lists of >= 2 per-prompt accuracies")
    rx, ry = average_ranks(x), average_ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def consistency_rows(results: list) -> list[dict]:
    """One row per (model, task, prompt set) with >= 2 prompts: the measures above over the questions (by position
    in the prediction files, the same questions for every prompt of a run)."""
    groups: dict[tuple[str, str, str], list] = {}
    for r in results:
        groups.setdefault((r.model, r.task, r.prompt_set), []).append(r)
    rows = []
    for (model, task, prompt_set), mine in sorted(groups.items()):
        if len(mine) < 2 or any(len(r.item_answers.split("|")) != r.questions for r in mine):
            continue  # one prompt, or a result without one recorded answer per question (nothing to compare)
        n = min(r.questions for r in mine)
        answers = [r.item_answers.split("|")[:n] for r in mine]
        correct = [[c == "1" for c in r.item_correct[:n]] for r in mine]
        rows.append({"model": model, "task": task, "prompt_set": prompt_set, "prompts": len(mine), "questions": n,
                     **consistency(answers, correct)})
    return rows


def rank_stability_rows(results: list) -> list[dict]:
    """Spearman's ρ of per-prompt accuracy for every pair of models on the same task and prompt set."""
    by_key: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for r in results:
        by_key.setdefault((r.task, r.prompt_set), {}).setdefault(r.model, {})[r.prompt_id] = r.accuracy
    rows = []
    for (task, prompt_set), models in sorted(by_key.items()):
        for a, b in combinations(sorted(models), 2):
            shared = sorted(set(models[a]) & set(models[b]))
            if len(shared) >= 2:
                rho = spearman([models[a][p] for p in shared], [models[b][p] for p in shared])
                rows.append({"task": task, "prompt_set": prompt_set, "model_a": a, "model_b": b,
                             "prompts": len(shared), "spearman": rho})
    return rows


def consistency_markdown(results: list) -> tuple[str, dict[str, list[dict]]]:
    """The report section (Markdown) and its rows, ``{"consistency": […], "rank_stability": […]}``."""
    rows, pairs = consistency_rows(results), rank_stability_rows(results)
    if not rows:
        return "", {"consistency": [], "rank_stability": []}
    lines = ["", "Consistency across prompts (same questions under every prompt of a set): consistency_rate = mean "
             "share of prompts giving a question's most common answer; PSS = probability that two prompts answer a "
             "question differently; all_correct = questions right under every prompt "
             "(paft_ext/evaluation/consistency.py).", "",
             "| model | task | prompt_set | prompts | questions | consistency_rate | PSS | all_correct_pct |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['task']} | {r['prompt_set']} | {r['prompts']} | {r['questions']} | "
              f"{r['consistency_rate']:.2f} | {r['pss']:.3f} | {r['all_correct_pct']:.2f} |" for r in rows]
    if pairs:
        lines += ["", "Rank stability of prompts between models: Spearman's ρ of per-prompt accuracy (– = a model "
                  "with equal accuracy on every prompt ranks nothing).", "",
                  "| task | prompt_set | model_a | model_b | prompts | spearman |", "|---|---|---|---|---|---|"]
        lines += [f"| {p['task']} | {p['prompt_set']} | {p['model_a']} | {p['model_b']} | {p['prompts']} | "
                  f"{'–' if p['spearman'] is None else format(p['spearman'], '.3f')} |" for p in pairs]
    return "\n".join(lines) + "\n", {"consistency": rows, "rank_stability": pairs}
