"""Reproduce the paper's Table 1 (base model, LoRA + user-specified prompt, LoRA + TopAccuracy prompt, PAFT) for a
preset, resumably: rerun the same command after an interruption and finished stages are skipped.

    python scripts/reproduce_table1.py --preset cpu              # SST-2 on the embedded default model, ~2 h
    python scripts/reproduce_table1.py --preset small            # PIQA/WinoGrande at chance level (kept), ~2 h
    python scripts/reproduce_table1.py --preset paper            # Meta-Llama-3-8B on one GPU, the paper's setting
    python scripts/reproduce_table1.py --preset cpu --max-out-len 64   # answers as free text: the timing table's
                                                                  # output tokens and seconds per answer per method
    python scripts/reproduce_table1.py --preset cpu --seeds 0 1 2 --commit   # seeds as the unit (table1_seeds.md)

With ``--seeds`` (default folders ``outputs/table1_<preset>_seeds``, ``results/table1_<preset>_seeds``) every seed
(LoRA init, data order, PAFT schedule: ``seed`` and ``paft_seed``) is one run under ``<work>/seed<k>``; the first
seed's run also prepares the data, selects the prompts and evaluates the base model, and the later seeds share those
(same records, questions and prompts). Per seed the usual report goes to ``<results>/seed<k>``;
``<results>/table1_seeds.md`` gives mean ± sd over seeds and the claims on seed averages
(:mod:`paft_ext.experiments.table1_seeds`). ``--commit`` rebuilds and commits the results folder after every finished
stage, so a stopped run loses at most its current stage (rerun the same command to go on).

Heavy outputs (data, adapters, OpenCompass folders, logs) go to ``--work-dir``; ``table1.md``, ``summary.csv``,
``per_prompt.csv``, the TopAccuracy scores, ``run.json`` and plots to ``--results``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from pathlib import Path

from paft_ext.experiments.presets import PRESETS
from paft_ext.experiments.reproduce import Runner, commit_folder
from paft_ext.experiments.table1 import prompt_sets_of, read_per_prompt, write_table1
from paft_ext.experiments.table1_seeds import write_seeds_report

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="small")
    parser.add_argument("--work-dir", help="default outputs/table1_<preset>")
    parser.add_argument("--results", help="default results/table1_<preset>")
    parser.add_argument("--fresh", action="store_true", help="delete the work folder first (no resume)")
    parser.add_argument("--strict-sizes", action="store_true",
                        help="refuse a data root with fewer training rows or evaluation items than the preset asks")
    parser.add_argument("--max-out-len", type=int,
                        help="generated tokens per answer instead of the preset's (e.g. 64 lets answers be free text, "
                             "to measure the paper's inference-time claim); its own work and results folders")
    parser.add_argument("--batprompt-config", help="generator config (pools generate's format) of the LLM that runs "
                        "BATprompt; without it BATprompt is not run and the report says so")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="training seeds, one run each (the first also prepares, selects and evaluates the base "
                             "model); default: one run at the preset's seed")
    parser.add_argument("--commit", action="store_true",
                        help="with --seeds: rebuild and commit the results folder after every finished stage")
    parser.add_argument("--report-only", action="store_true",
                        help="run no stage: rebuild the results from the stages finished in the work folder")
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.max_out_len is not None:
        if args.max_out_len < 1:
            raise SystemExit(f"--max-out-len must be >= 1, got {args.max_out_len}")
        preset = dataclasses.replace(preset, name=f"{preset.name}_out{args.max_out_len}",
                                     max_out_len=args.max_out_len)
    suffix = "_seeds" if args.seeds else ""  # a seed study never mixes with the single run's folders
    work = Path(args.work_dir or ROOT / "outputs" / f"table1_{preset.name}{suffix}")
    results = Path(args.results or ROOT / "results" / f"table1_{preset.name}{suffix}")
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/reproduce_table1.py", *(argv if argv is not None else sys.argv[1:])]
    if args.seeds:
        run_seeds(args, preset, work, results, command)
        return
    runner = Runner(preset, work, strict_sizes=args.strict_sizes,
                    batprompt_config=Path(args.batprompt_config) if args.batprompt_config else None)
    if args.report_only:
        if args.fresh or not (work / "run.json").is_file():
            raise SystemExit(f"--report-only: {work} holds no run to report (no run.json)")
        runner.check_or_record(command)  # refuses a work folder made with other settings
    else:
        runner.run(command)
    publish(work, results, preset, work)
    print((results / "table1.md").read_text())


def publish(work: Path, results: Path, preset, shared: Path) -> list[dict]:
    """One run's results folder: run.json, the selection scores (BATprompt's proposals), the Table 1 report."""
    results.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "run.json", results / "run.json")
    for kept in (*(shared / "select").glob("*_scores.csv"), *(shared / "select").glob("*_batprompt.json")):
        shutil.copy(kept, results / kept.name)  # every scored prompt; BATprompt's proposals with why any was refused
    return write_table1(work, results, preset, tokenizer_path=str(shared / "chat_tokenizer"), shared=shared)


def run_seeds(args, preset, work: Path, results: Path, command: list[str]) -> None:
    """Every seed's run in turn (finished stages skipped), its report, and the report over the seeds so far."""
    if args.fresh and args.report_only:
        raise SystemExit("--fresh --report-only: nothing would be left to report")
    first = work / f"seed{args.seeds[0]}"

    def report() -> None:
        rows, per_prompt = {}, {}
        for seed in args.seeds:
            if (work / f"seed{seed}" / "run.json").is_file():
                rows[seed] = publish(work / f"seed{seed}", results / f"seed{seed}", preset, first)
                per_prompt[seed] = read_per_prompt(results / f"seed{seed}" / "per_prompt.csv")
        rows = {seed: r for seed, r in rows.items() if r}
        if not rows:
            return
        order = prompt_sets_of([row for r in rows.values() for row in r])
        header = [f"# Table 1 at preset `{preset.name}`, seeds as the unit", "",
                  f"Command: `{' '.join(command)}`; seeds with finished evaluations: {sorted(rows)} (of "
                  f"{args.seeds}). A seed sets the LoRA init, the data order and the PAFT schedule; records, "
                  "questions and prompts are the same for every seed and method; the base model is evaluated once "
                  f"(seed {args.seeds[0]}'s run). Per-seed reports: `seed<k>/table1.md`.", ""]
        write_seeds_report(rows, per_prompt, preset.tasks, order, results, header)

    def after_stage(stage: str) -> None:
        report()
        if args.commit:
            commit_folder(results, f"Table 1 {preset.name}, seeds {args.seeds}: {stage} finished")

    for seed in args.seeds:
        runner = Runner(preset, work / f"seed{seed}", strict_sizes=args.strict_sizes,
                        batprompt_config=Path(args.batprompt_config) if args.batprompt_config else None,
                        train_overrides={"seed": seed, "paft_seed": seed},
                        shared_from=None if seed == args.seeds[0] else first, after_stage=after_stage)
        if args.report_only:
            if (runner.work / "run.json").is_file():
                runner.check_or_record(command)
        else:
            runner.run(command)
    report()
    print((results / "table1_seeds.md").read_text())


if __name__ == "__main__":
    main()
