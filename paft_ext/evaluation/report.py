"""The robustness report of an OpenCompass work directory: per benchmark × model, how accuracy varies over prompts.

Numbers come from the prediction files (OpenCompass's ``results/`` accuracies are cross-checked, and a mismatch is
reported), so partial or interrupted runs are reported too — marked partial, with the prompts they have.

* mean; std over prompts, population (ddof 0) and sample (ddof 1) — the paper does not say which it used;
* worst prompt (accuracy and id), best prompt; Top% = share of prompts at or above the task's threshold (``>`` with
  ``strict``, as the paper words it);
* noise: the mean binomial standard error of one prompt's accuracy, and the spread left after removing it;
* no-answer rate (no option letter / number extracted), mean output tokens, generation seconds per item.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from paft_ext.pools.store import load_pool
from paft_ext.tasks import TASKS, TaskSpec

from .expand import ABBR
from .settings import REPO_ROOT

_BY_ABBR = {task.opencompass_abbr: task for task in TASKS.values()}


@dataclass(frozen=True)
class PromptResult:
    model: str
    task: str
    prompt_index: int
    prompt_id: str
    accuracy: float  # percent
    questions: int
    no_answer: float  # percent
    output_tokens: float | None
    seconds: float | None
    opencompass_accuracy: float | None
    item_correct: str = ""  # "1"/"0" per question in file order: paired comparisons and bootstraps over questions


def find_run(work_dir: Path) -> Path:
    """``work_dir`` itself if it holds predictions, else its newest timestamped run that does."""
    if (work_dir / "predictions").is_dir():
        return work_dir
    runs = sorted(p for p in work_dir.iterdir() if (p / "predictions").is_dir()) if work_dir.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"{work_dir}: no OpenCompass run with a predictions/ folder")
    return runs[-1]


def _gold(task: TaskSpec, gold: str) -> str:
    if task.answer_kind == "number":
        from paft_ext.tasks.answers import normalise_number

        return normalise_number(str(gold).split("####")[-1])
    return str(gold).strip()


def _timer(model_dir: Path) -> dict[str, float]:
    path = model_dir / "timer" / "time.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["dataset_name"]: row["time"] for row in rows}


def prompt_ids(task: TaskSpec, pool_root: Path) -> list[str]:
    path = pool_root / task.pool / "test.jsonl"
    return [p.id for p in load_pool(path, task.fields)] if path.is_file() else []


def collect(run: Path, pool_root: Path = REPO_ROOT / "data" / "prompts", tokenizer=None) -> list[PromptResult]:
    """One :class:`PromptResult` per finished prediction file of the run."""
    results = []
    ids_by_task: dict[str, list[str]] = {}
    for model_dir in sorted(p for p in (run / "predictions").iterdir() if p.is_dir()):
        timer = _timer(model_dir)
        for path in sorted(model_dir.glob("*.json")):
            match = ABBR.match(path.stem)
            if not match or match[1] not in _BY_ABBR:
                continue
            task, index = _BY_ABBR[match[1]], int(match[2])
            items = list(json.loads(path.read_text()).values())
            predictions = [str(item["prediction"]) for item in items]
            extracted = [task.extract(p) for p in predictions]
            hits = [e == _gold(task, item["gold"]) for e, item in zip(extracted, items, strict=True)]
            correct = sum(hits)
            if task.name not in ids_by_task:  # one pool read per task, not per prediction file
                ids_by_task[task.name] = prompt_ids(task, pool_root)
            ids = ids_by_task[task.name]
            oc_file = run / "results" / model_dir.name / path.name
            oc_acc = json.loads(oc_file.read_text()).get("accuracy") if oc_file.is_file() else None
            tokens = (statistics.fmean(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in predictions)
                      if tokenizer is not None and predictions else None)
            results.append(PromptResult(
                model=model_dir.name, task=task.name, prompt_index=index,
                prompt_id=ids[index] if index < len(ids) else f"p{index:02d}",
                accuracy=100.0 * correct / len(items) if items else 0.0, questions=len(items),
                no_answer=100.0 * sum(e == "" for e in extracted) / len(items) if items else 0.0,
                output_tokens=tokens, seconds=timer.get(path.stem), opencompass_accuracy=oc_acc,
                item_correct="".join("1" if h else "0" for h in hits)))
    return results


def summarise(results: list[PromptResult], *, expected: dict[str, int] | None = None, strict: bool = False,
              thresholds: dict[str, float] | None = None) -> list[dict]:
    """One row per (model, task), plus an AVERAGE row per model over its tasks (the paper's last column)."""
    rows = []
    groups: dict[tuple[str, str], list[PromptResult]] = {}
    for r in results:
        groups.setdefault((r.model, r.task), []).append(r)
    for (model, task_name), group in sorted(groups.items()):
        group.sort(key=lambda r: r.prompt_index)
        accs = [r.accuracy for r in group]
        threshold = 100 * (thresholds or {}).get(task_name, TASKS[task_name].top_threshold)
        n = min(r.questions for r in group)
        binomial_var = statistics.fmean(a * (100 - a) / max(r.questions, 1) for a, r in zip(accs, group, strict=True))
        worst = min(group, key=lambda r: (r.accuracy, r.prompt_index))
        best = max(group, key=lambda r: (r.accuracy, -r.prompt_index))
        want = (expected or {}).get(task_name)
        mismatch = [r.prompt_id for r in group if r.opencompass_accuracy is not None
                    and abs(r.opencompass_accuracy - r.accuracy) > 1e-6]
        seconds = [r.seconds for r in group if r.seconds is not None]
        tokens = [r.output_tokens for r in group if r.output_tokens is not None]
        rows.append({
            "model": model, "task": task_name, "prompts": len(group), "expected_prompts": want,
            "partial": bool(want and len(group) < want), "questions": n,
            "mean": statistics.fmean(accs), "std_pop": statistics.pstdev(accs),
            "std_sample": statistics.stdev(accs) if len(accs) > 1 else float("nan"),
            "min": worst.accuracy, "worst_prompt": worst.prompt_id, "max": best.accuracy,
            "best_prompt": best.prompt_id, "top_threshold": threshold,
            "top_pct": 100.0 * sum((a > threshold) if strict else (a >= threshold) for a in accs) / len(accs),
            "se_per_prompt": math.sqrt(binomial_var),
            "spread_beyond_noise": math.sqrt(max(0.0, statistics.pvariance(accs) - binomial_var)),
            "no_answer_pct": statistics.fmean(r.no_answer for r in group),
            "output_tokens": statistics.fmean(tokens) if tokens else None,
            "seconds": sum(seconds) if seconds else None,
            "s_per_item": sum(seconds) / sum(r.questions for r in group if r.seconds is not None) if seconds else None,
            "opencompass_mismatch": mismatch,
        })
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        rows.append({"model": model, "task": "AVERAGE", "prompts": sum(r["prompts"] for r in mine),
                     "partial": any(r["partial"] for r in mine),
                     **{k: statistics.fmean(r[k] for r in mine) for k in ("mean", "std_pop", "top_pct", "min",
                                                                           "no_answer_pct")}})
    return rows


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown(rows: list[dict], *, strict: bool) -> str:
    columns = ["model", "task", "prompts", "questions", "mean", "std_pop", "std_sample", "min", "worst_prompt", "max",
               "top_pct", "se_per_prompt", "spread_beyond_noise", "no_answer_pct", "output_tokens", "s_per_item"]
    lines = [f"Top% = share of prompts with accuracy {'>' if strict else '≥'} the task threshold. Accuracy in %. "
             "std_pop: ddof 0, std_sample: ddof 1. se_per_prompt: binomial standard error of one prompt's accuracy "
             "(noise floor); spread_beyond_noise: sqrt(max(0, variance over prompts − mean binomial variance)).", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_fmt(row.get(c)) for c in columns]
        if row.get("partial"):
            cells[2] += f" of {row.get('expected_prompts') or '?'} (partial)"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r['model']} / {r['task']}: OpenCompass's accuracy differs for {r['opencompass_mismatch']}"
             for r in rows if r.get("opencompass_mismatch")]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def write_report(run: Path, out: Path, *, strict: bool = False, tokenizer_path: str | None = None,
                 pool_root: Path = REPO_ROOT / "data" / "prompts", plots: bool = True) -> dict:
    """Write ``report.{md,csv,json}``, ``per_prompt.csv`` and plots under ``out``; return the JSON document."""
    tokenizer = None
    if tokenizer_path:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    results = collect(run, pool_root, tokenizer)
    if not results:
        raise FileNotFoundError(f"{run}: no finished prediction files named <benchmark>_pNN")
    expected = {t: len(prompt_ids(TASKS[t], pool_root)) or None for t in {r.task for r in results}}
    rows = summarise(results, expected=expected, strict=strict)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(f"# PAFT robustness report\n\nRun: `{run}`\n\n" + markdown(rows, strict=strict))
    with (out / "report.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with (out / "per_prompt.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(results[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in results)
    document = {"run": str(run), "strict_top": strict, "rows": rows, "per_prompt": [asdict(r) for r in results]}
    (out / "report.json").write_text(json.dumps(document, indent=1, default=str))
    if plots:
        from .plots import plot_all

        document["plots"] = [str(p) for p in plot_all(results, out / "plots")]
    return document
