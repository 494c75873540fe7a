"""Learnability pilot: can the embedded model learn a task at all with fixed-prompt LoRA SFT on this CPU?

Before a Table 1 run can show anything about prompt robustness, the model must learn the task on its own training
prompt. For each candidate task this trains the ``cpu`` recipe as it is now (``RECIPES["cpu"]``) with the
task's user-specified prompt — through stock ``llamafactory-cli train`` and the PAFT hook with a one-prompt pool,
exactly like the Table 1 "User-specified" method — and evaluates the adapter with OpenCompass on that training
prompt and on 5 unseen prompts (a seeded draw from the task's shipped part-disjoint ``test`` pool; SciQ's first pilot,
before it had a pool, used 5 hand-written prompts: see results/pilot_learnability/README.md), the same held-out
questions for every prompt.

A task passes when accuracy on its training prompt is ≥ 70 % or ≥ chance + 20 points.

    python scripts/pilot_learnability.py --tasks piqa winogrande sst2 sciq

Resumable: finished stages (``outputs/pilot_learnability/<task>/stages``) are skipped on a rerun. Results:
``results/pilot_learnability/{pilot.md,pilot.json,per_prompt.csv}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from paft_ext.benchmark_data.source import load_records
from paft_ext.configs.recipes import RECIPES
from paft_ext.evaluation.report import collect
from paft_ext.experiments.presets import Preset
from paft_ext.experiments.reproduce import Runner
from paft_ext.pools.leakage import sentences
from paft_ext.pools.store import Prompt, load_pool, write_pool
from paft_ext.tasks import TaskSpec, get_task

ROOT = Path(__file__).resolve().parents[1]
TRAINED_ID = "trained:user-specified"
ROWS_PER_STEP = RECIPES["cpu"].batch_size * RECIPES["cpu"].grad_accum
def pass_mark(task: TaskSpec) -> float:
    """70 %, or chance + 20 points when that is lower (4-way tasks: 45 %)."""
    chance = 100.0 / len(task.choices) if task.answer_kind == "choice" else 0.0
    return min(70.0, chance + 20.0)


def pilot_prompts(task: TaskSpec, seed: int) -> list[Prompt]:
    """The training prompt, then 5 unseen prompts: a seeded draw from the task's shipped ``test`` pool. None of them
    shares a sentence with the training prompt."""
    trained = Prompt(TRAINED_ID, task.baseline_prompt, "the task's user-specified prompt (the one the pilot trains on)")
    shipped = ROOT / "data" / "prompts" / task.pool / "test.jsonl"
    if not shipped.is_file():
        raise SystemExit(f"{task.name}: no shipped test pool at {shipped}: build one first (scripts/"
                         "build_shipped_pools.py, or `paft-ext pools compose`)")
    pool = load_pool(shipped, task.fields)
    unseen = [pool[i] for i in sorted(np.random.default_rng(seed).choice(len(pool), size=5, replace=False))]
    trained_sentences = sentences(trained.text)
    for prompt in unseen:
        shared = trained_sentences & sentences(prompt.text)
        if shared:
            raise SystemExit(f"{task.name}: unseen pilot prompt {prompt.id!r} shares {sorted(shared)} with the "
                             "training prompt")
    return [trained, *unseen]


def run_task(task: TaskSpec, args: argparse.Namespace) -> dict:
    work = Path(args.work_dir) / task.name
    prompt_file = work / "prompts" / "pilot_{pool}.jsonl"
    write_pool(Path(str(prompt_file).replace("{pool}", task.pool)), pilot_prompts(task, args.seed))
    available = min(args.records, len(load_records(task, "train")))
    epochs = max(args.epochs, math.ceil(args.min_steps * ROWS_PER_STEP / available))  # SST-2 has 500 records: 3 epochs
    preset = Preset(name=f"pilot_{task.name}", recipe="cpu", tasks=(task.name,), train_samples=args.records,
                    eval_questions=args.questions, epochs=epochs, window_steps=4, seed=args.seed, screen=0,
                    confirm=0, finalists=1, max_out_len=args.max_out_len, eval_batch_size=8, num_gpus=0,
                    prompt_sets=(str(prompt_file),))
    runner = Runner(preset, work)
    runner.check_or_record(["python", "scripts/pilot_learnability.py", *sys.argv[1:]])
    prepared = runner._stage("prepare", runner.prepare)
    trained = runner._stage(f"train_{task.name}_fixed", lambda: runner.train(task, "fixed"))
    evaluated = runner._stage(f"eval_{task.name}_fixed", lambda: runner.evaluate(task, "fixed"))
    results = sorted(collect(Path(evaluated["opencompass_run"])), key=lambda r: r.prompt_index)
    gold = [r.values["answer"] for r in _eval_records(task, args)]
    majority = 100.0 * max(gold.count(c) for c in set(gold)) / len(gold)
    own = next(r for r in results if r.prompt_id == TRAINED_ID)
    unseen = [r for r in results if r.prompt_id != TRAINED_ID]
    return {
        "task": task.name, "records": prepared["tasks"][task.name]["train"]["records"],
        "train_split": prepared["tasks"][task.name]["train"]["split"],
        "eval_split": prepared["tasks"][task.name]["eval"]["split"], "questions": own.questions,
        "steps": trained["global_step"], "train_loss": trained["train_loss"], "train_s": trained["train_runtime"],
        "eval_s": evaluated["seconds"], "chance": 100.0 / len(task.choices), "majority": majority,
        "pass_mark": pass_mark(task), "trained_prompt": own.accuracy,
        "trained_se": math.sqrt(own.accuracy * (100 - own.accuracy) / own.questions),
        "trained_no_answer": own.no_answer, "unseen_mean": float(np.mean([r.accuracy for r in unseen])),
        "unseen_min": min(r.accuracy for r in unseen), "unseen_max": max(r.accuracy for r in unseen),
        "unseen_no_answer": float(np.mean([r.no_answer for r in unseen])),
        "passed": own.accuracy >= pass_mark(task), "per_prompt": [asdict(r) for r in results],
        "settings": {**{k: getattr(args, k) for k in ("records", "questions", "max_out_len", "seed")},
                     "epochs": epochs},
    }


def _eval_records(task: TaskSpec, args: argparse.Namespace):
    return load_records(task, "eval", max_samples=args.questions, seed=args.seed)


def write_results(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pilot.json").write_text(json.dumps({"tasks": rows}, indent=1) + "\n")
    with (out / "per_prompt.csv").open("w", newline="") as handle:
        per_prompt = [p for row in rows for p in row["per_prompt"]]
        # rows kept from pilot.json may predate columns added since: every column any row has, blank where absent
        columns = list(dict.fromkeys(key for p in per_prompt for key in p))
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(per_prompt)
    lines = ["| task | train records | steps | train loss | questions | chance / majority | trained prompt | "
             "unseen mean (min–max) | no-answer trained / unseen | pass mark | result |", "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['records']} ({r['train_split']}) | {r['steps']} | {r['train_loss']:.3f} | "
            f"{r['questions']} ({r['eval_split']}) | {r['chance']:.0f} / {r['majority']:.1f} | "
            f"{r['trained_prompt']:.1f} ± {r['trained_se']:.1f} | {r['unseen_mean']:.1f} ({r['unseen_min']:.1f}–"
            f"{r['unseen_max']:.1f}) | {r['trained_no_answer']:.1f} / {r['unseen_no_answer']:.1f} | "
            f"{r['pass_mark']:.0f} | {'pass' if r['passed'] else 'fail'} |")
    (out / "pilot.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["piqa", "winogrande", "sst2", "sciq"])
    parser.add_argument("--records", type=int, default=600, help="training records (seeded subset)")
    parser.add_argument("--epochs", type=int, default=2, help="at least this many; more where --min-steps needs them")
    parser.add_argument("--min-steps", type=int, default=300, help="optimizer steps every candidate trains at least")
    parser.add_argument("--questions", type=int, default=300, help="held-out questions, the same for every prompt")
    parser.add_argument("--max-out-len", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default=str(ROOT / "outputs" / "pilot_learnability"))
    parser.add_argument("--results", default=str(ROOT / "results" / "pilot_learnability"))
    args = parser.parse_args(argv)
    tasks = [get_task(name) for name in args.tasks]  # a typo fails before any training
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = Path(args.results)
    done = {r["task"]: r for r in json.loads((out / "pilot.json").read_text())["tasks"]} \
        if (out / "pilot.json").is_file() else {}
    rows = []
    for task in tasks:
        row = run_task(task, args)
        done[task.name] = row
        rows = list(done.values())
        write_results(rows, out)
        print(f"[pilot] {task.name}: trained prompt {row['trained_prompt']:.1f}%, unseen mean "
              f"{row['unseen_mean']:.1f}% -> {'pass' if row['passed'] else 'fail'}", flush=True)
    print((out / "pilot.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
