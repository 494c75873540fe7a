"""Benchmark: one expanded OpenCompass run over P prompts vs one OpenCompass run per prompt (the authors' way).

Same work both ways — the embedded default model, one benchmark, the first P shipped test prompts, the same seeded
question subset (``paft-ext prepare --eval-samples``), identical generation settings. Reports wall times, their
ratio, and the share of the expanded run's wall time spent in generation (OpenCompass's per-dataset timer, which
covers the generation loop only). Writes ``results/bench_eval_expansion.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _opencompass(settings: dict, data: Path, work: Path, cwd: Path) -> float:
    """Wall seconds of one OpenCompass run (its output goes to ``<work>.log``)."""
    from paft_ext.evaluation.launch import run_opencompass

    start = time.perf_counter()
    with work.with_suffix(".log").open("w") as log:
        run_opencompass(settings, data, work, log=log, cwd=cwd)
    return time.perf_counter() - start


def _generation_seconds(work: Path) -> float:
    return sum(json.loads(line)["time"] for path in work.rglob("timer/time.jsonl")
               for line in path.read_text().splitlines() if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="piqa")
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--max-out-len", type=int, default=8)
    args = parser.parse_args()
    from paft_ext.tasks import get_task

    task = get_task(args.task)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([str(BIN / "paft-ext"), "prepare", "--tasks", args.task, "--eval-samples",
                        str(args.questions), "--train-samples", "10", "--out", str(tmp / "data")], check=True,
                       capture_output=True)
        lines = (ROOT / "data" / "prompts" / task.pool / "test.jsonl").read_text().splitlines()[: args.prompts]
        settings = {"tasks": args.task, "max_out_len": args.max_out_len, "batch_size": 8}
        data = tmp / "data" / "opencompass"
        expanded = _opencompass({**settings, "prompts": args.prompts}, data, tmp / "expanded", tmp)
        generation = _generation_seconds(tmp / "expanded")
        single = []
        for k, line in enumerate(lines):
            pools = tmp / f"pool{k}" / task.pool
            pools.mkdir(parents=True)
            (pools / "test.jsonl").write_text(line + "\n")
            single.append(_opencompass({**settings, "pool_root": pools.parent}, data, tmp / f"single{k}", tmp))
            shutil.rmtree(tmp / f"single{k}")
    result = {"task": args.task, "prompts": args.prompts, "questions": args.questions,
              "max_out_len": args.max_out_len, "expanded_s": round(expanded, 1),
              "per_prompt_runs_s": [round(s, 1) for s in single], "per_prompt_total_s": round(sum(single), 1),
              "speedup": round(sum(single) / expanded, 2), "generation_s_in_expanded": round(generation, 1),
              "generation_share_of_expanded": round(generation / expanded, 3)}
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_eval_expansion.json").write_text(json.dumps(result, indent=2) + "\n")
    md = (f"# One expanded OpenCompass run vs one run per prompt\n\n{args.task}, {args.prompts} prompts × "
          f"{args.questions} questions, default model on CPU, max_out_len {args.max_out_len}, batch 8.\n\n"
          f"| | wall s |\n|---|---|\n| one expanded run | {expanded:.1f} |\n"
          f"| one run per prompt (sum of {len(single)}) | {sum(single):.1f} |\n| speed-up | "
          f"{result['speedup']}× |\n\nGeneration (OpenCompass timer) was {generation:.1f} s = "
          f"{100 * result['generation_share_of_expanded']:.0f}% of the expanded run's wall time; the rest is process "
          f"start-up, imports, model loading, dataset building and scoring.\n")
    (out / "bench_eval_expansion.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
