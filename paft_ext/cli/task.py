"""``paft-ext task``: a task of your own in one YAML file (:mod:`paft_ext.tasks.task_file`) — a commented starter
and a check that shows how its records are prompted."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from paft_ext.tasks import TaskFileError, register_task_file

# what `task init` writes: a commented starter ({file} and {name} filled in)
STARTER = '''# A PAFT task (paft-ext task init). Register it with --task-file {file} or PAFT_TASK_FILES={file}.
# Keys: paft_ext/tasks/task_file.py. Paths are relative to this file.
name: {name}
title: My task
description: What the model has to do, in one sentence (shown to prompt-writing models).
data:
  train: {{file: train.jsonl}}        # JSON lines or .csv; start/stop/order_seed cut a seeded range
  eval: {{file: eval.jsonl}}
fields:                              # placeholder: column of a record
  text: {{column: text, role: the input text}}
answer:
  kind: label                        # choice (options + gold letter/index/text) | label | number
  column: label
  labels: {{negative: negative, positive: positive}}
prompt: "Classify the text. Answer with A or B.\\nText: {{text}}\\nA. {{A}}\\nB. {{B}}\\nAnswer:"
top_threshold: 0.85
pool: prompts                        # `paft-ext pools compose --task-file {file} --task {name}` builds it (with parts:)
'''


def _cmd_task_init(args: argparse.Namespace) -> None:
    from paft_ext.tasks.task_file import NAME

    path = Path(args.file)
    if path.exists():
        raise TaskFileError(f"{path}: exists; task init never writes over a file")
    name = args.name or re.sub(r"[^a-z0-9_]", "_", path.stem.lower())
    if not NAME.fullmatch(name):
        raise TaskFileError(f"{path}: {name!r} is no task name (a lower-case identifier); pass --name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER.format(file=path, name=name), encoding="utf-8")
    print(f"wrote {path}: fill in data, fields, answer and prompt, then: paft-ext task show {path}")


def _cmd_task_show(args: argparse.Namespace) -> None:
    from paft_ext.benchmark_data.source import load_records

    task = register_task_file(args.file)
    print(json.dumps({"name": task.name, "fields": list(task.fields), "answer_kind": task.answer_kind,
                      "options": task.choices, "pool": task.pool_dir, "pool_built": task.pool_shipped,
                      "splits": {w: s.describe() for w, s in task.splits.items()}}, indent=1))
    for which in task.splits:
        records = load_records(task, which)
        print(f"{which}: {len(records)} records; first, as the fixed prompt renders it ({records[0].origin}):")
        print(task.fill(task.baseline_prompt, records[0].values) + f" {task.target_text(records[0].values)}")


def add_task_commands(subparsers: argparse._SubParsersAction) -> None:
    """``task init`` and ``task show`` under the ``paft-ext`` command line."""
    parser = subparsers.add_parser("task", help="a task of your own in one YAML file")
    task = parser.add_subparsers(dest="task_command", required=True)
    init = task.add_parser("init", help="write a commented starter task file")
    init.add_argument("file")
    init.add_argument("--name", help="task name (default: the file name)")
    init.set_defaults(func=_cmd_task_init)
    show = task.add_parser("show", help="check a task file and show its first record of each split")
    show.add_argument("file")
    show.set_defaults(func=_cmd_task_show)
