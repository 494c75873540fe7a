"""``paft-ext pools import``: templates written elsewhere (the PAFT authors' xlsx sheets, CSV or JSON lines) into a
pool file, through :mod:`paft_ext.pools.importer` — validated, de-duplicated, with provenance, never over a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from paft_ext.tasks import TASKS, get_task


def _cmd_pools_import(args: argparse.Namespace) -> None:
    from paft_ext.pools.importer import import_templates, parse_mapping, read_templates, rejects_text, write_rejects
    from paft_ext.pools.store import PoolError, write_pool

    task, out = get_task(args.task), Path(args.out)
    if out.exists():
        raise PoolError(f"{out} exists; pools import never writes over a file")
    if out.suffix != ".jsonl":
        raise PoolError(f"{out}: a pool file is .jsonl")
    result = import_templates(read_templates(Path(args.source), args.column), task, parse_mapping(args.map, task),
                              args.note)
    if result.rejects and not args.skip_invalid:
        raise PoolError(f"{args.source}: {len(result.rejects)} template(s) cannot be used for {task.name} (nothing "
                        f"written; --skip-invalid imports the rest and writes these beside the pool):\n"
                        f"{rejects_text(result)}")
    if not result.prompts:
        raise PoolError(f"{args.source}: no usable template for {task.name}; nothing written")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_pool(out, result.prompts)
    if result.rejects:
        write_rejects(out.with_name(f"{out.stem}_rejects.jsonl"), result)
    print(json.dumps({"written": len(result.prompts), "rejected": len(result.rejects),
                      "duplicates_dropped": result.duplicates, "empty_rows": result.empty, "out": str(out)}))
    if (out.parent / "train.jsonl").is_file() and out.stem.startswith("test"):
        _report_leakage(out.parent, task)


def _report_leakage(folder: Path, task) -> None:
    """An imported test set beside a train pool: the same leakage check as ``pools check`` (reported, the import
    stands: the user decides whether a set that shares sentences with training is the comparison they want)."""
    from paft_ext.pools.leakage import check_pool

    stats, problems = check_pool(folder, task)
    print(json.dumps({name: value for name, value in stats.items() if name != "targets"}))
    if problems:
        print(f"paft-ext: warning: {folder}: {len(problems)} leakage problem(s) between the test sets and train.jsonl "
              f"(e.g. {problems[0]}); these prompts are not unseen in this project's sense (paft-ext pools check)")


def add_import_command(pools: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = pools.add_parser("import", parents=parents,
                              help="templates from an xlsx (the PAFT authors' pools), CSV or JSONL into a pool file")
    parser.add_argument("--task", required=True, choices=list(TASKS))
    parser.add_argument("--from", dest="source", required=True, help="a .xlsx, .csv or .jsonl file of templates")
    parser.add_argument("--out", required=True, help="the pool file to write, e.g. outputs/authors/piqa/train.jsonl")
    parser.add_argument("--column", default="text", help="the column (xlsx/CSV header, JSONL key) holding templates")
    parser.add_argument("--map", action="append", default=[], metavar="NAME=FIELD",
                        help="rename placeholder {NAME} to the task's {FIELD} (repeatable)")
    parser.add_argument("--note", default="", help="provenance note recorded with every prompt")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="import the usable templates and write the others to <out>_rejects.jsonl")
    parser.set_defaults(func=_cmd_pools_import)
