"""Writing converted records where the two tools read them.

* LLaMA-Factory: ``<out>/llamafactory/<task>_train.jsonl`` plus ``dataset_info.json``. Each row keeps the task's raw
  placeholder fields (the PAFT hook re-renders them with pool prompts), the filled user-specified prompt as
  ``instruction`` and the target as ``output``.
* OpenCompass: ``<out>/opencompass/data/...`` in the layouts of the stock 0.5.4 loaders, so the stock configs run
  unchanged with ``COMPASS_DATA_CACHE=<out>/opencompass``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from paft_ext.jsonl import write_lines
from paft_ext.tasks import TaskSpec

from .source import Record, data_root, load_records, refuse_overlap

LF_DIR = "llamafactory"
OC_DIR = "opencompass"


@dataclass(frozen=True)
class PrepareConfig:
    """What to convert. ``None`` sample counts keep the whole split; others take a seeded random subset. Training
    records are written in a seeded random order, so a YAML's ``max_samples: N`` selects a random subset as well."""

    train_samples: int | None = None
    eval_samples: int | None = None
    seed: int = 0


def _jsonl(rows: list) -> list[str]:
    return [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]


def lf_dataset_name(task: TaskSpec, paft: bool = False) -> str:
    return f"{task.name}_{'paft' if paft else 'train'}"


def llamafactory_rows(task: TaskSpec, records: list[Record]) -> list[dict[str, str]]:
    """Rows for LLaMA-Factory: raw fields + answer, the filled baseline prompt and the supervised target."""
    return [
        {**r.values, "instruction": task.fill(task.baseline_prompt, r.values), "output": task.target_text(r.values)}
        for r in records
    ]


def llamafactory_entries(task: TaskSpec) -> dict[str, dict]:
    """The ``dataset_info.json`` entries over one file: ``<task>_train`` (stock alpaca, the fixed user-specified
    prompt) and ``<task>_paft`` (the PAFT converter, which also carries the raw fields for re-rendering). A task-file
    task's block also names its fields (so ``llamafactory-cli`` trains it without ``PAFT_TASK_FILES``) and its file
    (so ``paft-ext rl`` registers it to score answers)."""
    base = {"file_name": f"{lf_dataset_name(task)}.jsonl", "columns": {"prompt": "instruction", "response": "output"}}
    paft = {"task": task.name, **({"fields": list(task.fields), "task_file": task.task_file} if task.task_file else {})}
    return {
        lf_dataset_name(task): {**base, "formatting": "alpaca"},
        lf_dataset_name(task, paft=True): {**base, "formatting": "paft", "paft": paft},
    }


def update_dataset_info(lf_dir: Path, entries: dict[str, dict]) -> None:
    """Merge ``entries`` into ``dataset_info.json`` (other datasets a user keeps there survive)."""
    path = lf_dir / "dataset_info.json"
    info = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    info.update(entries)
    write_lines(path, [json.dumps(info, indent=2, ensure_ascii=False)])


def prepare(tasks: list[TaskSpec], out: Path, config: PrepareConfig = PrepareConfig()) -> dict:
    """Convert ``tasks`` into both tools' files under ``out``; returns (and writes) a manifest."""
    root = data_root()
    manifest: dict = {"data_root": str(root) if root else "huggingface-hub", **asdict(config), "tasks": {}}
    lf_dir = out / LF_DIR
    entries = {}
    for task in tasks:
        if task.task_file:
            refuse_overlap(task, root)
        train = load_records(task, "train", root=root, max_samples=config.train_samples, seed=config.seed,
                             shuffle=True)
        evaluation = load_records(task, "eval", root=root, max_samples=config.eval_samples, seed=config.seed)
        write_lines(lf_dir / f"{lf_dataset_name(task)}.jsonl", _jsonl(llamafactory_rows(task, train)))
        entries.update(llamafactory_entries(task))
        for rel, rows in task.opencompass_files([r.values for r in train], [r.values for r in evaluation]).items():
            write_lines(out / OC_DIR / "data" / rel, _jsonl(rows))
        manifest["tasks"][task.name] = {
            "train": {"split": task.splits["train"].describe(), "records": len(train)},
            "eval": {"split": task.splits["eval"].describe(), "records": len(evaluation)},
        }
    update_dataset_info(lf_dir, entries)
    write_lines(out / "prepare_manifest.json", [json.dumps(manifest, indent=2)])
    return manifest
