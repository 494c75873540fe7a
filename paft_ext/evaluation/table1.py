"""The Table 1 report of a run: per-prompt CSV, the paper's Mean / Std / Top table, timings, noise and plots.

The table is computed from the per-prompt CSV after it is written (read back), so the published table and the
published per-prompt numbers cannot disagree.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from paft_ext.tasks import get_task

from .presets import METHOD_TITLES, METHODS, Preset
from .report import PromptResult, collect, prompt_ids, summarise
from .reproduce import stage_record
from .settings import REPO_ROOT

_FLOAT_OR_NONE = {"output_tokens", "seconds", "opencompass_accuracy"}


def gather(work: Path, preset: Preset, pool_root: Path, tokenizer: Any = None) -> list[PromptResult]:
    """Per-prompt results of every finished evaluation stage of the run in ``work``."""
    results = []
    for task in preset.tasks:
        for method in METHODS:
            finished = stage_record(work, f"eval_{task}_{method}")
            if finished is not None:
                results += collect(Path(finished["opencompass_run"]), pool_root, tokenizer)
    return results


def write_per_prompt(results: list[PromptResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(PromptResult)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in results)


def read_per_prompt(path: Path) -> list[PromptResult]:
    def value(name: str, text: str) -> Any:
        if name in ("prompt_index", "questions"):
            return int(text)
        if name in ("accuracy", "no_answer", "no_answer_strict", "extractors_disagree"):
            return float(text)
        if name in _FLOAT_OR_NONE:
            return float(text) if text else None
        return text

    with path.open(newline="") as handle:
        return [PromptResult(**{k: value(k, v) for k, v in row.items()}) for row in csv.DictReader(handle)]


def _cell(row: dict | None) -> str:
    if row is None:
        return "–"
    partial = " (partial)" if row.get("partial") else ""
    return f"{row['mean']:.2f} / {row['std_pop']:.2f} / {row['top_pct']:.0f}%{partial}"


def table_rows(results: list[PromptResult], preset: Preset, pool_root: Path) -> list[dict]:
    """:func:`summarise` rows, marked partial where a method lacks some of the task's test prompts."""
    expected = {(t, "test"): preset.prompts or len(prompt_ids(get_task(t), pool_root)) or None for t in preset.tasks}
    return summarise(results, expected=expected)


def table_markdown(rows: list[dict], preset: Preset) -> str:
    """The paper's layout: one row per method, Mean / Std / Top per task and the Average over tasks."""
    by_key = {(r["model"], r["task"]): r for r in rows}
    titles = [get_task(t).title for t in preset.tasks]
    lines = ["| Method | " + " | ".join(titles) + " | Average |", "|---|" + "---|" * (len(titles) + 1)]
    for method in METHODS:
        if not any(r["model"] == method for r in rows):
            continue
        cells = [_cell(by_key.get((method, t))) for t in preset.tasks]
        complete = all((method, t) in by_key for t in preset.tasks)
        average = _cell(by_key.get((method, "AVERAGE"))) if complete else "–"
        title = METHOD_TITLES[method] + (f" (K={preset.window_steps}, T={preset.epochs})" if method == "paft" else "")
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {average} |")
    return "\n".join(lines) + "\n"


def noise_markdown(rows: list[dict], preset: Preset) -> str:
    """What a per-prompt accuracy can resolve at this size: its binomial standard error, the spread over prompts
    that is left after removing it, the worst prompt, no-answer rate."""
    lines = ["| Method | Task | questions per prompt | SE per prompt | std (ddof 1) | spread beyond noise | worst "
             "prompt | no answer % |", "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (METHODS.index(r["model"]), r["task"])):
        if row["task"] == "AVERAGE":
            continue
        lines.append(f"| {METHOD_TITLES[row['model']]} | {get_task(row['task']).title} | {row['questions']} | "
                     f"{row['se_per_prompt']:.2f} | {row['std_sample']:.2f} | {row['spread_beyond_noise']:.2f} | "
                     f"{row['min']:.2f} ({row['worst_prompt']}) | {row['no_answer_pct']:.2f} |")
    return "\n".join(lines) + "\n"


def timing_markdown(work: Path, rows: list[dict], preset: Preset) -> str:
    """Training wall time (trainer's runtime), evaluation wall time (the whole OpenCompass run) and generation
    seconds per answer (OpenCompass's inferencer timer), mean output tokens per answer."""
    by_key = {(r["model"], r["task"]): r for r in rows}
    lines = ["| Method | Task | training s | optimizer steps | evaluation wall s | generation s per answer | "
             "output tokens per answer |", "|---|---|---|---|---|---|---|"]
    for method in METHODS:
        for task in preset.tasks:
            train = stage_record(work, f"train_{task}_{method}")
            evaluation = stage_record(work, f"eval_{task}_{method}")
            row = by_key.get((method, task))
            if evaluation is None and train is None:
                continue
            lines.append(" | ".join([
                f"| {METHOD_TITLES[method]}", get_task(task).title,
                f"{train['train_runtime']:.0f}" if train else "–", str(train["global_step"]) if train else "–",
                f"{evaluation['seconds']:.0f}" if evaluation else "–",
                f"{row['s_per_item']:.3f}" if row and row.get("s_per_item") else "–",
                f"{row['output_tokens']:.2f}" if row and row.get("output_tokens") is not None else "–"]) + " |")
    return "\n".join(lines) + "\n"


def bootstrap_markdown(results: list[PromptResult], preset: Preset, resamples: int = 2000, seed: int = 0) -> str:
    """95% intervals from resampling the evaluation questions: with few questions, which questions were drawn moves
    every prompt's accuracy together, and that no per-prompt standard error shows. One resample serves all prompts
    and methods of a task, so the PAFT-minus-baseline differences are paired."""
    rng = np.random.default_rng(seed)
    lines = ["| Task | Method | mean [95% interval] | PAFT − method, mean [95% interval] |", "|---|---|---|---|"]
    for task in preset.tasks:
        correct = {}
        for method in METHODS:
            mine = sorted((r for r in results if r.model == method and r.task == task), key=lambda r: r.prompt_index)
            if mine and all(r.item_correct for r in mine):
                correct[method] = np.array([[c == "1" for c in r.item_correct] for r in mine], dtype=float)
        if not correct:
            continue
        n = next(iter(correct.values())).shape[1]
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)])
        per_prompt = {m: 100 * c @ counts.T / n for m, c in correct.items()}  # prompts × resamples
        means = {m: a.mean(axis=0) for m, a in per_prompt.items()}
        for method in per_prompt:
            diff = _interval(means["paft"] - means[method]) if "paft" in means and method != "paft" else "–"
            lines.append(f"| {get_task(task).title} | {METHOD_TITLES[method]} | {_interval(means[method])} | {diff} |")
    return "\n".join(lines) + "\n"


def _interval(values: np.ndarray) -> str:
    low, high = np.percentile(values, [2.5, 97.5])
    return f"{values.mean():.2f} [{low:.2f}, {high:.2f}]"


def selection_markdown(work: Path, preset: Preset) -> str:
    lines = []
    for task in preset.tasks:
        chosen = stage_record(work, f"select_{task}")
        if chosen:
            lines.append(f"- {get_task(task).title}: `{chosen['prompt_id']}` — {chosen['accuracy']:.1f}% on "
                         f"{chosen['records']} training records ({chosen['scored_prompts']} prompts scored, "
                         f"{chosen['generations']} generations, {chosen['seconds']:.0f} s)")
    return "\n".join(lines) + "\n"


def write_table1(work: Path, out: Path, preset: Preset, *, pool_root: Path = REPO_ROOT / "data" / "prompts",
                 tokenizer_path: str | None = None) -> list[dict]:
    """Write ``per_prompt.csv``, ``table1.md``, ``summary.csv`` and plots under ``out``; return the summary rows."""
    tokenizer = None
    if tokenizer_path:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    write_per_prompt(gather(work, preset, pool_root, tokenizer), out / "per_prompt.csv")
    results = read_per_prompt(out / "per_prompt.csv")
    if not results:
        return []
    rows = table_rows(results, preset, pool_root)
    with (out / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    run = json.loads((work / "run.json").read_text())
    questions = sorted({r.questions for r in results})
    text = [f"# Table 1 at preset `{preset.name}`", "",
            f"Command: `{' '.join(run['command'])}`  ", f"Commit: `{run['commit']}`, seed {preset.seed}, started "
            f"{run['started']}", "",
            f"Mean / Std / Top over {len({r.prompt_id for r in results if r.task == preset.tasks[0]})} unseen test "
            f"prompts; {'/'.join(map(str, questions))} questions per prompt (the same for every prompt and method). "
            "Std is over prompts, ddof 0; Top = share of prompts with accuracy > the task threshold "
            f"({', '.join(f'{get_task(t).title} {100 * get_task(t).top_threshold:.0f}%' for t in preset.tasks)}).",
            "", table_markdown(rows, preset), "## Noise", "", noise_markdown(rows, preset),
            "## Uncertainty from the question sample (bootstrap over questions, 2000 resamples)", "",
            bootstrap_markdown(results, preset), "## TopAccuracy prompts", "", selection_markdown(work, preset),
            "## Timing", "", timing_markdown(work, rows, preset)]
    (out / "table1.md").write_text("\n".join(text))
    from .plots import plot_all

    plot_all(results, out / "plots")
    return rows

