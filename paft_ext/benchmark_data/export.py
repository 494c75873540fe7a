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

from paft_ext.data_files import write_lines
from paft_ext.tasks import TaskSpec

from .source import DataError, Record, data_root, load_records, refuse_overlap

LF_DIR = "llamafactory"
OC_DIR = "opencompass"


@dataclass(frozen=True)
class PrepareConfig:
    """What to convert. ``None`` sample counts keep the whole split; others take a seeded random subset. Training
    records are written in a seeded random order, so a YAML's ``max_samples: N`` selects a random subset as well."""

    train_samples: int | None = None
    eval_samples: int | None = None
    seed: int = 0
    strict_sizes: bool = False  # refuse a data root that holds fewer rows than asked (instead of a warning)


def size_warnings(task: TaskSpec, config: PrepareConfig, train: int, evaluation: int) -> list[str]:
    """What the data root holds less of than the run asks: training rows below ``train_samples``, evaluation items
    below ``eval_samples`` or, with all items asked, below the benchmark's own evaluation split."""
    found = []
    if config.train_samples is not None and train < config.train_samples:
        found.append(f"{task.name}: {train} training rows, {config.train_samples} asked")
    wanted = config.eval_samples if config.eval_samples is not None else task.benchmark_eval_size
    if wanted is not None and evaluation < wanted:
        which = "asked" if config.eval_samples is not None else "in the benchmark's evaluation split"
        found.append(f"{task.name}: {evaluation} evaluation items, {wanted} {which}")
    return found


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
    manifest: dict = {"data_root": str(root) if root else "huggingface-hub", **asdict(config), "tasks": {},
                      "short": []}
    lf_dir = out / LF_DIR
    entries = {}
    loaded = []
    for task in tasks:  # every task read and checked before anything is written
        if task.task_file:
            refuse_overlap(task, root)
        train = load_records(task, "train", root=root, max_samples=config.train_samples, seed=config.seed,
                             shuffle=True)
        evaluation = load_records(task, "eval", root=root, max_samples=config.eval_samples, seed=config.seed)
        manifest["short"] += size_warnings(task, config, len(train), len(evaluation))
        loaded.append((task, train, evaluation))
    if manifest["short"] and config.strict_sizes:
        raise DataError(f"the data root ({root or 'the Hub'}) holds less than asked: {'; '.join(manifest['short'])} "
                        "(strict sizes)")
    for task, train, evaluation in loaded:
        write_lines(lf_dir / f"{lf_dataset_name(task)}.jsonl", _jsonl(llamafactory_rows(task, train)))
        entries.update(llamafactory_entries(task))
        for rel, rows in task.opencompass_files([r.values for r in train], [r.values for r in evaluation]).items():
            write_lines(out / OC_DIR / "data" / rel, _jsonl(rows))
        manifest["tasks"][task.name] = {
            "train": {"split": task.splits["train"].describe(), "records": len(train),
                      "requested": config.train_samples},
            "eval": {"split": task.splits["eval"].describe(), "records": len(evaluation),
                     "requested": config.eval_samples, "benchmark_eval_size": task.benchmark_eval_size},
        }
    update_dataset_info(lf_dir, entries)
    write_lines(out / "prepare_manifest.json", [json.dumps(manifest, indent=2)])
    return manifest
