"""GRPO prompts from the same prepared data as SFT: the dataset_info entry's rows, rendered in schedule order.

SFT trains on a response; GRPO samples one and scores it, so it needs what the SFT file has beyond prompt and
response: the raw placeholder fields (to render pool prompts) and the gold ``answer`` (to score). Only a PAFT entry
(``"formatting": "paft"``) naming a registered task (whose extractor scores answers) carries both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paft_ext.core.artefacts import prompt_id
from paft_ext.core.schedule import CANONICAL, Schedule
from paft_ext.core.structure import effective_symbols, render_with_shots
from paft_ext.data_files import read_jsonl
from paft_ext.pools.store import Prompt, write_pool
from paft_ext.tasks import TASKS, TaskFileError, TaskSpec, fill_template, get_task, register_task_file

from .config import RLConfigError

POSITION_COLUMN, PROMPT_COLUMN = "paft_position", "paft_prompt_id"
SYMBOLS_COLUMN = "symbols"  # with structure draws: the option symbols a row's prompt shows (the rewards' options)


def dataset_task(dataset_dir: str, name: str) -> tuple[TaskSpec, Path]:
    """The task and data file of dataset_info entry ``name``; anything but an SFT-style PAFT entry of a registered
    task is refused with the reason."""
    info_path = Path(dataset_dir) / "dataset_info.json"
    if not info_path.is_file():
        raise RLConfigError(f"{info_path}: not found (run `paft-ext prepare --tasks <task>` or set dataset_dir)")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RLConfigError(f"{info_path}: not readable JSON ({err})") from None
    entry = info.get(name)
    if not isinstance(entry, dict):
        raise RLConfigError(f"{info_path}: no dataset {name!r}; entries: {', '.join(sorted(info))}")
    where = f"{info_path}: {name}"
    if entry.get("ranking") or entry.get("formatting", "alpaca") not in ("alpaca", "paft") or "file_name" not in entry:
        raise RLConfigError(f"{where} is not an SFT-style dataset (ranking/sharegpt/remote entries have no task "
                            f"fields and gold answers); use the task's <task>_paft entry from `paft-ext prepare`")
    block = entry.get("paft")
    if entry.get("formatting") != "paft" or not isinstance(block, dict):
        raise RLConfigError(f"{where} is a fixed-prompt entry without a 'paft' block; GRPO renders pool prompts from "
                            f"the raw fields, so use the <task>_paft entry")
    if "task" not in block:
        raise RLConfigError(f"{where}.paft names fields but no task; GRPO scores answers with a registered task's "
                            f"extractor, so the block needs \"task\": <name>")
    try:
        if isinstance(block.get("task_file"), str) and block["task"] not in TASKS:  # a task of the user's task file
            register_task_file(block["task_file"])
        task = get_task(block["task"])
    except TaskFileError as err:
        raise RLConfigError(f"{where}.paft.task_file: {err}") from None
    except KeyError as err:
        raise RLConfigError(f"{where}.paft.task: {err.args[0]}") from None
    return task, Path(dataset_dir) / entry["file_name"]


def read_rows(task: TaskSpec, path: Path, max_samples: int | None) -> list[dict[str, str]]:
    """The first ``max_samples`` rows (the prepared file is in seeded random order), each with the task's fields
    and a gold answer, checked line by line."""
    if not path.is_file():
        raise RLConfigError(f"{path}: the dataset file is missing (run `paft-ext prepare`)")
    rows = []
    for lineno, row in read_jsonl(path, RLConfigError):
        bad = [k for k in (*task.fields, "answer") if not isinstance(row.get(k), str)]
        if bad:
            raise RLConfigError(f"{path}:{lineno}: row lacks string field(s) {', '.join(bad)}")
        if task.answer_kind == "choice" and row["answer"] not in task.choices:
            raise RLConfigError(f"{path}:{lineno}: answer {row['answer']!r} is not one of {task.choices}")
        rows.append({k: row[k] for k in (*task.fields, "answer")})
        if max_samples is not None and len(rows) == max_samples:
            break
    if not rows:
        raise RLConfigError(f"{path}: no rows")
    return rows


def fixed_pool(task: TaskSpec, output_dir: str) -> Path:
    """The fixed-prompt baseline's pool: the task's user-specified prompt alone, written into the run's folder."""
    path = Path(output_dir) / "paft_fixed_pool.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"the task's user-specified prompt ({task.name})"
    write_pool(path, [Prompt("user-specified", task.baseline_prompt, source)])
    return path


def grpo_rows(task: TaskSpec, rows: Sequence[dict[str, str]], schedule: Schedule, pool: Sequence[Prompt],
              system: str | None) -> list[dict[str, Any]]:
    """One conversational GRPO prompt per schedule position (TRL repeats each into its group of completions), with
    the gold answer and the position and prompt id for tracing. With structure draws the prompt shows the window's
    option order, symbols and shots, the gold is the symbol next to the correct option, and ``symbols`` (the
    symbols shown) is what the rewards extract from (:mod:`.rewards`)."""
    out = []
    structure = schedule.structure
    for position, (row, prompt) in enumerate(zip(schedule.order.tolist(), schedule.prompt_index.tolist(),
                                                 strict=True)):
        record = rows[row]
        template = task.baseline_prompt if prompt == CANONICAL else pool[prompt].text
        user, answer = fill_template(template, {f: record[f] for f in task.fields}), record["answer"]
        extra = {}
        if structure is not None:
            drawn = structure.at(position)
            if prompt != CANONICAL:
                shots = [({f: rows[r][f] for f in task.fields}, rows[r]["answer"])
                         for r in structure.examples[position].tolist()]
                user, answer = render_with_shots(template, {f: record[f] for f in task.fields}, answer, shots,
                                                 task.options, task.choices, drawn)
            extra = {SYMBOLS_COLUMN: effective_symbols(template, task.choices, drawn)}
        messages = ([{"role": "system", "content": system}] if system is not None else []) + [
            {"role": "user", "content": user}]
        out.append({"prompt": messages, "answer": answer, POSITION_COLUMN: position,
                    PROMPT_COLUMN: prompt_id(pool, prompt), **extra})
    return out
