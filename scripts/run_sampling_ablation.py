"""Ablation of PAFT's prompt sampling on SST-2 under the Table 1 ``cpu`` budget, read on the 20 validation prompts.

    python scripts/run_sampling_ablation.py                # 3 arms × seeds 0 and 42: ~18 min per arm and seed
    python scripts/sampling_ablation_test_reading.py       # then: the finished adapters on test and perturbed prompts

Arms, each the Table 1 run's PAFT training (its 400 rows and order, LoRA, 300 optimizer steps, K = 4) with one
change: ``paft_sampling: loss_aware`` (default candidates, temperature, floor, EMA), ``paft_sampling: curriculum``
and ``paft_canonical_ratio: 0.25``, each with training seed 0 and 42 (``--seeds``: LoRA init and PAFT schedule; the
rows and questions stay the run's). Each is evaluated like the follow-ups (``scripts/table1_followups.py``): the
20 validation prompts × the run's 100 questions. Beside them, from ``results/table1_cpu/followups.csv`` (same
prompts, questions and protocol, measured before): uniform sampling with seed 0 (the Table 1 adapter) and seed 42 —
the seed-to-seed difference of one and the same setting, i.e. the noise an arm has to beat — and the fixed-prompt
baseline. Work folders: ``outputs/table1_cpu_followups/<arm>[_seed<S>]`` (resumable); results:
``results/sampling_ablation/``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table1_followups import COLUMNS, Followups  # noqa: E402

from paft_ext.data_files import write_csv  # noqa: E402
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.presets import PRESETS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARMS = {"loss_aware": {"paft_sampling": "loss_aware"}, "curriculum": {"paft_sampling": "curriculum"},
        "canonical25": {"paft_canonical_ratio": 0.25}}
MEASURED = {"User-specified": "fixed prompt (Table 1 adapter)", "PAFT": "uniform, seed 0 (Table 1 adapter)",
            "PAFT paft_seed42": "uniform, seed 42 (follow-up)"}


def arm_name(name: str, seed: int) -> str:
    return name if seed == 0 else f"{name}_seed{seed}"  # seed 0: the first run's folders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 42],
                        help="training seeds (LoRA init and PAFT schedule) of every arm")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    preset = PRESETS["cpu"]
    followups = Followups(preset, ROOT / "outputs" / "table1_cpu", ["python", "scripts/run_sampling_ablation.py"])
    valid = (str(followups.pool_root / "{pool}" / "valid.jsonl"),)
    rows = []
    with (ROOT / "results" / "table1_cpu" / "followups.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["prompt_set"] == "valid" and row["run"] in MEASURED:
                rows.append({**row, "run": MEASURED[row["run"]], "source": "results/table1_cpu/followups.csv"})
    task = followups.task
    for seed in args.seeds:
        for name, overrides in ARMS.items():
            seeded = overrides if seed == 0 else {**overrides, "seed": seed, "paft_seed": seed}
            arm = followups._runner(arm_name(name, seed), valid, adapters_from=None, train_overrides=seeded)
            arm._stage(f"train_{task.name}_paft", lambda a=arm: a.train(task, "paft"))
            done = arm._stage(f"eval_{task.name}_paft", lambda a=arm: a.evaluate(task, "paft"))
            (row,) = [r for r in summarise(collect(Path(done["opencompass_run"]))) if r["task"] != "AVERAGE"]
            rows.append({**row, "run": f"{name} ({', '.join(f'{k}: {v}' for k, v in overrides.items())}), "
                                       f"seed {seed}", "source": "this script"})
    out = ROOT / "results" / "sampling_ablation"
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "ablation.csv", rows, [*COLUMNS, "source"])
    lines = ["| arm | prompts × questions | mean | std (ddof 0) | worst prompt | no answer % | source |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['prompts']} × {r['questions']} | {float(r['mean']):.2f} | "
              f"{float(r['std_pop']):.2f} | {float(r['min']):.2f} ({r['worst_prompt']}) | "
              f"{float(r['no_answer_pct']):.2f} | {r['source']} |" for r in rows]
    (out / "ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
