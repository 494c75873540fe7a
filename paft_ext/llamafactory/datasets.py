"""Which datasets of a run are PAFT datasets, and their placeholder fields, read from ``dataset_info.json``.

LLaMA-Factory's ``DatasetAttr`` keeps only the dataset_info keys it knows, so an entry's ``paft`` block (``task`` or
``fields``) never reaches its data pipeline. It is read here once per run, at argument parsing, and the converter
looks its dataset up by the ``DatasetAttr`` LLaMA-Factory builds from the same entry (no loader function wrapped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paft_ext.core.artefacts import META_FILE
from paft_ext.core.config import split_paft_flags, split_paft_keys
from paft_ext.core.run_state import PaftSetupError

from .aligned_rows import dataset_fields


def _names(value: Any) -> list[str]:
    """A ``dataset``/``eval_dataset`` value as LLaMA-Factory splits it (comma-separated string or list)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _info(dataset_dir: Any) -> dict | None:
    """The dataset_info mapping of a local ``dataset_dir`` (None: online/remote or no file, nothing PAFT there)."""
    if isinstance(dataset_dir, dict):
        return dataset_dir
    if dataset_dir == "ONLINE" or str(dataset_dir).startswith("REMOTE:"):
        return None
    path = Path(dataset_dir) / "dataset_info.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # LLaMA-Factory reports an unreadable dataset_info.json itself


def paft_blocks(names: list[str], dataset_dir: Any) -> dict[str, dict]:
    """The ``paft`` block of every named entry that is a PAFT dataset; an entry with only one of formatting
    ``paft`` and a ``paft`` block is refused (it would train without PAFT or fail later without saying why)."""
    info = _info(dataset_dir) or {}
    blocks = {}
    for name in names:
        entry = info.get(name)
        if not isinstance(entry, dict):
            continue
        block, formatting = entry.get("paft"), entry.get("formatting", "alpaca")
        if formatting == "paft" and block is None:
            raise PaftSetupError(f"dataset_info.json: {name} has formatting 'paft' but no 'paft' block")
        if block is not None and formatting != "paft":
            raise PaftSetupError(f"dataset_info.json: {name} has a 'paft' block but formatting {formatting!r}; set "
                                 f"\"formatting\": \"paft\"")
        if block is not None:
            blocks[name] = block
    return blocks


def run_datasets(data_args: Any) -> list[tuple[Any, tuple[str, ...]]]:
    """(``DatasetAttr``, fields) of the run's PAFT datasets (train and eval), as LLaMA-Factory will build them."""
    from llamafactory.data.parser import get_dataset_list

    names = list(dict.fromkeys([*(data_args.dataset or []), *(data_args.eval_dataset or [])]))
    blocks = paft_blocks(names, data_args.dataset_dir)
    if not blocks:
        return []
    found: list[tuple[Any, tuple[str, ...]]] = []
    for name, attr in zip(blocks, get_dataset_list(list(blocks), data_args.dataset_dir), strict=True):
        fields = dataset_fields(blocks[name], name)
        clash = [f for a, f in found if a == attr and f != fields]
        if clash:
            raise PaftSetupError(f"dataset_info.json: {name} reads the same data as another PAFT entry of this run "
                                 f"with other fields ({list(fields)} vs {list(clash[0])}); use one entry")
        found.append((attr, fields))
    wanted = data_args.dataset or []
    trained = {name: fields for name, (_, fields) in zip(blocks, found, strict=True) if name in wanted}
    if len(set(trained.values())) > 1:  # one pool renders one set of fields: the others would keep {placeholders}
        raise PaftSetupError("dataset: the PAFT datasets " + ", ".join(f"{n} ({', '.join(f)})" for n, f in
                             trained.items()) + " have different fields, and one paft_pool renders one task; train "
                             "them in separate runs")
    return found


def _raw(args: Any, key: str) -> Any:
    """One key of unparsed run arguments (a dict, or CLI flags ``--key value`` / ``--key=value``)."""
    if isinstance(args, dict):
        return args.get(key)
    flags = [str(a) for a in args or []]
    for i, flag in enumerate(flags):
        if flag.startswith(f"--{key}="):
            return flag.split("=", 1)[1]
        if flag == f"--{key}" and i + 1 < len(flags):
            return flags[i + 1]
    return None


def has_paft_keys(args: Any) -> bool:
    """Whether unparsed run arguments (a dict or CLI flags) set any ``paft_*`` key, found by the same splitters the
    argument parser wrapper takes them out with."""
    _, values = split_paft_keys(args) if isinstance(args, dict) else split_paft_flags([str(a) for a in args or []])
    return bool(values)


def paft_requested(args: Any) -> bool:
    """Whether a run touches PAFT: a ``paft_*`` key, a PAFT dataset, or a ``tokenized_path`` a PAFT run built.
    Only such runs get the hook; any other run sees LLaMA-Factory untouched."""
    if has_paft_keys(args):
        return True
    tokenized = _raw(args, "tokenized_path")
    if tokenized and (Path(tokenized) / META_FILE).is_file():
        return True
    names = _names(_raw(args, "dataset")) + _names(_raw(args, "eval_dataset"))
    return bool(names) and bool(paft_blocks(names, _raw(args, "dataset_dir") or "data"))
