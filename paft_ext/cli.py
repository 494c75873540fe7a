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
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
