"""``paft-ext eval`` (one OpenCompass run over every test prompt, then the report) and ``paft-ext report`` (the
robustness report of a finished run)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from paft_ext import default_model
from paft_ext.tasks import TASKS


def _cmd_report(args: argparse.Namespace) -> None:
    from paft_ext.evaluation.report import find_run, write_report

    run = find_run(Path(args.work_dir))
    out = Path(args.out or run / "paft_report")
    pool_root = args.pool_root or os.environ.get("PAFT_EVAL_POOL_ROOT")
    document = write_report(run, out, inclusive=args.top_inclusive, tokenizer_path=args.tokenizer,
                            plots=not args.no_plots, pool_root=Path(pool_root) if pool_root else None)
    print((out / "report.md").read_text())
    print(f"report: {out}/report.{{md,csv,json}}, per-prompt: {out}/per_prompt.csv, plots: {out}/plots/")
    if document["missing"]:
        raise SystemExit("paft-ext: error: the run is incomplete (models or datasets without predictions, listed at "
                         "the top of the report)")
    partial = sorted({f"{r['model']}/{r['task']}/{r['prompt_set']}" for r in document["rows"]
                      if r.get("partial") and r["task"] != "AVERAGE"})
    if partial:
        raise SystemExit(f"paft-ext: error: partial report: {', '.join(partial)} lack some of their prompts (a run "
                         f"stopped midway?); the rows are marked partial in {out}/report.md")


def _cmd_eval(args: argparse.Namespace) -> None:
    from paft_ext.evaluation.launch import run_opencompass
    from paft_ext.evaluation.report import write_report

    tasks = args.tasks or [t.name for t in args.registered] or ["piqa"]
    settings = {"tasks": ",".join(tasks), "max_out_len": args.max_out_len, "batch_size": args.batch_size,
                "include_base": "0" if args.no_base else "1", "adapters": ",".join(args.adapter),
                "allow_base_mismatch": "1" if args.allow_base_mismatch else "0", "backend": args.backend,
                "length_sorted": "1" if args.length_sorted else "0", "merge_adapters": "0" if args.no_merge else "1",
                "eval_details": "0" if args.no_eval_details else "1"}
    settings.update({k: v for k, v in (("prompts", args.prompts), ("questions", args.questions), ("model", args.model),
                                       ("num_gpus", args.num_gpus), ("dtype", args.dtype),
                                       ("prompt_sets", ",".join(args.prompt_set or []) or None)) if v is not None})
    run = run_opencompass(settings, Path(args.data), Path(args.work_dir), workers=args.workers)
    out = run / "paft_report"
    write_report(run, out, tokenizer_path=args.model or str(default_model.model_dir()))
    print((out / "report.md").read_text())
    print(f"report: {out}/report.md, plots: {out}/plots/")


def add_evaluation_commands(sub: argparse._SubParsersAction, tf: list[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", parents=tf,
                          help="robustness report of an OpenCompass work directory")
    report.add_argument("work_dir")
    report.add_argument("--out", help="default <run>/paft_report")
    report.add_argument("--top-inclusive", action="store_true",
                        help="Top%% counts accuracy >= threshold (default: > threshold, the paper's definition)")
    report.add_argument("--tokenizer", help="tokenizer to count output tokens (default: none)")
    report.add_argument("--no-plots", action="store_true")
    report.add_argument("--pool-root", help="pool folder the run evaluated (default: the one its paft_eval.json "
                                            "records, else $PAFT_EVAL_POOL_ROOT, else the shipped pools)")
    report.set_defaults(func=_cmd_report)
    ev = sub.add_parser("eval", parents=tf,
                          help="one OpenCompass run over every test prompt, then the report")
    ev.add_argument("--tasks", nargs="+", choices=list(TASKS), help="default: the --task-file tasks, else piqa")
    ev.add_argument("--adapter", action="append", default=[], help="abbr=LoRA folder (repeatable)")
    ev.add_argument("--no-base", action="store_true", help="do not evaluate the base model")
    ev.add_argument("--allow-base-mismatch", action="store_true",
                    help="evaluate adapters whose adapter_config.json names another base model than --model")
    ev.add_argument("--model", help="base model path (default: the embedded default model)")
    ev.add_argument("--prompt-set", action="append", metavar="SET",
                    help="test (default) | test_indep | test_llm | seen_probe | <pool file>.jsonl ({pool} is replaced "
                         "by the task's pool); repeat to evaluate several sets in one run")
    ev.add_argument("--prompts", type=int, help="first N prompts of each set (default: all)")
    ev.add_argument("--questions", type=int,
                    help="the first N prepared questions (`prepare --eval-samples N` draws a seeded random subset)")
    ev.add_argument("--backend", choices=["hf", "vllm", "lmdeploy"], default="hf",
                    help="inference engine: hf (CPU/GPU), vllm (GPU, applies LoRA adapters), lmdeploy (GPU, base or "
                         "merged models only)")
    ev.add_argument("--num-gpus", type=int, help="GPUs per model (tensor parallel for vllm/lmdeploy; default 0 = CPU "
                                                 "for hf, 1 for the engines)")
    ev.add_argument("--dtype", choices=["float32", "bfloat16"],
                    help="hf weights (default float32 on CPU, the checkpoint's on GPUs); bfloat16 on CPU is opt-in")
    ev.add_argument("--length-sorted", action="store_true",
                    help="hf: batch prompts of similar token length together (less padding; same outputs order)")
    ev.add_argument("--no-merge", action="store_true",
                    help="hf: keep peft's adapter wrapper instead of merging the adapter (in float32) into the weights "
                         "(quantised bases; slower)")
    ev.add_argument("--no-eval-details", action="store_true",
                    help="skip OpenCompass's per-question details (they repeat every prompt; the report re-scores)")
    ev.add_argument("--max-out-len", type=int, default=256)
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--workers", type=int, default=1)
    ev.add_argument("--data", default=".cache/data/opencompass", help="COMPASS_DATA_CACHE (from paft-ext prepare)")
    ev.add_argument("--work-dir", default="outputs/eval")
    ev.set_defaults(func=_cmd_eval)
