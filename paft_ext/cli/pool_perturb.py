"""``paft-ext pools perturb``: a perturbed or structure-varied copy of a prompt set for evaluation (typos, dropped
words, casing, whitespace, label style; option order, option symbols, k-shot; or CircularEval rotations), through
:mod:`paft_ext.pools.perturb` — seeded, placeholders kept, never over a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from paft_ext.tasks import TASKS, TaskSpec, get_task


def _training_examples(task: TaskSpec, seed: int, count: int = 200) -> list[tuple[dict[str, str], str]]:
    """Solved records of the task's training split for k-shot variants ((fields, gold letter) each; a seeded
    subset): never its evaluation split, so no scored question is shown solved."""
    from paft_ext.benchmark_data.source import load_records

    records = load_records(task, "train", max_samples=count, seed=seed)
    return [({f: r.values[f] for f in task.fields}, r.values["answer"]) for r in records]


def _cmd_pools_perturb(args: argparse.Namespace) -> None:
    from paft_ext.pools.perturb import PerturbError, perturb_pool
    from paft_ext.pools.store import PoolError, load_pool, write_pool

    task, out = get_task(args.task), Path(args.out)
    if out.exists():
        raise PoolError(f"{out} exists; choose another --out (a perturbed set is never written over a file)")
    source = load_pool(args.source, task.fields)
    if args.circular:
        from paft_ext.pools.option_order import rotations

        if args.mixed:
            raise PerturbError("--circular and --mixed exclude each other (rotations are one set, --mixed another)")
        if not task.options:
            raise PerturbError(f"task {task.name} has no options to rotate")
        prompts, skipped = rotations(source, task.options, task.choices), {}
    else:
        if args.shots < 1:
            raise PerturbError(f"--shots must be at least 1, got {args.shots}")
        examples = _training_examples(task, args.seed) if "kshot" in args.kinds and task.options else []
        result = perturb_pool(source, task.fields, args.kinds, args.seed, options=task.options,
                              letters=task.choices, mixed=args.mixed, examples=examples, shots=args.shots)
        prompts, skipped = result.prompts, result.skipped
    if not prompts:
        raise PerturbError(f"none of {', '.join(args.kinds)} changes any of the {len(source)} prompts of "
                           f"{args.source}; nothing written")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_pool(out, prompts)
    print(json.dumps({"written": len(prompts), "nothing_to_change": skipped, "out": str(out)}))


def add_perturb_command(pools: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    perturb = pools.add_parser("perturb", parents=parents,
                               help="a perturbed copy of a prompt set (typos, dropped words, casing, whitespace, "
                                    "option-label style; option order, symbols, k-shot), placeholders kept; seeded")
    perturb.add_argument("--task", required=True, choices=list(TASKS))
    perturb.add_argument("--from", dest="source", required=True, help="pool file, e.g. data/prompts/piqa/test.jsonl")
    perturb.add_argument("--out", required=True, help="new pool file (evaluate with --prompt-set <file>)")
    perturb.add_argument("--kinds", nargs="+", default=["typo", "word_drop", "casing", "whitespace", "label_style"],
                         help="also, for structure: option_order (a seeded other order of the options), symbols "
                              "(options labelled 1/2/… or a/b/…), kshot (--shots solved training records first); "
                              "answers are mapped back to the original options when scored")
    perturb.add_argument("--shots", type=int, default=2, help="solved examples per kshot variant (default 2)")
    perturb.add_argument("--circular", action="store_true",
                         help="instead: every cyclic rotation of each prompt's options, for CircularEval in the report")
    perturb.add_argument("--mixed", action="store_true",
                         help="one variant per prompt, the kinds taken in turn (a set as large as its source)")
    perturb.add_argument("--seed", type=int, default=0)
    perturb.set_defaults(func=_cmd_pools_perturb)
