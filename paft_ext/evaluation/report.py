"""The robustness report of an OpenCompass work directory: per benchmark × model × prompt set, how accuracy varies
over prompts, and the seen-vs-unseen gap (seen-prompt probe minus each unseen set).

Every prediction file is labelled with the id of the prompt file actually evaluated (the run's ``paft_eval.json``),
and each of its rendered prompts is checked against that template; a mismatch is refused, never mislabelled.

Numbers come from the prediction files (OpenCompass's ``results/`` accuracies are cross-checked, and a mismatch is
reported), so partial or interrupted runs are reported too — marked partial, with the prompts they have.

* mean; std over prompts, population (ddof 0) and sample (ddof 1) — the paper does not say which it used;
* worst prompt (accuracy and id), best prompt; Top% = share of prompts whose accuracy exceeds the task's threshold,
  as the paper defines it (``≥`` with ``inclusive``);
* noise: the mean binomial standard error of one prompt's accuracy, and the spread left after removing it;
* no-answer rate (no option letter / number extracted) under OpenCompass's extraction (the scored one) and under the
  strict letter rule, and the share of answers the two extractions disagree on; mean output tokens, generation
  seconds per item.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path

from paft_ext import paths
from paft_ext.paths import SHIPPED_POOLS
from paft_ext.pools.store import Prompt, load_pool
from paft_ext.tasks import TASKS, TaskSpec
from paft_ext.tasks.answers import extract_choice, extract_choice_strict, original_letter

from .answer_balance import balance_columns, balance_markdown
from .circular import circular_markdown
from .completeness import describe_missing, missing_predictions, recorded_settings
from .consistency import consistency_markdown
from .eval_details import scored_items
from .prompt_results import PromptResult
from .prompt_sets import SEEN, SHIPPED, PromptSet, PromptSetError, check_rendered, parse_abbr, parse_prompt_set

DEFAULT_POOL_ROOT = SHIPPED_POOLS


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


RUN_MANIFEST = "paft_eval.json"  # written into the run folder by ``paft-ext eval``: pool root and prompt sets


def prompt_ids(task: TaskSpec, pool_root: Path, prompt_set: str = "test") -> list[str]:
    path = relocated(parse_prompt_set(prompt_set).file(pool_root, task))
    return [p.id for p in load_pool(path, task.fields)] if path.is_file() else []


def run_prompt_sets(run: Path, pool_root: Path | None) -> tuple[Path, dict[str, PromptSet], int | None]:
    """The pool root, the prompt sets (by abbreviation tag) and the first-N prompt limit the run evaluated: from its
    ``paft_eval.json``, else the shipped set names under ``pool_root`` (default: the shipped pools)."""
    manifest = run / RUN_MANIFEST
    recorded = json.loads(manifest.read_text()) if manifest.is_file() else {}
    root = Path(pool_root or recorded.get("pool_root") or DEFAULT_POOL_ROOT)
    sets = [parse_prompt_set(name) for name in recorded.get("prompt_sets", SHIPPED)]
    return root, {s.tag: s for s in sets}, recorded.get("prompts")


def relocated(path: Path) -> Path:
    """A run's prompt file whose recorded absolute path was in a checkout since removed (a git worktree that ran the
    reading; its pool root, or a path file with ``{pool}`` filled in): the same file under this checkout, by the
    longest tail of its path found here. Used only to read finished runs, never to launch one: safe because
    :func:`collect` checks every prediction's rendered prompt against the template at its index; a run whose files
    are nowhere still fails, naming the recorded path."""
    if not path.is_absolute() or path.exists():
        return path
    for k in range(1, len(path.parts) - 1):
        candidate = paths.REPO_ROOT / Path(*path.parts[k:])
        if candidate.is_file():
            return candidate
    return path


def _original(task: TaskSpec, prompt: Prompt, prediction: str, strict: bool) -> str:
    """The original option letter a prediction names: extracted over the symbols the prompt shows (the task's
    letters unless it is a symbol variant), then mapped back through the prompt's option order."""
    if not prompt.symbols:
        return original_letter(task.extract(prediction, strict=strict), task.choices, prompt.option_order)
    shown = (extract_choice_strict if strict else extract_choice)(prediction, prompt.symbols)
    return original_letter(shown, task.choices, prompt.option_order, prompt.symbols)


def collect(run: Path, pool_root: Path | None = None, tokenizer=None) -> list[PromptResult]:
    """One :class:`PromptResult` per finished prediction file of the run, each checked against the pool file it is
    labelled from: every item's rendered prompt must come from that file's template at that index."""
    root, sets, _ = run_prompt_sets(run, pool_root)
    pools: dict[tuple[str, str], tuple[Path, list]] = {}
    results = []
    for model_dir in sorted(p for p in (run / "predictions").iterdir() if p.is_dir()):
        timer = _timer(model_dir)
        for path in sorted(model_dir.glob("*.json")):
            parsed = parse_abbr(path.stem)
            if parsed is None:
                continue
            task, tag, index = parsed
            if tag not in sets:
                raise PromptSetError(f"{path}: prompt set {tag!r} is not one the run names ({sorted(sets)}); the run "
                                 f"folder lacks {RUN_MANIFEST} or it is out of date")
            prompt_set = sets[tag]
            if (task.name, tag) not in pools:  # one file lookup and pool read per task and set, not per prediction
                source = relocated(prompt_set.file(root, task))
                pools[(task.name, tag)] = source, load_pool(source, task.fields)
            source, prompts = pools[(task.name, tag)]
            if index >= len(prompts):
                raise PromptSetError(f"{path}: prompt index {index} but {source} has {len(prompts)} prompts")
            items = list(json.loads(path.read_text()).values())
            check_rendered(prompts[index], [item["origin_prompt"] for item in items], f"{path}")
            predictions = [str(item["prediction"]) for item in items]
            oc_file = run / "results" / model_dir.name / path.name
            oc_result = json.loads(oc_file.read_text()) if oc_file.is_file() else {}
            scored = scored_items(oc_result, len(items), oc_file)  # OpenCompass's own answers and verdicts
            variant = prompts[index]  # a structure variant: answers mapped back to the original letters
            if scored is None:  # no details dumped: re-scored with the task's extractor
                extracted = [_original(task, variant, p, strict=False) for p in predictions]
                hits = [e == _gold(task, item["gold"]) for e, item in zip(extracted, items, strict=True)]
            else:
                extracted, hits = scored
            golds = [_gold(task, item["gold"]) for item in items] if task.answer_kind == "choice" else []
            strict = [_original(task, variant, p, strict=True) for p in predictions]
            oc_acc = oc_result.get("accuracy")
            tokens = (statistics.fmean(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in predictions)
                      if tokenizer is not None and predictions else None)
            results.append(PromptResult(
                model=model_dir.name, task=task.name, prompt_index=index, prompt_id=prompts[index].id,
                accuracy=100.0 * sum(hits) / len(items) if items else 0.0, questions=len(items),
                no_answer=100.0 * sum(e == "" for e in extracted) / len(items) if items else 0.0,
                output_tokens=tokens, seconds=timer.get(path.stem), opencompass_accuracy=oc_acc,
                item_correct="".join("1" if h else "0" for h in hits), prompt_set=prompt_set.name,
                no_answer_strict=100.0 * sum(e == "" for e in strict) / len(items) if items else 0.0,
                extractors_disagree=100.0 * sum(a != b for a, b in zip(extracted, strict, strict=True)) / len(items)
                if items else 0.0, item_answers="|".join(extracted), item_golds="|".join(golds)))
    return results


def summarise(results: list[PromptResult], *, expected: dict[tuple[str, str], int] | None = None,
              inclusive: bool = False, thresholds: dict[str, float] | None = None) -> list[dict]:
    """One row per (model, task, prompt set), plus an AVERAGE row per model and set over its tasks (the paper's last
    column). ``expected``: prompts per (task, set), to mark partial runs."""
    rows = []
    groups: dict[tuple[str, str, str], list[PromptResult]] = {}
    for r in results:
        groups.setdefault((r.model, r.task, r.prompt_set), []).append(r)
    for (model, task_name, prompt_set), group in sorted(groups.items()):
        group.sort(key=lambda r: r.prompt_index)
        accs = [r.accuracy for r in group]
        threshold = 100 * (thresholds or {}).get(task_name, TASKS[task_name].top_threshold)
        n = min(r.questions for r in group)
        binomial_var = statistics.fmean(a * (100 - a) / max(r.questions, 1) for a, r in zip(accs, group, strict=True))
        worst = min(group, key=lambda r: (r.accuracy, r.prompt_index))
        best = max(group, key=lambda r: (r.accuracy, -r.prompt_index))
        want = (expected or {}).get((task_name, prompt_set))
        mismatch = [r.prompt_id for r in group if r.opencompass_accuracy is not None
                    and abs(r.opencompass_accuracy - r.accuracy) > 1e-6]
        seconds = [r.seconds for r in group if r.seconds is not None]
        tokens = [r.output_tokens for r in group if r.output_tokens is not None]
        rows.append({
            "model": model, "task": task_name, "prompt_set": prompt_set, "prompts": len(group),
            "expected_prompts": want,
            "partial": bool(want and len(group) < want), "questions": n,
            "mean": statistics.fmean(accs), "std_pop": statistics.pstdev(accs),
            "std_sample": statistics.stdev(accs) if len(accs) > 1 else float("nan"),
            "min": worst.accuracy, "worst_prompt": worst.prompt_id, "max": best.accuracy,
            "best_prompt": best.prompt_id, "top_threshold": threshold,
            "top_pct": 100.0 * sum((a >= threshold) if inclusive else (a > threshold) for a in accs) / len(accs),
            "se_per_prompt": math.sqrt(binomial_var),
            "spread_beyond_noise": math.sqrt(max(0.0, statistics.pvariance(accs) - binomial_var)),
            "no_answer_pct": statistics.fmean(r.no_answer for r in group),
            "no_answer_strict_pct": statistics.fmean(r.no_answer_strict for r in group),
            "extractors_disagree_pct": statistics.fmean(r.extractors_disagree for r in group),
            "output_tokens": statistics.fmean(tokens) if tokens else None,
            "seconds": sum(seconds) if seconds else None,
            "s_per_item": sum(seconds) / sum(r.questions for r in group if r.seconds is not None) if seconds else None,
            "opencompass_mismatch": mismatch,
            **balance_columns(group, TASKS[task_name].choices if TASKS[task_name].answer_kind == "choice" else None),
        })
    for model, prompt_set in sorted({(r["model"], r["prompt_set"]) for r in rows}):
        mine = [r for r in rows if (r["model"], r["prompt_set"]) == (model, prompt_set)]
        rows.append({"model": model, "task": "AVERAGE", "prompt_set": prompt_set,
                     "prompts": sum(r["prompts"] for r in mine), "partial": any(r["partial"] for r in mine),
                     **{k: statistics.fmean(r[k] for r in mine) for k in ("mean", "std_pop", "top_pct", "min",
                                                                           "no_answer_pct")}})
    return rows


def seen_unseen_gaps(rows: list[dict]) -> list[dict]:
    """Per model and task: mean accuracy on the seen-prompt probe minus the mean on each unseen set — the direct
    measure of prompt over-fitting (PAFT should shrink it)."""
    by_key = {(r["model"], r["task"], r["prompt_set"]): r for r in rows if r["task"] != "AVERAGE"}
    gaps = []
    for (model, task, prompt_set), row in sorted(by_key.items()):
        seen = by_key.get((model, task, SEEN))
        if prompt_set != SEEN and seen is not None:
            gaps.append({"model": model, "task": task, "unseen_set": prompt_set, "seen_mean": seen["mean"],
                         "unseen_mean": row["mean"], "gap": seen["mean"] - row["mean"]})
    return gaps


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown(rows: list[dict], *, inclusive: bool = False) -> str:
    columns = ["model", "task", "prompt_set", "prompts", "questions", "mean", "std_pop", "std_sample", "min",
               "worst_prompt", "max", "top_pct", "se_per_prompt", "spread_beyond_noise", "no_answer_pct",
               "no_answer_strict_pct", "extractors_disagree_pct", "output_tokens", "s_per_item"]
    lines = [f"Top% = share of prompts with accuracy {'≥' if inclusive else '>'} the task threshold. Accuracy in %. "
             "std_pop: ddof 0, std_sample: ddof 1. se_per_prompt: binomial standard error of one prompt's accuracy "
             "(noise floor); spread_beyond_noise: sqrt(max(0, variance over prompts − mean binomial variance)). "
             "no_answer_pct: no answer under OpenCompass's extraction (the one scored); no_answer_strict_pct: under "
             "the strict rule (the output is an option letter); extractors_disagree_pct: answers the two read "
             "differently.",
             "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_fmt(row.get(c)) for c in columns]
        if row.get("partial"):
            cells[2] += f" of {row.get('expected_prompts') or '?'} (partial)"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r['model']} / {r['task']}: OpenCompass's accuracy differs for {r['opencompass_mismatch']}"
             for r in rows if r.get("opencompass_mismatch")]
    gaps = seen_unseen_gaps(rows)
    if gaps:
        lines += ["", "Seen-vs-unseen gap: mean accuracy on the seen-prompt probe (train prompts) minus the mean on "
                  "each unseen set.", "", "| model | task | unseen set | seen mean | unseen mean | gap |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {g['model']} | {g['task']} | {g['unseen_set']} | {g['seen_mean']:.2f} | {g['unseen_mean']:.2f} "
                  f"| {g['gap']:+.2f} |" for g in gaps]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def write_report(run: Path, out: Path, *, inclusive: bool = False, tokenizer_path: str | None = None,
                 pool_root: Path | None = None, plots: bool = True) -> dict:
    """Write ``report.{md,csv,json}``, ``per_prompt.csv`` and plots under ``out``; return the JSON document.
    ``pool_root`` None: the one the run recorded (``paft_eval.json``), else the shipped pools."""
    tokenizer = None
    if tokenizer_path:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    results = collect(run, pool_root, tokenizer)
    if not results:
        raise FileNotFoundError(f"{run}: no finished prediction files named <benchmark>[_<set>]_pNN")
    root, sets, limit = run_prompt_sets(run, pool_root)
    expected = {(t, r): min(len(prompt_ids(TASKS[t], root, r)), limit or 10**9) or None
                for t, r in {(x.task, x.prompt_set) for x in results}}
    rows = summarise(results, expected=expected, inclusive=inclusive)
    settings = recorded_settings(run, RUN_MANIFEST)
    missing = missing_predictions(run, settings) if settings is not None else {}
    warning = f"**Incomplete run, not a full comparison.** {describe_missing(run, missing)}\n\n" if missing else ""
    section, agreement = consistency_markdown(results)
    circular_section, circular = circular_markdown(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(f"# PAFT robustness report\n\nRun: `{run}`\n\n{warning}" +
                                   markdown(rows, inclusive=inclusive) + balance_markdown(rows) + section +
                                   circular_section)
    with (out / "report.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with (out / "per_prompt.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(results[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in results)
    document = {"run": str(run), "top_inclusive": inclusive, "missing": missing, "rows": rows,
                "gaps": seen_unseen_gaps(rows), **agreement, "circular": circular,
                "per_prompt": [asdict(r) for r in results]}
    (out / "report.json").write_text(json.dumps(document, indent=1, default=str))
    if plots:
        from .plots import plot_all

        document["plots"] = [str(p) for p in plot_all(results, out / "plots")]
    return document
