"""``paft-ext pools``: build prompt pools (generate with LLMs, compose from hand-written parts, add a test set, check
that the test sets are unseen); ``import`` and ``perturb`` are in :mod:`.pool_import` and :mod:`.pool_perturb`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from paft_ext import default_model
from paft_ext.tasks import TASKS, get_task

from .pool_import import add_import_command
from .pool_perturb import add_perturb_command


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
    from paft_ext.pools.generate import Generator
    from paft_ext.pools.generation_config import load_generation_config

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
    from paft_ext.data_files import read_jsonl, read_text
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


def add_pool_commands(sub: argparse._SubParsersAction, tf: list[argparse.ArgumentParser]) -> None:
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
    add.add_argument("--name", required=True, help="test_<name>, e.g. test_indep; or valid_<name>: held-out "
                                                   "validation prompts (no test prompt may share a sentence with them)")
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
