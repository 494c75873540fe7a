"""``paft-ext``: the command line of the extension (data preparation, default model, generated configs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from paft_ext import default_model
from paft_ext.adapters.export import PrepareConfig, prepare
from paft_ext.tasks import TASKS, get_task


def _cmd_prepare(args: argparse.Namespace) -> None:
    tasks = [get_task(name) for name in args.tasks]
    manifest = prepare(tasks, Path(args.out), PrepareConfig(args.train_samples, args.eval_samples, args.seed))
    print(json.dumps(manifest, indent=2))
    print(f"LLaMA-Factory dataset_dir: {Path(args.out) / 'llamafactory'}")
    print(f"OpenCompass COMPASS_DATA_CACHE: {Path(args.out) / 'opencompass'}")


def _cmd_model(args: argparse.Namespace) -> None:
    print(default_model.ensure())


def _build_config(args: argparse.Namespace):
    from paft_ext.pools.build import BuildConfig

    return BuildConfig(test_size=args.test_size, valid_size=args.valid_size, train_size=args.train_size,
                       seed=args.seed, near_duplicate_threshold=args.near_duplicate_threshold,
                       leak_threshold=args.leak_threshold or args.near_duplicate_threshold)


def _pool_out(args: argparse.Namespace) -> Path:
    return Path(args.out or f"data/prompts/{get_task(args.task).pool}")


def _write_candidates(out: Path, candidates) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "candidates.jsonl").write_text("".join(json.dumps({"text": c.text, "source": c.source},
                                                             ensure_ascii=False) + "\n" for c in candidates))


def _cmd_pools_generate(args: argparse.Namespace) -> None:
    from paft_ext.pools.build import build_pool
    from paft_ext.pools.generate import Generator, load_generation_config

    task, out = get_task(args.task), _pool_out(args)
    candidates, provenance = Generator(load_generation_config(args.config), Path(args.cache_dir)).run(task)
    _write_candidates(out, candidates)
    (out / "generation.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(json.dumps(provenance["generation"]["total"]))
    manifest = build_pool(task, candidates, out, _build_config(args), provenance)
    print(json.dumps(manifest["counts"]))


def _cmd_pools_compose(args: argparse.Namespace) -> None:
    from paft_ext.pools.build import build_pool
    from paft_ext.pools.compose import composed_candidates

    task, out = get_task(args.task), _pool_out(args)
    candidates = composed_candidates(task.pool, args.candidates, seed=args.seed)
    origin = {"origin": f"{args.candidates} seeded compositions (seed {args.seed}) of the hand-written parts in "
                        f"paft_ext/pools/parts/{task.pool}.py; no LLM was called"}
    print(json.dumps(build_pool(task, candidates, out, _build_config(args), origin)["counts"]))


def _cmd_report(args: argparse.Namespace) -> None:
    from paft_ext.evaluation.report import find_run, write_report

    run = find_run(Path(args.work_dir))
    out = Path(args.out or run / "paft_report")
    write_report(run, out, strict=args.strict, tokenizer_path=args.tokenizer, plots=not args.no_plots)
    print((out / "report.md").read_text())
    print(f"report: {out}/report.{{md,csv,json}}, per-prompt: {out}/per_prompt.csv, plots: {out}/plots/")


def _cmd_eval(args: argparse.Namespace) -> None:
    from paft_ext.evaluation.launch import run_opencompass
    from paft_ext.evaluation.report import write_report

    settings = {"tasks": ",".join(args.tasks), "max_out_len": args.max_out_len, "batch_size": args.batch_size,
                "include_base": "0" if args.no_base else "1", "adapters": ",".join(args.adapter)}
    settings.update({k: v for k, v in (("prompts", args.prompts), ("questions", args.questions), ("model", args.model))
                     if v is not None})
    run = run_opencompass(settings, Path(args.data), Path(args.work_dir), workers=args.workers)
    out = run / "paft_report"
    write_report(run, out, tokenizer_path=args.model or str(default_model.model_dir()))
    print((out / "report.md").read_text())
    print(f"report: {out}/report.md, plots: {out}/plots/")


def _add_pool_options(parser: argparse.ArgumentParser) -> None:
    from paft_ext.pools.dedup import NEAR_DUPLICATE_THRESHOLD

    parser.add_argument("--task", required=True, choices=list(TASKS))
    parser.add_argument("--out", help="pool folder (default data/prompts/<pool>)")
    parser.add_argument("--test-size", type=int, default=50)
    parser.add_argument("--valid-size", type=int, default=20, help="validation prompts carved from train")
    parser.add_argument("--train-size", type=int, default=None, help="seeded subset of the remaining prompts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--near-duplicate-threshold", type=float, default=NEAR_DUPLICATE_THRESHOLD)
    parser.add_argument("--leak-threshold", type=float, default=None,
                        help="test prompts have no train prompt this similar (default: the near-duplicate one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paft-ext", description="Prompt-Agnostic Fine-Tuning tools")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="convert benchmark records for LLaMA-Factory and OpenCompass")
    prep.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    prep.add_argument("--out", default=".cache/data")
    prep.add_argument("--train-samples", type=int, default=None, help="seeded random subset of the train split")
    prep.add_argument("--eval-samples", type=int, default=None, help="seeded random subset of the eval split")
    prep.add_argument("--seed", type=int, default=0)
    prep.set_defaults(func=_cmd_prepare)
    model = sub.add_parser("model", help="convert (once) and print the embedded default model folder")
    model.set_defaults(func=_cmd_model)
    pools = sub.add_parser("pools", help="build prompt pools").add_subparsers(dest="pools_command", required=True)
    generate = pools.add_parser("generate", help="generate candidates with LLMs over OpenAI-compatible APIs")
    generate.add_argument("--config", required=True, help="generators YAML/JSON")
    generate.add_argument("--cache-dir", default=".cache/pool_requests", help="on-disk response cache")
    _add_pool_options(generate)
    generate.set_defaults(func=_cmd_pools_generate)
    compose = pools.add_parser("compose", help="compose candidates from the hand-written parts (no API)")
    compose.add_argument("--candidates", type=int, default=1600)
    _add_pool_options(compose)
    compose.set_defaults(func=_cmd_pools_compose)
    report = sub.add_parser("report", help="robustness report of an OpenCompass work directory")
    report.add_argument("work_dir")
    report.add_argument("--out", help="default <run>/paft_report")
    report.add_argument("--strict", action="store_true", help="Top% counts accuracy > threshold (default >=)")
    report.add_argument("--tokenizer", help="tokenizer to count output tokens (default: none)")
    report.add_argument("--no-plots", action="store_true")
    report.set_defaults(func=_cmd_report)
    ev = sub.add_parser("eval", help="one OpenCompass run over every test prompt, then the report")
    ev.add_argument("--tasks", nargs="+", default=["piqa"], choices=list(TASKS))
    ev.add_argument("--adapter", action="append", default=[], help="abbr=LoRA folder (repeatable)")
    ev.add_argument("--no-base", action="store_true", help="do not evaluate the base model")
    ev.add_argument("--model", help="base model path (default: the embedded default model)")
    ev.add_argument("--prompts", type=int, help="first N test prompts (default: all)")
    ev.add_argument("--questions", type=int,
                    help="the first N prepared questions (`prepare --eval-samples N` draws a seeded random subset)")
    ev.add_argument("--max-out-len", type=int, default=256)
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--workers", type=int, default=1)
    ev.add_argument("--data", default=".cache/data/opencompass", help="COMPASS_DATA_CACHE (from paft-ext prepare)")
    ev.add_argument("--work-dir", default="outputs/eval")
    ev.set_defaults(func=_cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> None:
    from paft_ext.adapters.source import DataError
    from paft_ext.pools.build import PoolBuildError
    from paft_ext.pools.generate import GenerationError
    from paft_ext.pools.store import PoolError

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (DataError, PoolBuildError, GenerationError, PoolError) as err:
        raise SystemExit(f"paft-ext: error: {err}") from None


if __name__ == "__main__":
    main()
