"""The Table 1 report of a run: per-prompt CSV; per prompt set the paper's Mean / Std / Top table; the claim
checks against fixed-prompt SFT; seen-vs-unseen gaps; noise and spread; paired bootstrap intervals; timings; plots.

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

from paft_ext.evaluation.answer_balance import balance_markdown
from paft_ext.evaluation.bootstrap import correctness, difference, estimate, paired_bootstrap
from paft_ext.evaluation.prompt_results import PromptResult
from paft_ext.evaluation.prompt_sets import SEEN, parse_prompt_set
from paft_ext.evaluation.report import collect, prompt_ids, seen_unseen_gaps, summarise
from paft_ext.paths import SHIPPED_POOLS
from paft_ext.tasks import get_task

from .claims import check_claims, claims_markdown
from .presets import METHOD_TITLES, METHODS, Preset
from .reproduce import stage_record

_FLOAT_OR_NONE = {"output_tokens", "seconds", "opencompass_accuracy"}
SET_ORDER = ("test", "test_indep", "test_llm", SEEN)


def _prompts_in(rows: list[dict], prompt_set: str) -> int:
    return max(r["prompts"] for r in rows if r["prompt_set"] == prompt_set and r["task"] != "AVERAGE")


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
    """:func:`summarise` rows per (method, task, prompt set), marked partial where a method lacks some of the set's
    prompts, with ``top_pct_reachable``: Top% at the preset's reachable threshold (when it has one)."""
    expected = {}
    for task in preset.tasks:
        for name in preset.prompt_sets:
            size = len(prompt_ids(get_task(task), pool_root, name))
            expected[(task, parse_prompt_set(name).name)] = min(preset.prompts or size, size or preset.prompts or 0)
    rows = summarise(results, expected=expected)
    if preset.reachable_top is not None:
        reachable = summarise(results, thresholds={t: preset.reachable_top for t in preset.tasks})
        top = {(r["model"], r["task"], r["prompt_set"]): r["top_pct"] for r in reachable}
        for row in rows:
            row["top_pct_reachable"] = top[(row["model"], row["task"], row["prompt_set"])]
    return rows


def prompt_sets_of(rows: list[dict]) -> list[str]:
    """The evaluated sets, unseen ones first (in the order of :data:`SET_ORDER`), the seen probe last."""
    found = {r["prompt_set"] for r in rows}
    return [s for s in SET_ORDER if s in found] + sorted(found - set(SET_ORDER))


def table_markdown(rows: list[dict], preset: Preset, prompt_set: str = "test") -> str:
    """The paper's layout for one prompt set: one row per method, Mean / Std / Top per task and the Average."""
    by_key = {(r["model"], r["task"]): r for r in rows if r["prompt_set"] == prompt_set}
    titles = [get_task(t).title for t in preset.tasks]
    lines = ["| Method | " + " | ".join(titles) + " | Average |", "|---|" + "---|" * (len(titles) + 1)]
    for method in METHODS:
        if not any(m == method for m, _ in by_key):
            continue
        cells = [_cell(by_key.get((method, t))) for t in preset.tasks]
        complete = all((method, t) in by_key for t in preset.tasks)
        average = _cell(by_key.get((method, "AVERAGE"))) if complete else "–"
        title = METHOD_TITLES[method] + (f" (K={preset.window_steps}, T={preset.epochs})" if method == "paft" else "")
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {average} |")
    return "\n".join(lines) + "\n"


def _rows_in_order(rows: list[dict]) -> list[dict]:
    order = prompt_sets_of(rows)
    return sorted((r for r in rows if r["task"] != "AVERAGE"),
                  key=lambda r: (r["task"], order.index(r["prompt_set"]), METHODS.index(r["model"])))


def noise_markdown(rows: list[dict], preset: Preset) -> str:
    """What a per-prompt accuracy can resolve at this size: its binomial standard error, the spread over prompts
    (ddof 0 and 1) and what is left of it after removing the binomial noise, the worst prompt, no-answer rate."""
    reach = f"Top% > {100 * preset.reachable_top:.0f} | " if preset.reachable_top is not None else ""
    lines = ["| Task | Prompt set | Method | prompts × questions | SE per prompt | std (ddof 0) | std (ddof 1) | "
             f"spread beyond noise | worst prompt | Top% | {reach}no answer % |",
             "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if reach else "") + "---|"]
    for row in _rows_in_order(rows):
        lines.append(f"| {get_task(row['task']).title} | {row['prompt_set']} | {METHOD_TITLES[row['model']]} | "
                     f"{row['prompts']} × {row['questions']} | {row['se_per_prompt']:.2f} | {row['std_pop']:.2f} | "
                     f"{row['std_sample']:.2f} | {row['spread_beyond_noise']:.2f} | {row['min']:.2f} "
                     f"({row['worst_prompt']}) | {row['top_pct']:.0f} | " +
                     (f"{row['top_pct_reachable']:.0f} | " if reach else "") + f"{row['no_answer_pct']:.2f} |")
    return "\n".join(lines) + "\n"


def gaps_markdown(rows: list[dict]) -> str:
    lines = ["| Task | Method | unseen set | seen-probe mean | unseen mean | gap (seen − unseen) |",
             "|---|---|---|---|---|---|"]
    for g in sorted(seen_unseen_gaps(rows), key=lambda g: (g["task"], g["unseen_set"], METHODS.index(g["model"]))):
        lines.append(f"| {get_task(g['task']).title} | {METHOD_TITLES[g['model']]} | {g['unseen_set']} | "
                     f"{g['seen_mean']:.2f} | {g['unseen_mean']:.2f} | {g['gap']:+.2f} |")
    return "\n".join(lines) + "\n"


def timing_markdown(work: Path, rows: list[dict], preset: Preset) -> str:
    """Training wall time (trainer's runtime), evaluation wall time (the whole OpenCompass run over every set) and,
    over all sets, generation seconds per answer (OpenCompass's inferencer timer) and output tokens per answer."""
    lines = ["| Method | Task | training s | optimizer steps | evaluation wall s | generation s per answer | "
             "output tokens per answer |", "|---|---|---|---|---|---|---|"]
    for method in METHODS:
        for task in preset.tasks:
            train = stage_record(work, f"train_{task}_{method}")
            evaluation = stage_record(work, f"eval_{task}_{method}")
            mine = [r for r in rows if (r["model"], r["task"]) == (method, task)]
            if evaluation is None and train is None:
                continue
            per_item = [r["s_per_item"] for r in mine if r.get("s_per_item")]
            tokens = [r["output_tokens"] for r in mine if r.get("output_tokens") is not None]
            lines.append(" | ".join([
                f"| {METHOD_TITLES[method]}", get_task(task).title,
                f"{train['train_runtime']:.0f}" if train else "–", str(train["global_step"]) if train else "–",
                f"{evaluation['seconds']:.0f}" if evaluation else "–",
                f"{np.mean(per_item):.3f}" if per_item else "–", f"{np.mean(tokens):.2f}" if tokens else "–"]) + " |")
    return "\n".join(lines) + "\n"


def bootstraps(results: list[PromptResult], preset: Preset, resamples: int = 2000,
               seed: int = 0) -> dict[tuple[str, str], dict]:
    """(task, prompt set) -> :func:`bootstrap.paired_bootstrap` over that set's questions."""
    sets = sorted({(r.task, r.prompt_set) for r in results if r.task in preset.tasks})
    return {key: paired_bootstrap(correctness(results, *key), resamples=resamples, seed=seed) for key in sets}


def bootstrap_markdown(boots: dict[tuple[str, str], dict]) -> str:
    """Mean and noise-corrected spread with 95 % intervals over resampled questions, and PAFT − each method, paired."""
    lines = ["| Task | Prompt set | Method | mean | PAFT − method, mean | noise-corrected spread | PAFT − method, "
             "spread |", "|---|---|---|---|---|---|---|"]
    for (task, prompt_set), boot in boots.items():
        for method in (m for m in METHODS if m in boot):
            mean, spread = (estimate(*boot[method][s]) for s in ("mean", "spread"))
            vs = [difference(boot, "paft", method, s) if method != "paft" else None for s in ("mean", "spread")]
            lines.append(f"| {get_task(task).title} | {prompt_set} | {METHOD_TITLES[method]} | {mean} | "
                         f"{vs[0] or '–'} | {spread} | {vs[1] or '–'} |")
    return "\n".join(lines) + "\n"


def data_markdown(work: Path, preset: Preset) -> str:
    """The rows the run used per task, against what the preset asked and the benchmark's evaluation split."""
    prepared = stage_record(work, "prepare") or {}
    lines = ["| Task | training rows (asked) | evaluation items (asked) | benchmark evaluation split |",
             "|---|---|---|---|"]
    for name in preset.tasks:
        counts = prepared.get("tasks", {}).get(name)
        if counts:
            train, evaluation = counts["train"], counts["eval"]
            lines.append(f"| {get_task(name).title} | {train['records']} ({train.get('requested') or 'all'}) | "
                         f"{evaluation['records']} ({evaluation.get('requested') or 'all'}) | "
                         f"{evaluation.get('benchmark_eval_size') or '–'} |")
    short = prepared.get("short", [])
    return "\n".join(lines) + "\n" + ("".join(f"\n**Less data than asked:** {s}." for s in short) + "\n"
                                      if short else "")


def selection_markdown(work: Path, preset: Preset) -> str:
    lines = []
    for task in preset.tasks:
        for stage, title in ((f"select_{task}", "TopAccuracy"), (f"select_zopo_{task}", "ZOPO"),
                             (f"select_batprompt_{task}", "BATprompt")):
            chosen = stage_record(work, stage)
            if chosen:
                llm = f", {chosen['llm_requests']} LLM requests" if "llm_requests" in chosen else ""
                lines.append(f"- {get_task(task).title}, {title}: `{chosen['prompt_id']}` — {chosen['accuracy']:.1f}% "
                             f"on {chosen['records']} training records ({chosen['scored_prompts']} prompts scored, "
                             f"{chosen['generations']} generations{llm}, {chosen['seconds']:.0f} s)")
            elif title == "BATprompt":
                lines.append(f"- {get_task(task).title}, BATprompt: not run (it needs an OpenAI-compatible endpoint: "
                             "`--batprompt-config <generators.yaml>`)")
    return "\n".join(lines) + "\n"


def write_table1(work: Path, out: Path, preset: Preset, *, pool_root: Path = SHIPPED_POOLS,
                 tokenizer_path: str | None = None, shared: Path | None = None) -> list[dict]:
    """Write ``per_prompt.csv``, ``table1.md``, ``summary.csv`` and plots under ``out``; return the summary rows.
    ``shared``: the folder holding the data and selection stages when ``work`` is a later seed of a multi-seed run."""
    tokenizer = None
    # output lengths are counted on finished evaluations only; before the first one (e.g. the report written after
    # the prepare stage) the chat tokenizer need not exist yet
    if tokenizer_path and any((work / "stages").glob("eval_*.json")):
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
    boots = bootstraps(results, preset)
    claims = check_claims(rows, seen_unseen_gaps(rows), boots)
    sets = prompt_sets_of(rows)
    thresholds = ", ".join(f"{get_task(t).title} {100 * get_task(t).top_threshold:.0f}%" for t in preset.tasks)
    text = [f"# Table 1 at preset `{preset.name}`", "",
            f"Command: `{' '.join(run['command'])}`  ",
            f"Commit: `{run['commit']}`, data seed {preset.seed}, training seed "
            f"{run.get('train_overrides', {}).get('seed', preset.seed)}, started {run['started']}", "",
            f"Prompt sets: {', '.join(f'{s} ({_prompts_in(rows, s)} prompts)' for s in sets)}; "
            f"{'/'.join(map(str, questions))} questions per prompt (the same for every prompt and method). "
            "Cells: Mean / Std / Top; Std is over prompts, ddof 0; Top = share of prompts with accuracy > the task "
            f"threshold ({thresholds}).", ""]
    for prompt_set in sets:
        text += [f"## Prompt set `{prompt_set}`", "", table_markdown(rows, preset, prompt_set)]
    text += ["## The claim: PAFT against fixed-prompt SFT on unseen prompts", "", claims_markdown(claims),
             "## Seen-vs-unseen gap", "", gaps_markdown(rows), "## Noise and spread", "", noise_markdown(rows, preset),
             "## Answer balance (collapse check)", balance_markdown(_rows_in_order(rows)),
             "## Uncertainty from the question sample (paired bootstrap over questions, 2000 resamples)", "",
             bootstrap_markdown(boots), "## Data used", "", data_markdown(shared or work, preset),
             "## Selected prompts (TopAccuracy, ZOPO, BATprompt)", "", selection_markdown(shared or work, preset),
             "## Timing", "", timing_markdown(work, rows, preset)]
    (out / "claims.json").write_text(json.dumps([asdict(c) for c in claims], indent=1) + "\n")
    (out / "table1.md").write_text("\n".join(text))
    from paft_ext.evaluation.plots import plot_all

    plot_all(results, out / "plots")
    return rows

