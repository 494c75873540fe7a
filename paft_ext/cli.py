"""``paft-ext``: the command line of the extension (data preparation, default model, generated configs)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from paft_ext import default_model
from paft_ext.adapters.export import PrepareConfig, prepare
from paft_ext.import_commands import add_import_command
from paft_ext.perturb_commands import add_perturb_command
from paft_ext.task_commands import add_task_commands
from paft_ext.tasks import TASK_FILE_ERRORS, TASKS, TaskFileError, get_task, register_task_file


def _cmd_prepare(args: argparse.Namespace) -> None:
    from paft_ext.configs.task_configs import write_task_configs

    names = args.tasks or [t.name for t in args.registered] or [t.name for t in TASKS.values() if not t.task_file]
    tasks = [get_task(name) for name in names]
    out = Path(args.out)
    manifest = prepare(tasks, out, PrepareConfig(args.train_samples, args.eval_samples, args.seed,
                                                 strict_sizes=args.strict_sizes))
    print(json.dumps(manifest, indent=2))
    for short in manifest["short"]:
        print(f"paft-ext: warning: the data root holds less than asked: {short} (--strict-sizes refuses)",
              file=sys.stderr)
    print(f"LLaMA-Factory dataset_dir: {out / 'llamafactory'}")
    print(f"OpenCompass COMPASS_DATA_CACHE: {out / 'opencompass'}")
    for task in (t for t in tasks if t.task_file):
        paths = write_task_configs(task, out / "llamafactory", out / "yaml")
        print(f"{task.name}: training YAMLs {', '.join(str(p) for p in paths)}")
        if not task.pool_shipped:
            print(f"{task.name}: no prompt pool at {task.pool_dir} yet; build it before PAFT training: paft-ext "
                  f"pools compose --task-file {task.task_file} --task {task.name} (with parts:) or pools generate")


def _cmd_model(args: argparse.Namespace) -> None:
    print(default_model.ensure())


def _build_config(args: argparse.Namespace):
    from paft_ext.pools.build import BuildConfig

    return BuildConfig(test_size=args.test_size, valid_size=args.valid_size, train_size=args.train_size,
                       seed=args.seed, near_duplicate_threshold=args.near_duplicate_threshold,
                       leak_threshold=args.leak_threshold, extra_special_tokens=_refused_tokens(args))


def _refused_tokens(args: argparse.Namespace) -> tuple[str, ...]:
    from paft_ext.pools.safety import special_tokens_of

    return special_tokens_of(args.refuse_special_tokens_of) if args.refuse_special_tokens_of else ()


def _pool_out(args: argparse.Namespace) -> Path:
    """``--out``; by default a task file's own pool folder, else ``outputs/pools/<pool>``: a build never writes into a
    shipped pool unless asked to."""
    task = get_task(args.task)
    return Path(args.out or task.pool_dir or f"outputs/pools/{task.pool}")


def _write_candidates(out: Path, candidates, name: str = "candidates.jsonl") -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("".join(json.dumps({"text": c.text, "source": c.source},
                                                             ensure_ascii=False) + "\n" for c in candidates))


def _cmd_pools_generate(args: argparse.Namespace) -> None:
    from paft_ext.pools.build import PoolBuildError, add_test_set, build_pool, staged
    from paft_ext.pools.generate import Generator, load_generation_config

    task, out = get_task(args.task), _pool_out(args)
    if args.test_set and not (out / "train.jsonl").is_file():
        raise PoolBuildError(f"{out}: no pool to add {args.test_set} to (pass --out with a built pool folder)")
    candidates, provenance = Generator(load_generation_config(args.config), Path(args.cache_dir)).run(task)
    print(json.dumps(provenance["generation"]["total"]))
    stem = f"{args.test_set}_" if args.test_set else ""
    with staged(out) as stage:
        _write_candidates(stage, candidates, f"{stem}candidates.jsonl")
        (stage / f"{stem}generation.json").write_text(json.dumps(provenance, indent=2) + "\n")
        if args.test_set:  # an extra test set for an existing pool: what leaks into train is rejected, not split off
            manifest = add_test_set(task, stage, args.test_set, candidates, size=args.test_size, strict=False,
                                    seed=args.seed, extra_special_tokens=_refused_tokens(args))
            print(json.dumps(manifest["test_sets"][args.test_set]["written"]))
            return
        manifest = build_pool(task, candidates, stage, _build_config(args), provenance)
    print(json.dumps(manifest["counts"]))


def _cmd_pools_compose(args: argparse.Namespace) -> None:
    from paft_ext.pools.build import build_pool, staged
    from paft_ext.pools.compose import composed_candidates, part_counts, task_parts

    task, out = get_task(args.task), _pool_out(args)
    parts = task_parts(task)
    candidates = (composed_candidates(parts, args.candidates, "train", seed=args.seed)
                  + composed_candidates(parts, args.test_candidates, "test", seed=args.seed))
    where = f"the parts of {Path(task.task_file).name}" if task.task_file else f"paft_ext/pools/parts/{task.pool}.py"
    origin = {"origin": f"{args.candidates} train-side and {args.test_candidates} test-side seeded compositions "
                        f"(seed {args.seed}) of the hand-written parts in {where}, whose families are split into "
                        f"train-only and test-only members; no LLM was called",
              "parts": part_counts(parts)}
    with staged(out) as stage:
        manifest = build_pool(task, candidates, stage, _build_config(args), origin)
    print(json.dumps(manifest["counts"]))


def _read_candidates(path: Path):
    """Candidates from a jsonl (``text`` and ``source`` per line) or a text file of prompts separated by ``%%`` lines
    (hand-written: source ``handwritten:<folder name>``, e.g. ``handwritten:independent``)."""
    from paft_ext.jsonl import read_jsonl, read_text
    from paft_ext.pools.build import Candidate, PoolBuildError

    if not path.is_file():
        raise PoolBuildError(f"{path}: not found")
    if path.suffix == ".jsonl":
        rows = list(read_jsonl(path, PoolBuildError))
        bad = [n for n, row in rows if not isinstance(row, dict)
               or not all(isinstance(row.get(key), str) for key in ("text", "source"))]
        if bad:
            raise PoolBuildError(f"{path}:{bad[0]}: a candidate line needs string 'text' and 'source' (where the "
                                 f"prompt came from)")
        return [Candidate(row["text"], row["source"]) for _, row in rows]
    blocks = [b.strip("\n") for b in re.split(r"^%%[ \t]*$", read_text(path, PoolBuildError), flags=re.MULTILINE)]
    return [Candidate(b, f"handwritten:{path.resolve().parent.name}") for b in blocks if b.strip()]


def _cmd_pools_add(args: argparse.Namespace) -> None:
    from paft_ext.pools.build import PoolBuildError, add_test_set, staged

    task, out = get_task(args.task), _pool_out(args)
    source = Path(args.source)
    candidates = _read_candidates(source)
    if not (out / "train.jsonl").is_file():
        raise PoolBuildError(f"{out}: no pool to add {args.name} to; pass --out with a built pool folder (the shipped "
                             f"one is data/prompts/{task.pool})")
    with staged(out) as stage:
        manifest = add_test_set(task, stage, args.name, candidates, size=args.size, strict=not args.lenient,
                                seed=args.seed, min_size=args.min_size, extra_special_tokens=_refused_tokens(args),
                                provenance={"from": {"file": source.name, "sha256": default_model.sha256_file(source)}})
    print(json.dumps({args.name: manifest["unseen"][args.name]}))


def _cmd_pools_check(args: argparse.Namespace) -> None:
    from paft_ext.pools.leakage import check_pool

    folder = Path(args.folder)
    task = get_task(args.task) if args.task else _task_of_pool(folder)
    stats, problems = check_pool(folder, task)
    print(json.dumps(stats, indent=1))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        raise SystemExit(f"paft-ext: {folder}: {len(problems)} problem(s): the test prompts are not unseen")
    print(f"{folder}: every test set is unseen (no shared part or sentence; n-gram similarity within targets)")


def _task_of_pool(folder: Path):
    from paft_ext.pools.store import PoolError

    manifest = folder / "manifest.json"
    pool = json.loads(manifest.read_text())["pool"] if manifest.is_file() else folder.name
    matches = [t for t in TASKS.values() if t.pool == pool]
    if not matches:
        raise PoolError(f"{folder}: cannot tell the task (no manifest.json naming a known pool); pass --task")
    return matches[0]


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


def _cmd_rl(args: argparse.Namespace) -> None:
    from paft_ext.rl.runner import train_grpo

    print(f"adapter: {train_grpo(args.config)}")


def _add_pool_options(parser: argparse.ArgumentParser) -> None:
    from paft_ext.pools.dedup import NEAR_DUPLICATE_THRESHOLD
    from paft_ext.pools.leakage import MAX_NEAREST

    parser.add_argument("--task", required=True, choices=list(TASKS))
    parser.add_argument("--out", help="pool folder (default outputs/pools/<pool>; the shipped pools are "
                                      "data/prompts/<pool>)")
    parser.add_argument("--test-size", type=int, default=50)
    parser.add_argument("--valid-size", type=int, default=20, help="validation prompts carved from train")
    parser.add_argument("--train-size", type=int, default=None, help="seeded subset of the remaining prompts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--near-duplicate-threshold", type=float, default=NEAR_DUPLICATE_THRESHOLD)
    parser.add_argument("--leak-threshold", type=float, default=MAX_NEAREST,
                        help="no test prompt is more similar than this to a train prompt (5-gram Jaccard)")
    _add_token_option(parser)


def _add_token_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refuse-special-tokens-of", action="append", metavar="TOKENIZER",
                        help="also refuse templates holding a special token of this tokenizer (path or Hub id; "
                             "repeatable), besides the common chat-control tokens refused always")


def task_file_option() -> argparse.ArgumentParser:
    """``--task-file``, accepted by every command that takes a task (read before the rest of the command line, so
    that the file's task is one of the ``--task``/``--tasks`` choices)."""
    option = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # --task is not --task-file
    option.add_argument("--task-file", action="append", default=[], metavar="YAML",
                        help="register the task of this task file (repeatable; see `paft-ext task init`)")
    return option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paft-ext", description="Prompt-Agnostic Fine-Tuning tools")
    sub = parser.add_subparsers(dest="command", required=True)
    tf = [task_file_option()]
    prep = sub.add_parser("prepare", parents=tf,
                          help="convert benchmark records for LLaMA-Factory and OpenCompass (and write a "
                                          "task file's training YAMLs under <out>/yaml)")
    prep.add_argument("--tasks", nargs="+", choices=list(TASKS),
                      help="default: the --task-file tasks, else every built-in task")
    prep.add_argument("--out", default=".cache/data")
    prep.add_argument("--train-samples", type=int, default=None, help="seeded random subset of the train split")
    prep.add_argument("--eval-samples", type=int, default=None, help="seeded random subset of the eval split")
    prep.add_argument("--seed", type=int, default=0)
    prep.add_argument("--strict-sizes", action="store_true",
                      help="refuse when the data root holds fewer rows than asked or a smaller evaluation split than "
                           "the benchmark's (default: a warning, and the counts in prepare_manifest.json)")
    prep.set_defaults(func=_cmd_prepare)
    model = sub.add_parser("model", help="convert (once) and print the embedded default model folder")
    model.set_defaults(func=_cmd_model)
    pools = sub.add_parser("pools", help="build prompt pools").add_subparsers(dest="pools_command", required=True)
    generate = pools.add_parser("generate", parents=tf,
                            help="generate candidates with LLMs over OpenAI-compatible APIs")
    generate.add_argument("--config", required=True, help="generators YAML/JSON")
    generate.add_argument("--cache-dir", default=".cache/pool_requests", help="on-disk response cache")
    generate.add_argument("--test-set", help="add the generated prompts to an existing pool as this test set "
                                             "(e.g. test_llm) instead of building a pool")
    _add_pool_options(generate)
    generate.set_defaults(func=_cmd_pools_generate)
    compose = pools.add_parser("compose", parents=tf,
                            help="compose candidates from the hand-written parts (no API)")
    compose.add_argument("--candidates", type=int, default=1600, help="train-side compositions")
    compose.add_argument("--test-candidates", type=int, default=400, help="test-side compositions")
    _add_pool_options(compose)
    compose.set_defaults(func=_cmd_pools_compose)
    add = pools.add_parser("add-test-set", parents=tf,
                            help="add a test set (hand-written or generated) to a built pool")
    add.add_argument("--name", required=True, help="test_<name>, e.g. test_indep")
    add.add_argument("--from", dest="source", required=True,
                     help="prompts: .jsonl (text, source) or text separated by %%%% lines")
    add.add_argument("--size", type=int, help="seeded subset of this size (default: all)")
    add.add_argument("--min-size", type=int, help="fail unless at least this many prompts are kept")
    add.add_argument("--lenient", action="store_true",
                     help="reject invalid/duplicate/leaking prompts instead of failing (generated sets)")
    add.add_argument("--task", required=True, choices=list(TASKS))
    add.add_argument("--out", help="pool folder to add to (default outputs/pools/<pool>; the shipped pools are "
                                   "data/prompts/<pool>)")
    add.add_argument("--seed", type=int, default=0)
    _add_token_option(add)
    add.set_defaults(func=_cmd_pools_add)
    add_import_command(pools, tf)
    check = pools.add_parser("check", parents=tf,
                            help="prove that a pool's test sets are unseen (exit 1 naming every leak)")
    check.add_argument("folder")
    check.add_argument("--task", choices=list(TASKS), help="default: the pool named in manifest.json")
    check.set_defaults(func=_cmd_pools_check)
    add_perturb_command(pools, tf)
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
    rl = sub.add_parser("rl", parents=tf,
                          help="GRPO with PAFT prompts (TRL GRPOTrainer + LoRA) from a YAML")
    rl.add_argument("config", help="GRPO YAML, e.g. yaml/sst2/cpu_paft_grpo.yaml")
    rl.set_defaults(func=_cmd_rl)
    add_task_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    from paft_ext.adapters.source import DataError
    from paft_ext.configs.task_configs import ConfigWriteError
    from paft_ext.core.run_state import PaftSetupError
    from paft_ext.evaluation.prompt_sets import PromptSetError
    from paft_ext.pools.build import PoolBuildError
    from paft_ext.pools.generate import GenerationError
    from paft_ext.pools.perturb import PerturbError
    from paft_ext.pools.store import PoolError
    from paft_ext.rl.config import RLConfigError

    if TASK_FILE_ERRORS and not {"-h", "--help"} & set(sys.argv[1:] if argv is None else argv):
        raise SystemExit(f"paft-ext: error: {TASK_FILE_ERRORS[0]}")
    try:
        # task files first: their tasks are choices of --task/--tasks below
        registered = [register_task_file(f) for f in task_file_option().parse_known_args(argv)[0].task_file]
        args = build_parser().parse_args(argv)
        args.registered = registered
        args.func(args)
    except (DataError, PoolBuildError, GenerationError, PoolError, PromptSetError, RLConfigError,
            PaftSetupError, PerturbError, TaskFileError, ConfigWriteError) as err:
        raise SystemExit(f"paft-ext: error: {err}") from None
    except (ValueError, KeyError, OSError, subprocess.CalledProcessError) as err:  # bad input the message names
        raise SystemExit(f"paft-ext: error: {err.args[0] if isinstance(err, KeyError) and err.args else err}") \
            from None


if __name__ == "__main__":
    main()
