"""``paft-ext prepare`` (benchmark records for LLaMA-Factory and OpenCompass) and ``paft-ext model`` (the embedded
default model)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paft_ext import default_model
from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.tasks import TASKS, get_task


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


def add_data_commands(sub: argparse._SubParsersAction, tf: list[argparse.ArgumentParser]) -> None:
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
