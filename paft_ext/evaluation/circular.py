"""CircularEval over option rotations (``paft-ext pools perturb --circular``): is a question answered correctly
however the options are ordered?

A circular set holds, for each source prompt, its N cyclic option rotations (ids ``<source id>@rot<k>``, rotation 0
= the prompt as written; answers of rotated prompts are already mapped back to the original options). Per model,
task, set and source prompt, over the same Q questions:

* **plain accuracy** = accuracy of rotation 0 (the options in their original order);
* **mean over rotations** = the mean accuracy of the N rotations;
* **circular accuracy** = share of questions answered correctly under *every* rotation (CircularEval, as in
  MMBench); ``plain − circular`` is what option order alone costs.

Each figure is then averaged over the set's source prompts.
"""

from __future__ import annotations

import statistics

from paft_ext.pools.option_order import ROTATION


def circular_rows(results: list) -> list[dict]:
    """One row per (model, task, prompt set) holding complete rotation groups: exactly the rotations 0 … N−1, N the
    task's number of options. A group cut short (a first-N prompt limit keeps ``p@rot0``, ``p@rot1`` of a 4-option
    set) would count questions as circular-correct that some rotation never asked; it is left out and counted in
    ``incomplete_groups``."""
    from paft_ext.tasks import TASKS

    groups: dict[tuple[str, str, str], dict[str, dict[int, object]]] = {}
    for r in results:
        match = ROTATION.match(r.prompt_id)
        if match:
            groups.setdefault((r.model, r.task, r.prompt_set), {}).setdefault(match[1], {})[int(match[2])] = r
    rows = []
    for (model, task, prompt_set), sources in sorted(groups.items()):
        rotations = len(TASKS[task].choices)
        plain, mean, circular, incomplete = [], [], [], 0
        for rotated in sources.values():
            verdicts = [rotated[k].item_correct for k in sorted(rotated)]
            if sorted(rotated) != list(range(rotations)) or len({len(v) for v in verdicts}) != 1 or not verdicts[0]:
                incomplete += 1
                continue
            plain.append(rotated[0].accuracy)
            mean.append(statistics.fmean(rotated[k].accuracy for k in rotated))
            circular.append(100 * statistics.fmean(all(v[q] == "1" for v in verdicts) for q in range(len(verdicts[0]))))
        if circular or incomplete:
            rows.append({"model": model, "task": task, "prompt_set": prompt_set, "source_prompts": len(circular),
                         "incomplete_groups": incomplete, "rotations": rotations,
                         "plain_accuracy": statistics.fmean(plain) if plain else None,
                         "mean_over_rotations": statistics.fmean(mean) if mean else None,
                         "circular_accuracy": statistics.fmean(circular) if circular else None})
    return rows


def circular_markdown(results: list) -> tuple[str, list[dict]]:
    rows = circular_rows(results)
    if not rows:
        return "", rows
    lines = ["", "CircularEval over option rotations: plain = rotation 0 (original order), circular = questions right "
             "under every rotation (paft_ext/evaluation/circular.py).", "",
             "| model | task | prompt_set | source prompts | incomplete groups (left out) | rotations | plain | "
             "mean over rotations | circular |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['task']} | {r['prompt_set']} | {r['source_prompts']} | {r['incomplete_groups']} | "
              f"{r['rotations']} | {_pct(r['plain_accuracy'])} | {_pct(r['mean_over_rotations'])} | "
              f"{_pct(r['circular_accuracy'])} |" for r in rows]
    return "\n".join(lines) + "\n", rows


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
