"""Benchmark: OpenCompass generation time with and without length-sorted micro-batches (``--length-sorted``).

    python scripts/bench_length_sorted.py        # PIQA and SST-2, 2 test prompts x 96 questions each, ~6 min

Same prepared questions, prompts, batch size (8), greedy decoding and float32 weights of the embedded model; the only
difference is which prompts share a padded batch. Reports OpenCompass's generation timer per item, the speed-up and
how many predictions are identical. Writes ``results/bench_length_sorted.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval_throughput import BIN, ROOT, oc_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["piqa", "sst2"])
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--max-out-len", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for task in args.tasks:
            args.task = task
            subprocess.run([str(BIN / "paft-ext"), "prepare", "--tasks", task, "--eval-samples", str(args.questions),
                            "--train-samples", "10", "--out", str(tmp / task)], check=True, capture_output=True)
            runs = {name: oc_run({"length_sorted": flag}, args, tmp / task / "opencompass", tmp / f"{task}_{name}")
                    for name, flag in (("file_order", "0"), ("length_sorted", "1"))}
            (_, plain, prompts, before), (_, ordered, _, after) = runs["file_order"], runs["length_sorted"]
            same = sum(a == b for a, b in zip(before, after, strict=True))
            rows.append({"task": task, "items": len(prompts), "file_order_s": round(plain, 1),
                         "length_sorted_s": round(ordered, 1), "s_per_item_file_order": round(plain / len(prompts), 4),
                         "s_per_item_length_sorted": round(ordered / len(prompts), 4),
                         "speedup": round(plain / ordered, 3),
                         "same_predictions": f"{same}/{len(prompts)}"})
    doc = {"prompts": args.prompts, "questions": args.questions, "max_out_len": args.max_out_len,
           "batch_size": args.batch_size, "dtype": "float32", "rows": rows}
    (ROOT / "results" / "bench_length_sorted.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"# Length-sorted batches ({args.prompts} prompts x {args.questions} questions per task, batch "
             f"{args.batch_size}, max_out_len {args.max_out_len}, float32, embedded model, 2-core CPU)", "",
             "| task | items | file order s | length-sorted s | s/item file order | s/item sorted | speed-up | same "
             "predictions |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['items']} | {r['file_order_s']} | {r['length_sorted_s']} | "
              f"{r['s_per_item_file_order']} | {r['s_per_item_length_sorted']} | {r['speedup']}x | "
              f"{r['same_predictions']} |" for r in rows]
    lines += ["", "Seconds = OpenCompass's per-dataset generation timer (tokenising, padding, generate, decoding)."]
    (ROOT / "results" / "bench_length_sorted.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
