"""Reproduce the paper's Table 1 (base model, LoRA + user-specified prompt, LoRA + TopAccuracy prompt, PAFT) for a
preset, resumably: rerun the same command after an interruption and finished stages are skipped.

    python scripts/reproduce_table1.py --preset cpu              # SST-2 on the embedded default model, ~1.7 h
    python scripts/reproduce_table1.py --preset small            # PIQA/WinoGrande at chance level (kept), ~2 h
    python scripts/reproduce_table1.py --preset paper            # Meta-Llama-3-8B on one GPU, the paper's setting
    python scripts/reproduce_table1.py --preset cpu --max-out-len 64   # answers as free text: the timing table's
                                                                  # output tokens and seconds per answer per method

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
from paft_ext.experiments.reproduce import Runner
from paft_ext.experiments.table1 import write_table1

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
    parser.add_argument("--report-only", action="store_true",
                        help="run no stage: rebuild the results from the stages finished in the work folder")
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.max_out_len is not None:
        if args.max_out_len < 1:
            raise SystemExit(f"--max-out-len must be >= 1, got {args.max_out_len}")
        preset = dataclasses.replace(preset, name=f"{preset.name}_out{args.max_out_len}",
                                     max_out_len=args.max_out_len)
    work = Path(args.work_dir or ROOT / "outputs" / f"table1_{preset.name}")
    results = Path(args.results or ROOT / "results" / f"table1_{preset.name}")
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    runner = Runner(preset, work, strict_sizes=args.strict_sizes,
                    batprompt_config=Path(args.batprompt_config) if args.batprompt_config else None)
    command = ["python", "scripts/reproduce_table1.py", *(argv if argv is not None else sys.argv[1:])]
    if args.report_only:
        if args.fresh or not (work / "run.json").is_file():
            raise SystemExit(f"--report-only: {work} holds no run to report (no run.json)")
        runner.check_or_record(command)  # refuses a work folder made with other settings
    else:
        runner.run(command)
    results.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "run.json", results / "run.json")
    for scores in (work / "select").glob("*_scores.csv"):
        shutil.copy(scores, results / scores.name)
    write_table1(work, results, preset, tokenizer_path=str(work / "chat_tokenizer"))
    print((results / "table1.md").read_text())


if __name__ == "__main__":
    main()
