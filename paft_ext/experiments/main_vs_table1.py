"""The main job read beside Table 1 ``cpu``'s seeds on the very same items.

The main job trains on Table 1 ``cpu``'s 400 records with the same recipe and reads the first prompts of ``test``
and ``seen_probe`` on the first questions of Table 1's 100 (``scripts/run_main.sh``), so its seed is one more seed
of Table 1. Comparing it with Table 1's whole-table means would mix in other prompts and questions (a 30-question
reading once put PAFT 9 points above Table 1's mean); this restricts every Table 1 seed to the main job's prompts and
questions, from the ``per_prompt.csv`` each run writes, and checks that the questions really are the same ones.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Mapping
from pathlib import Path

Key = tuple[str, str, str]  # (model, prompt set, prompt id)


def read_items(path: Path) -> dict[Key, tuple[str, str]]:
    """(per-question correctness, per-question golds) per model, prompt set and prompt of one ``per_prompt.csv``."""
    with path.open(newline="") as handle:
        return {(row["model"], row["prompt_set"], row["prompt_id"]): (row["item_correct"], row["item_golds"])
                for row in csv.DictReader(handle)}


def _accuracy(correct: str) -> float:
    return 100 * sum(c == "1" for c in correct) / len(correct)


def compare(main: Path, seeds: Mapping[int, Path]) -> list[dict]:
    """Per model and prompt set of the main job: its mean accuracy over its prompts, and each Table 1 seed's mean on
    the same prompts and the first as many questions (no entry for a seed that never read the model: Table 1 reads the
    base model in one seed). Raises if a seed that read the model lacks a prompt, or its questions differ."""
    mine = read_items(main)
    theirs = {seed: read_items(path) for seed, path in seeds.items()}
    groups: dict[tuple[str, str], list[str]] = {}
    for model, prompt_set, prompt_id in mine:
        groups.setdefault((model, prompt_set), []).append(prompt_id)
    rows = []
    for (model, prompt_set), prompt_ids in groups.items():
        row = {"model": model, "prompt_set": prompt_set, "prompts": len(prompt_ids),
               "main": statistics.fmean(_accuracy(mine[(model, prompt_set, p)][0]) for p in prompt_ids)}
        for seed, items in theirs.items():
            if not any(key[0] == model for key in items):
                continue
            values = []
            for prompt_id in prompt_ids:
                correct, golds = mine[(model, prompt_set, prompt_id)]
                found = items.get((model, prompt_set, prompt_id))
                if found is None:
                    raise ValueError(f"{seeds[seed]}: no {model} reading of {prompt_set} prompt {prompt_id}")
                if found[1].split("|")[: len(correct)] != golds.split("|"):
                    raise ValueError(f"{seeds[seed]}: the questions of {prompt_set} prompt {prompt_id} are not the "
                                     f"main job's (golds differ): not the same prepared data")
                values.append(_accuracy(found[0][: len(correct)]))
            row[f"seed{seed}"] = statistics.fmean(values)
        row["questions"] = len(mine[(model, prompt_set, prompt_ids[0])][0])
        rows.append(row)
    return rows


def difference(rows: list[dict], model: str, reference: str) -> list[dict]:
    """``model`` − ``reference`` per prompt set, for the main job and every seed (the comparison the job exists for)."""
    by = {(r["model"], r["prompt_set"]): r for r in rows}
    out = []
    for (name, prompt_set), row in by.items():
        other = by.get((reference, prompt_set))
        if name != model or other is None:
            continue
        out.append({k: (v - other[k] if isinstance(v, float) else v) for k, v in row.items()}
                   | {"model": f"{model} − {reference}"})
    return out


def markdown(rows: list[dict], seeds: list[int], main_label: str) -> list[str]:
    """A table of the rows, with Table 1's seed range and whether the main job lies inside it."""
    lines = [f"| model | prompt set | prompts × questions | main job ({main_label}) | "
             + " | ".join(f"Table 1 seed {s}" for s in seeds) + " | Table 1 mean ± sd | main job inside seed range |",
             "|---" * (6 + len(seeds)) + "|"]
    for row in rows:
        values = [row[f"seed{s}"] for s in seeds if f"seed{s}" in row]
        spread = "–" if not values else f"{statistics.fmean(values):.2f}" + (
            f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")
        inside = "–" if not values else "yes" if min(values) <= row["main"] <= max(values) else "no"
        cells = " | ".join(f"{row[f'seed{s}']:.2f}" if f"seed{s}" in row else "–" for s in seeds)
        lines.append(f"| {row['model']} | {row['prompt_set']} | {row['prompts']} × {row['questions']} | "
                     f"{row['main']:.2f} | {cells} | {spread} | {inside} |")
    return lines
