"""Reading raw benchmark records: from a local data root, or from the Hugging Face Hub for real users.

The data root is ``$PAFT_DATA_ROOT``; unset, it is ``../shared/data`` beside the repository when that exists, and
otherwise the Hub is used. Local files hold one JSON record per line in the original layout, so the task converters
see the same fields either way. Every problem with a record names its file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paft_ext.data_files import read_csv, read_jsonl
from paft_ext.paths import SHARED_DATA
from paft_ext.tasks import TaskSpec

DEFAULT_LOCAL_ROOT = SHARED_DATA


class DataError(ValueError):
    """A raw record or data file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Record:
    """One converted record: the task's placeholder fields plus ``answer`` (and ``solution`` for GSM8K)."""

    values: dict[str, str]
    origin: str  # "<file>:<line>" or "<hub id>/<split>#<row>"


def data_root() -> Path | None:
    """The local data root, or None to read from the Hub."""
    env = os.environ.get("PAFT_DATA_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not root.is_dir():
            raise DataError(f"PAFT_DATA_ROOT={env!r} is not a directory")
        return root
    return DEFAULT_LOCAL_ROOT if DEFAULT_LOCAL_ROOT.is_dir() else None


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line; a broken line raises :class:`DataError` naming it."""
    for lineno, record in read_jsonl(path, DataError):
        if not isinstance(record, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
        yield lineno, record


def _convert(task: TaskSpec, raw: dict[str, Any], where: str) -> Record:
    missing = [key for key in task.required_raw_keys if key not in raw]
    if missing:
        raise DataError(f"{where}: {task.name} record lacks {', '.join(missing)}")
    try:
        values = task.convert(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(f"{where}: bad {task.name} record: {err}") from None
    bad = [k for k in (*task.fields, "answer") if not isinstance(values.get(k), str)]
    if bad:
        raise DataError(f"{where}: {task.name} fields {', '.join(bad)} are not strings")
    empty = [k for k in (*task.fields, "answer") if k not in task.optional_fields and not values[k].strip()]
    if empty:
        raise DataError(f"{where}: {task.name} field(s) {', '.join(empty)} are empty")
    return Record(values, where)


def _local_raw(task: TaskSpec, root: Path, split: str) -> list[tuple[str, dict[str, Any]]]:
    path = root / task.data_subdir / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: missing (task {task.name}, split {split!r}, data root {root})")
    return _file_raw(path)


def _file_raw(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: missing")
    if path.suffix == ".csv":
        return read_csv(path, DataError)
    return [(f"{path}:{lineno}", raw) for lineno, raw in read_records(path)]


def _hub_raw(task: TaskSpec, split: str) -> list[tuple[str, dict[str, Any]]]:
    from datasets import load_dataset

    rows = load_dataset(task.hub.path, task.hub.name, split=split)
    return [(f"{task.hub.path}/{split}#{index}", dict(row)) for index, row in enumerate(rows)]


def load_records(
    task: TaskSpec,
    which: str,
    *,
    root: Path | None = None,
    max_samples: int | None = None,
    seed: int = 0,
    shuffle: bool = False,
) -> list[Record]:
    """The converted records of ``which`` ('train' or 'eval') for ``task``.

    ``max_samples`` keeps a seeded random subset, never the first N rows: in original order, or with ``shuffle`` in a
    seeded random order (so that LLaMA-Factory's first-N ``max_samples`` on the written file is a random subset too).
    """
    if which not in task.splits:
        raise KeyError(f"task {task.name} has no {which!r} split; it has {', '.join(task.splits)}")
    root = data_root() if root is None else root
    source = task.splits[which]
    if source.file:  # a task file's own data: the data root is not involved
        raw = _file_raw(Path(source.file))
    elif root is not None and task.data_subdir:
        raw = _local_raw(task, root, source.split)
    else:
        source = task.hub.splits.get(which, task.splits[which])
        raw = _hub_raw(task, source.split)
    if source.order_seed is not None:
        raw = [raw[i] for i in np.random.default_rng(source.order_seed).permutation(len(raw))]
    raw = raw[source.start : source.stop]
    if not raw:
        raise DataError(f"task {task.name}: the {which} split ({source.describe()}) holds no records")
    rng = np.random.default_rng(seed)
    if shuffle:
        raw = [raw[i] for i in rng.permutation(len(raw))[:max_samples]]
    elif max_samples is not None and max_samples < len(raw):
        raw = [raw[i] for i in np.sort(rng.choice(len(raw), size=max_samples, replace=False))]
    return [_convert(task, item, where) for where, item in raw]


def refuse_overlap(task: TaskSpec, root: Path | None = None) -> None:
    """A task file's train and eval splits must not share a record: evaluating on training records would read
    memory as skill. Compared record by record (the same file line, or the same converted fields), not by range
    arithmetic, so two seeded cuts of one file, or one file named twice, are caught."""
    def content(record: Record) -> str:
        return json.dumps(record.values, sort_keys=True)

    train, evaluation = (load_records(task, which, root=root) for which in ("train", "eval"))
    by_origin, by_content = {r.origin: r for r in train}, {content(r): r for r in train}
    pairs = [(by_origin.get(r.origin) or by_content.get(content(r)), r) for r in evaluation]
    shared = [(t, e) for t, e in pairs if t is not None]
    if shared:
        first_train, first_eval = shared[0]
        raise DataError(f"task {task.name} ({task.task_file}): {len(shared)} eval record(s) are also training "
                        f"records, e.g. {first_eval.origin} = {first_train.origin}; make data.train and data.eval "
                        f"disjoint (other files, or start/stop ranges of the same order_seed)")
