"""Benchmark: evaluating LoRA adapters merged into the weights against peft's wrapper — seconds per item and whether
the predictions change, in float32 and bfloat16.

    python scripts/bench_adapter_merge.py --adapter fixed=saves/sst2/cpu_baseline --adapter paft=saves/sst2/cpu_paft

Each adapter is evaluated (OpenCompass, the same test prompts, questions, batch size, greedy decoding and
``max_out_len``) four ways: peft's wrapper in float32 (the reference: the adapter as trained, no rounding), the wrapper
in bfloat16, merged in float32, merged in float32 then cast to bfloat16 (``paft-ext eval``'s default). Reported per
way: OpenCompass's generation seconds per item, and how many predictions equal the reference's, item by item.
Writes ``results/bench_adapter_merge.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WAYS = {"wrapper_fp32": ("float32", False), "wrapper_bf16": ("bfloat16", False),
        "merged_fp32": ("float32", True), "merged_bf16": ("bfloat16", True)}


def evaluate(args, data: Path, work: Path, dtype: str, merge: bool) -> Path:
    """One OpenCompass run of every adapter (no base model); its run folder."""
    from paft_ext.evaluation.launch import run_opencompass

    settings = {"tasks": args.task, "prompts": args.prompts, "max_out_len": args.max_out_len,
                "batch_size": args.batch_size, "include_base": "0", "adapters": ",".join(args.adapter),
                "dtype": dtype, "merge_adapters": "1" if merge else "0"}
    log_path = work.with_suffix(".log")
    try:
        with log_path.open("w") as log:
            return run_opencompass(settings, data, work, log=log, cwd=work.parent)
    except subprocess.CalledProcessError:
        sys.exit(f"OpenCompass failed ({dtype}, merge {merge}); its log ends:\n" + log_path.read_text()[-3000:])


def predictions(run: Path, abbr: str) -> tuple[list[str], float]:
    """Every prediction of ``abbr`` in file and item order, and OpenCompass's generation seconds."""
    folder = run / "predictions" / abbr
    out = [item["prediction"] for path in sorted(folder.glob("*.json"))
           for _, item in sorted(json.loads(path.read_text()).items(), key=lambda kv: int(kv[0]))]
    seconds = sum(json.loads(line)["time"] for line in (folder / "timer" / "time.jsonl").read_text().splitlines()
                  if line.strip())
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", action="append", required=True, help="abbr=LoRA folder (repeatable)")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--max-out-len", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    args.adapter = [f"{abbr}={Path(path).resolve()}" for abbr, path in (a.split("=", 1) for a in args.adapter)]
    abbrs = [a.split("=", 1)[0] for a in args.adapter]
    found: dict[str, dict[str, tuple[list[str], float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([str(BIN / "paft-ext"), "prepare", "--tasks", args.task, "--eval-samples",
                        str(args.questions), "--train-samples", "10", "--out", str(tmp / "data")], check=True,
                       capture_output=True)
        for way, (dtype, merge) in WAYS.items():
            run = evaluate(args, tmp / "data" / "opencompass", tmp / way, dtype, merge)
            found[way] = {abbr: predictions(run, abbr) for abbr in abbrs}
    rows = []
    for abbr in abbrs:
        reference = found["wrapper_fp32"][abbr][0]
        for way in WAYS:
            preds, seconds = found[way][abbr]
            same = sum(a == b for a, b in zip(preds, reference, strict=True))
            rows.append({"adapter": abbr, "way": way, "items": len(preds), "generation_s": round(seconds, 1),
                         "s_per_item": round(seconds / len(preds), 4), "same_as_wrapper_fp32": same})
    shown = [a.replace(str(ROOT) + "/", "") for a in args.adapter]
    doc = {"task": args.task, "prompts": args.prompts, "questions": args.questions, "max_out_len": args.max_out_len,
           "batch_size": args.batch_size, "adapters": shown, "rows": rows}
    out = ROOT / "results"
    (out / "bench_adapter_merge.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"# Adapter merge at evaluation ({args.task}, {args.prompts} test prompts x {args.questions} questions, "
             f"batch {args.batch_size}, max_out_len {args.max_out_len}, 2-core CPU)", "",
             "Command: `python scripts/bench_adapter_merge.py " + " ".join(f"--adapter {a}" for a in shown)
             + f" --prompts {args.prompts} --questions {args.questions}`", "",
             "| adapter | way | items | generation s | s/item | predictions equal to wrapper fp32 |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['adapter']} | {r['way']} | {r['items']} | {r['generation_s']} | {r['s_per_item']} | "
              f"{r['same_as_wrapper_fp32']}/{r['items']} |" for r in rows]
    (out / "bench_adapter_merge.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
