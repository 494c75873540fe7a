"""Choose a stable CPU training recipe for the embedded model on the validation prompts only, seeds as the unit.

    python scripts/select_cpu_recipe.py --settings lr1e-3 lr5e-4 --seeds 0 1 2 [--commit]

Each candidate setting changes the ``cpu`` recipe's LLaMA-Factory keys (``SETTINGS``, or ``--setting
name:key=value,...``); each seed (``seed`` and ``paft_seed``: LoRA init, data order and PAFT schedule) trains
fixed-prompt SFT and PAFT on Table 1 ``cpu``'s 400 rows through the PAFT hook (the fixed prompt as a one-prompt pool,
so both see the same rows in the same order and steps), and reads each adapter on the 20 validation prompts of the
SST-2 pool and on the user-specified prompt, 100 questions each (the preset's; bf16 evaluation). Never test prompts.

A setting is **stable** when, for both methods, the standard deviation over seeds (ddof 1) of the mean validation
accuracy is ≤ 1.5 points, no seed raises the collapse flag (``paft_ext/evaluation/answer_balance.py``), and
fixed-prompt SFT reaches ≥ 85 % on its own training prompt in every seed. Among stable settings the highest mean
over both methods wins; with none, the report says which bound each setting misses.

Stages (resumable, one work folder per setting and seed under ``outputs/recipe_cpu/``): train fixed, evaluate it,
train PAFT, evaluate it. The results (``results/recipe_cpu/``) are rewritten after every finished stage and, with
``--commit``, committed (only that folder) so a stopped run loses at most its current stage.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table1_followups import parse_variant  # noqa: E402
from validation_runs import (  # noqa: E402
    ROOT,
    reading,
    setting_folders,
    train_and_read,
    validation_runner,
)

from paft_ext.data_files import write_csv, write_lines  # noqa: E402
from paft_ext.experiments.reproduce import commit_folder  # noqa: E402
from paft_ext.experiments.seed_spread import seed_spread  # noqa: E402

# Each setting names its precision: the recipe's default changed (fp32, then bf16 from the lr1e-3_bf16 result on), and a
# work folder is the same run only when its effective training settings are (Runner.check_or_record).
SETTINGS: dict[str, dict] = {
    "lr2e-4": {"learning_rate": 2e-4, "bf16": False}, "lr5e-4": {"learning_rate": 5e-4, "bf16": False},
    "lr1e-3": {"learning_rate": 1e-3, "bf16": False}, "lr2e-3": {"learning_rate": 2e-3, "bf16": False},
    "lr1e-3_bf16": {"learning_rate": 1e-3, "bf16": True},
}
METHODS = ("fixed", "paft")
SD_BOUND, OWN_BOUND = 1.5, 85.0
COLUMNS = ("setting", "seed", "method", "valid_mean", "valid_std", "valid_min", "balanced_accuracy",
           "accuracy_per_gold", "answer_share", "gold_share", "collapse", "own_prompt", "train_loss", "train_s")


def finished_rows(work: Path) -> tuple[list[dict], dict[str, dict]]:
    """Every finished reading under ``work`` (any setting and seed, earlier invocations included), and each
    setting's LLaMA-Factory changes as its ``run.json`` records them."""
    rows, settings = [], {}
    for name, seed, folder, overrides in setting_folders(work):
        settings[name] = overrides
        for method in METHODS:
            found = reading(folder, method, with_questions=True)
            if found is not None:
                rows.append({"setting": name, "seed": seed, "method": method, **found})
    return rows, settings


def verdicts(rows: list[dict]) -> list[dict]:
    """Per setting and method: mean and sd over seeds, collapses, own-prompt accuracy; and whether the setting meets
    every bound (for both methods, with ≥ 3 seeds each)."""
    out = []
    for name in dict.fromkeys(r["setting"] for r in rows):
        for method in METHODS:
            mine = [r for r in rows if (r["setting"], r["method"]) == (name, method)]
            if not mine:
                continue
            means = [r["valid_mean"] for r in mine]
            spread = seed_spread([r["per_question"] for r in mine])
            out.append({"setting": name, "method": method, "seeds": len(mine), "mean": statistics.fmean(means),
                        "sd_over_seeds": statistics.stdev(means) if len(means) > 1 else float("nan"),
                        "question_floor": spread["floor"], "sd_beyond_questions": spread["sd_beyond_questions"],
                        "balanced": statistics.fmean(r["balanced_accuracy"] for r in mine),
                        "collapses": sum(bool(r["collapse"]) for r in mine),
                        "own_min": min(r["own_prompt"] for r in mine)})
    for v in out:
        both = [w for w in out if w["setting"] == v["setting"]]
        misses = []
        if len(both) < 2 or any(w["seeds"] < 3 for w in both):
            misses.append("fewer than 3 seeds per method")
        misses += [f"{w['method']} sd {w['sd_over_seeds']:.2f} > {SD_BOUND}" for w in both
                   if w["seeds"] > 1 and not w["sd_over_seeds"] <= SD_BOUND]
        misses += [f"{w['method']} collapsed in {w['collapses']} seed(s)" for w in both if w["collapses"]]
        misses += [f"fixed own prompt {w['own_min']:.1f} < {OWN_BOUND}" for w in both
                   if w["method"] == "fixed" and w["own_min"] < OWN_BOUND]
        v["meets"] = "yes" if not misses else "no: " + "; ".join(dict.fromkeys(misses))
    return out


def write_results(rows: list[dict], out: Path, settings: dict[str, dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "runs.csv", rows, COLUMNS)
    summary = verdicts(rows)
    write_csv(out / "settings.csv", summary, list(summary[0]) if summary else ["setting"])
    stable = [v for v in summary if v["meets"] == "yes"]
    best = max(dict.fromkeys(v["setting"] for v in stable),
               key=lambda s: statistics.fmean(v["mean"] for v in stable if v["setting"] == s), default=None)
    lines = ["# CPU recipe selection (validation prompts only)", "",
             "Generated by `python scripts/select_cpu_recipe.py`. Table 1 `cpu` rows (400 SST-2 records, 300 steps, "
             "batch 4, LoRA r16 all-linear, cosine, warmup 0.1) with each setting's changes; 20 validation prompts "
             "+ the user-specified prompt, 100 questions each, bf16 evaluation. Accuracy in %.", "",
             "Settings: " + "; ".join(f"`{n}` = {settings[n]}" for n in dict.fromkeys(r["setting"] for r in rows)),
             "", "## Every run", "",
             "| setting | seed | method | valid mean | std over prompts | worst | balanced acc | acc per gold | "
             "answer share (gold share) | collapse | own prompt | train loss | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['setting']} | {r['seed']} | {r['method']} | {r['valid_mean']:.2f} | {r['valid_std']:.2f} | "
              f"{r['valid_min']:.2f} | {r['balanced_accuracy']:.2f} | {r['accuracy_per_gold']} | "
              f"{r['answer_share']} ({r['gold_share']}) | {'**yes**' if r['collapse'] else 'no'} | "
              f"{r['own_prompt']:.2f} | {r['train_loss']:.4f} | {r['train_s']:.0f} |" for r in rows]
    lines += ["", f"## Per setting (bounds: sd over seeds ≤ {SD_BOUND} for both methods, no collapse, fixed ≥ "
              f"{OWN_BOUND:.0f} % on its own prompt in every seed)", "",
              "| setting | method | seeds | mean over seeds | sd over seeds | question-noise floor | sd beyond "
              "questions | mean balanced acc | collapsed seeds | min own prompt | meets the bounds |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {v['setting']} | {v['method']} | {v['seeds']} | {v['mean']:.2f} | {v['sd_over_seeds']:.2f} | "
              f"{v['question_floor']:.2f} | {v['sd_beyond_questions']:.2f} | {v['balanced']:.2f} | {v['collapses']} | "
              f"{v['own_min']:.2f} | {v['meets']} |" for v in summary]
    lines += ["", "Question-noise floor: every seed is read on the same 100 questions, but adapters of equal true "
              "accuracy err on different ones; the floor (√(mean over seed pairs of the paired question SE² / 2), "
              "`paft_ext/experiments/seed_spread.py`) is the sd over seeds that question sampling alone produces, and "
              "`sd beyond questions` = √max(0, sd² − floor²) estimates the seeds' own spread. A raw sd ≤ "
              f"{SD_BOUND} is only reachable when the seeds' own spread is below √({SD_BOUND}² − floor²)."]
    lines += ["", f"Chosen: **{best}**" if best else "Chosen: none of the settings run so far meets every bound."]
    write_lines(out / "recipe.md", lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=["lr1e-3", "lr5e-4"], choices=list(SETTINGS))
    parser.add_argument("--setting", action="append", default=[], help="a further setting: name:key=value[,...]")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work-dir", default=str(ROOT / "outputs" / "recipe_cpu"))
    parser.add_argument("--results", default=str(ROOT / "results" / "recipe_cpu"))
    parser.add_argument("--commit", action="store_true", help="commit the results folder after every stage")
    parser.add_argument("--report-only", action="store_true",
                        help="train and read nothing: rebuild the results from the readings under --work-dir")
    args = parser.parse_args(argv)
    settings = {name: SETTINGS[name] for name in args.settings}
    for text in args.setting:
        name, preset_changes, overrides = parse_variant(text)
        if preset_changes:
            raise SystemExit(f"--setting {text!r}: only LLaMA-Factory keys, not {sorted(preset_changes)}")
        settings[name] = overrides
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/select_cpu_recipe.py", *(argv if argv is not None else sys.argv[1:])]
    work, out = Path(args.work_dir), Path(args.results)
    for name, overrides in ({} if args.report_only else settings).items():
        for seed in args.seeds:
            runner = validation_runner("recipe", name, overrides, seed, work, command)
            for method in METHODS:
                train_and_read(runner, method)
                rows, recorded = finished_rows(work)
                write_results(rows, out, recorded)
                if args.commit:
                    commit_folder(out, f"Recipe selection: {name}, seed {seed}, {method} read on the validation "
                                       "prompts")
    rows, recorded = finished_rows(work)
    write_results(rows, out, recorded)
    print((out / "recipe.md").read_text())


if __name__ == "__main__":
    main()
