"""Benchmark: the paper's inference-time claim (Table 2: PAFT answers faster because it answers with the letter) —
output tokens and seconds per answer per method, at a ``max_out_len`` long enough for free-form answers.

    python scripts/bench_inference_time.py --adapter fixed=<lora> --adapter paft=<lora>   # base is always read

One OpenCompass run (``paft-ext eval``'s path) reads the base model and every adapter on the first ``--prompts``
unseen test prompts × ``--questions`` questions with ``--max-out-len`` (64) and greedy decoding; OpenCompass's
per-dataset timer gives the generation seconds, the model's tokenizer counts the output tokens. Writes
``results/inference_time/inference_time.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def per_model(results: list) -> list[dict]:
    """Per model: answers, mean output tokens per answer, generation seconds per answer, accuracy, no-answer."""
    out = []
    for model in dict.fromkeys(r.model for r in results):
        mine = [r for r in results if r.model == model]
        answers = sum(r.questions for r in mine)
        out.append({"model": model, "prompts": len(mine), "answers": answers,
                    "output_tokens_per_answer": statistics.fmean(r.output_tokens for r in mine),
                    "seconds_per_answer": sum(r.seconds for r in mine) / answers,
                    "accuracy": statistics.fmean(r.accuracy for r in mine),
                    "no_answer_pct": statistics.fmean(r.no_answer for r in mine)})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", action="append", default=[], help="abbr=LoRA folder (repeatable)")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--prompts", type=int, default=5)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--max-out-len", type=int, default=64)
    parser.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    parser.add_argument("--out", default=str(ROOT / "results" / "inference_time"))
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    from paft_ext import default_model
    from paft_ext.benchmark_data.export import PrepareConfig, prepare
    from paft_ext.evaluation.launch import run_opencompass
    from paft_ext.evaluation.report import collect
    from paft_ext.tasks import get_task

    work = ROOT / "outputs" / "inference_time"
    prepare([get_task(args.task)], work / "data", PrepareConfig(train_samples=8, eval_samples=args.questions, seed=0))
    model = str(default_model.ensure())
    settings = {"tasks": args.task, "model": model, "prompts": args.prompts, "max_out_len": args.max_out_len,
                "batch_size": 8, "include_base": "1", "dtype": args.dtype, "prompt_sets": "test",
                "adapters": ",".join(args.adapter)}
    start = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    with (work / "eval.log").open("w") as log:
        run = run_opencompass(settings, work / "data" / "opencompass", work / "eval", log=log)
    wall = time.perf_counter() - start
    rows = per_model(collect(run, tokenizer=AutoTokenizer.from_pretrained(model)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"settings": {k: v for k, v in settings.items() if k != "model"}, "adapters": args.adapter,
              "wall_seconds": round(wall, 1), "models": rows}
    (out / "inference_time.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = ["# Inference time per answer (paper Table 2's claim)", "",
             f"`python scripts/bench_inference_time.py {' '.join(f'--adapter {a}' for a in args.adapter)}`: "
             f"{args.task}, the first {args.prompts} `test` prompts × {args.questions} questions, greedy, max_out_len "
             f"{args.max_out_len}, {args.dtype}, batch 8, 2 CPU cores; one OpenCompass run ({wall:.0f} s). Seconds: "
             "OpenCompass's generation timer per answer (batched, so a batch's longest answer sets its time).", "",
             "| model | answers | output tokens / answer | seconds / answer | accuracy % | no answer % |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['answers']} | {r['output_tokens_per_answer']:.1f} | "
              f"{r['seconds_per_answer']:.3f} | {r['accuracy']:.1f} | {r['no_answer_pct']:.1f} |" for r in rows]
    (out / "inference_time.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
