"""The task registry: one module per built-in benchmark, one :class:`TaskSpec` each (lm-evaluation-harness style),
plus the tasks of the user's task files (:mod:`.task_file`), registered from ``PAFT_TASK_FILES`` at import (so that
OpenCompass's and LLaMA-Factory's processes see them too) or by ``--task-file``."""

from __future__ import annotations

import os
from pathlib import Path

from . import gsm8k, hellaswag, piqa, race, sciq, sst2, winogrande
from .spec import PLACEHOLDER, HubSource, SplitSource, TaskSpec, fill_template, jsonl_eval_file
from .task_file import TaskFileError, read_task_file

TASK_FILES_ENV = "PAFT_TASK_FILES"

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (hellaswag.TASK, piqa.TASK, winogrande.TASK, race.MIDDLE, race.HIGH, gsm8k.TASK, sst2.TASK, sciq.TASK)
}


def get_task(name: str) -> TaskSpec:
    """The registered task ``name``; a typo gets the list of known names."""
    try:
        return TASKS[name]
    except KeyError:
        broken = f"; {TASK_FILES_ENV} has a file that could not be read: {TASK_FILE_ERRORS[0]}" if TASK_FILE_ERRORS \
            else ""
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)} (a task of your own: pass its "
                       f"--task-file, or list it in {TASK_FILES_ENV}){broken}") from None


def register_task_file(path: str | Path) -> TaskSpec:
    """Read one task file and add its task to :data:`TASKS` and to ``PAFT_TASK_FILES`` (for child processes). The same
    file twice is one task; a name taken by a built-in task or by another file is an error."""
    task = read_task_file(path)
    known = TASKS.get(task.name)
    if known is not None and known.task_file != task.task_file:
        where = known.task_file or "a built-in task"
        raise TaskFileError(f"{task.task_file}: name: {task.name!r} is already {where}; choose another name")
    TASKS[task.name] = task
    listed = [p for p in os.environ.get(TASK_FILES_ENV, "").split(os.pathsep) if p]
    if task.task_file not in [str(Path(p).expanduser().resolve()) for p in listed]:
        os.environ[TASK_FILES_ENV] = os.pathsep.join([*listed, str(task.task_file)])
    return task


# Files listed in the environment that could not be read. Importing the registry must not fail on one (every
# command, --help included, imports it): the CLI reports the first as its error, get_task names it for a missing task.
TASK_FILE_ERRORS: list[str] = []
for _path in [p for p in os.environ.get(TASK_FILES_ENV, "").split(os.pathsep) if p]:
    try:
        register_task_file(_path)
    except (TaskFileError, OSError, ValueError) as _err:
        TASK_FILE_ERRORS.append(f"{TASK_FILES_ENV}: {_err}")

__all__ = ["PLACEHOLDER", "TASK_FILE_ERRORS", "TASKS", "TASK_FILES_ENV", "HubSource", "SplitSource", "TaskFileError",
           "TaskSpec", "fill_template", "get_task", "jsonl_eval_file", "register_task_file"]
