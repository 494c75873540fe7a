"""``paft-ext``: the command line of the extension, one module per command group (data, pools, evaluation, rl,
task); this module assembles them and turns the errors that name bad input into a one-line exit."""

from __future__ import annotations

import argparse
import subprocess
import sys

from paft_ext.tasks import TASK_FILE_ERRORS, TaskFileError, register_task_file

from .data import add_data_commands
from .evaluation import add_evaluation_commands
from .pools import add_pool_commands
from .rl import add_rl_command
from .task import add_task_commands


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
    add_data_commands(sub, tf)
    add_pool_commands(sub, tf)
    add_evaluation_commands(sub, tf)
    add_rl_command(sub, tf)
    add_task_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    from paft_ext.benchmark_data.source import DataError
    from paft_ext.configs.task_configs import ConfigWriteError
    from paft_ext.core.run_state import PaftSetupError
    from paft_ext.evaluation.prompt_sets import PromptSetError
    from paft_ext.pools.build import PoolBuildError
    from paft_ext.pools.generation_config import GenerationError
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
