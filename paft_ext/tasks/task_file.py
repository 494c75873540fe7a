"""A task described in one YAML file — the user's own data, no Python against internals.

``paft-ext task init my_task.yaml`` writes a commented starter; ``--task-file my_task.yaml`` (or
``PAFT_TASK_FILES=a.yaml:b.yaml``) registers it beside the built-in tasks, so ``prepare``, ``pools``, ``eval`` and
``report`` treat it like one. The spec (keys checked, every problem names the file and key)::

    name: reviews                      # lower-case identifier, not a built-in task's name
    title: Movie reviews
    description: one line for the meta-prompts that generate prompts
    data:                              # a JSONL or CSV file per split (paths relative to this file), or a Hub id
      train: {file: data.jsonl, start: 0, stop: 500, order_seed: 1}   # optional cut of a seeded permutation
      eval: {file: data.jsonl, start: 500, order_seed: 1}
      # hub: owner/name   (and hub_config:), then train: {split: train}
    fields:                            # placeholder -> column (dotted paths reach into nested records)
      review: {column: sentence, role: the review sentence}
    answer:
      kind: label                      # choice | label | number
      column: label
      labels: {0: negative, 1: positive}
    prompt: "Review: {review}\\nA. {A}\\nB. {B}\\nAnswer:"    # the fixed user-specified prompt
    top_threshold: 0.85
    pool: prompts                      # the prompt-pool folder (train.jsonl, test.jsonl, …), relative to this file
    parts: {train: {...}, test: {...}} # optional: hand-written parts for `paft-ext pools compose`

Answer kinds. ``choice``: ``options`` lists the columns holding the option texts (or names one column holding a list);
``column`` holds the gold as ``gold: letter`` (default), ``index`` (0-based, or ``index_base: 1``) or ``text``.
``label``: a closed label set; ``labels`` maps each raw value to its text, and the labels become the options A, B, …
in that order on every question, so the model answers with a letter and is scored like a choice task. ``number``:
``column`` holds the number, ``solution_column`` optionally a worked solution to train on. Option placeholders are
``{A}``, ``{B}``, …; the prompt must use every field and option placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paft_ext.core.keys import unknown_keys
from paft_ext.data_files import read_yaml
from paft_ext.pools.safety import unsafe_problems

from .answers import normalise_number
from .spec import HubSource, SplitSource, TaskSpec, jsonl_eval_files

LETTERS = "ABCDE"
NAME = re.compile(r"[a-z][a-z0-9_]*")
RESERVED = {"answer", "instruction", "output", "solution", *LETTERS}  # prepared-row columns and option fields
TOP_KEYS = {"name", "title", "description", "data", "fields", "answer", "prompt", "top_threshold", "pool", "parts"}
REQUIRED = ("name", "data", "fields", "answer", "prompt")
ANSWER_KEYS = {"choice": {"kind", "column", "options", "gold", "index_base"},
               "label": {"kind", "column", "labels"}, "number": {"kind", "column", "solution_column"}}
SIDE_KEYS = ("instructions", "contexts", "answer_lines")

# raw parts (side -> family -> texts) of the task files read so far, for `paft-ext pools compose`
TASK_PARTS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {}


class TaskFileError(ValueError):
    """A task file that cannot be used; the message names the file and key."""


class _Spec:
    """Typed access to one parsed task file, each failure naming ``<file>: <key>``."""

    def __init__(self, path: Path, raw: Any) -> None:
        self.path = path
        if not isinstance(raw, dict):
            self.fail("", f"expected a mapping of task keys, got {type(raw).__name__}")
        self.raw = raw

    def fail(self, key: str, why: str) -> None:
        raise TaskFileError(f"{self.path}: {key + ': ' if key else ''}{why}")

    def keys(self, value: Mapping, key: str, allowed: set[str], required: tuple[str, ...] = ()) -> None:
        problem = unknown_keys(value, allowed)
        if problem:
            self.fail(key, problem)
        for name in required:
            if name not in value:
                self.fail(f"{key}.{name}" if key else name, "missing")

    def mapping(self, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def texts(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(key, "expected a non-empty list of strings")
        return tuple(self.text(v, f"{key}[{k}]") if v != "" else "" for k, v in enumerate(value))


def _split(spec: _Spec, value: Any, key: str, hub: str | None) -> SplitSource:
    value = spec.mapping(value, key)
    spec.keys(value, key, {"file", "split", "start", "stop", "order_seed"})
    if ("file" in value) == ("split" in value):
        spec.fail(key, "give exactly one of file (a local JSONL/CSV) or split (of data.hub)")
    if "split" in value and not hub:
        spec.fail(f"{key}.split", "a Hub split needs data.hub")
    for name in ("start", "stop", "order_seed"):
        if name in value and (type(value[name]) is not int or value[name] < 0):
            spec.fail(f"{key}.{name}", f"expected a non-negative integer, got {value[name]!r}")
    file = None
    if "file" in value:
        path = (spec.path.parent / Path(spec.text(value["file"], f"{key}.file")).expanduser()).resolve()
        if path.suffix not in (".jsonl", ".csv"):
            spec.fail(f"{key}.file", f"{path.name}: expected a .jsonl or .csv file")
        if not path.is_file():
            spec.fail(f"{key}.file", f"{path}: not found")
        file = str(path)
    return SplitSource(value.get("split", Path(file or "").stem), value.get("start", 0), value.get("stop"),
                       value.get("order_seed"), file=file)


def _column(record: Mapping[str, Any], column: str) -> Any:
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"no column {column!r}")
        value = value[part]
    return value


def _raw_text(value: Any, column: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"column {column!r} must hold text, got {value!r}")
    return str(value).strip()


def _label_matches(value: Any, key: Any) -> bool:
    """Exact match in the key's own type (True is not 1, 1.0 is not 1); a CSV cell is text, so it matches the key's
    text ("1" for 1, "true" for True)."""
    if type(value) is type(key):
        return value == key
    return isinstance(value, str) and value.strip().lower() == str(key).lower()


def _fields(spec: _Spec) -> tuple[dict[str, str], dict[str, str], tuple[str, ...]]:
    """(placeholder -> column, placeholder -> role, optional placeholders)."""
    raw = spec.mapping(spec.raw["fields"], "fields")
    if not raw:
        spec.fail("fields", "name at least one placeholder")
    columns, roles, optional = {}, {}, []
    for name, value in raw.items():
        key = f"fields.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED:
            spec.fail(key, f"a placeholder is a lower-case identifier other than {', '.join(sorted(RESERVED))}")
        value = {"column": value} if isinstance(value, str) else spec.mapping(value, key)
        spec.keys(value, key, {"column", "role", "optional"}, ("column",))
        columns[name] = spec.text(value["column"], f"{key}.column")
        roles[name] = spec.text(value.get("role", name), f"{key}.role")
        if not isinstance(value.get("optional", False), bool):  # "yes" must not silently mean required
            spec.fail(f"{key}.optional", f"expected true or false, got {value['optional']!r}")
        if value.get("optional", False):
            optional.append(name)
    return columns, roles, tuple(optional)


def _converter(spec: _Spec, columns: dict[str, str]) -> tuple[Any, tuple[str, ...], str, str]:
    """(convert, option fields, answer kind, choices) from the ``answer`` block."""
    answer = spec.mapping(spec.raw["answer"], "answer")
    kind = answer.get("kind")
    if kind not in ANSWER_KEYS:
        spec.fail("answer.kind", f"expected choice, label or number, got {kind!r}")
    spec.keys(answer, "answer", ANSWER_KEYS[kind], ("column",) + (("options",) if kind == "choice" else ())
              + (("labels",) if kind == "label" else ()))
    gold_column = spec.text(answer["column"], "answer.column")

    def fields_of(raw: Mapping[str, Any]) -> dict[str, str]:
        return {name: _raw_text(_column(raw, col), col) for name, col in columns.items()}

    if kind == "number":
        solution = answer.get("solution_column")

        def convert(raw: Mapping[str, Any]) -> dict[str, str]:
            values = {**fields_of(raw), "answer": normalise_number(_raw_text(_column(raw, gold_column), gold_column))}
            if not re.fullmatch(r"-?\d+(?:\.\d+)?", values["answer"]):
                raise ValueError(f"column {gold_column!r} must hold a number, got {values['answer']!r}")
            return values | ({"solution": _raw_text(_column(raw, solution), solution)} if solution else {})

        return convert, (), "number", ""
    if kind == "label":
        labels = spec.mapping(answer["labels"], "answer.labels")
        if not 2 <= len(labels) <= len(LETTERS):
            spec.fail("answer.labels", f"expected 2–{len(LETTERS)} labels, got {len(labels)}")
        texts = [spec.text(v, f"answer.labels.{k}") for k, v in labels.items()]
        keys = list(labels)
        options = tuple(LETTERS[: len(keys)])

        def convert(raw: Mapping[str, Any]) -> dict[str, str]:
            value = _column(raw, gold_column)
            hits = [k for k, key in enumerate(keys) if _label_matches(value, key)]
            if not hits:
                raise ValueError(f"column {gold_column!r} holds {value!r}, not one of the labels "
                                 f"{', '.join(map(repr, keys))}")
            return {**fields_of(raw), **dict(zip(options, texts, strict=True)), "answer": options[hits[0]]}

        return convert, options, "choice", "".join(options)
    gold = answer.get("gold", "letter")
    if gold not in ("letter", "index", "text"):
        spec.fail("answer.gold", f"expected letter, index or text, got {gold!r}")
    base = answer.get("index_base", 0)
    if base not in (0, 1):
        spec.fail("answer.index_base", f"expected 0 or 1, got {base!r}")
    raw_options = answer["options"]
    list_column = raw_options if isinstance(raw_options, str) else None
    option_columns = () if list_column else tuple(spec.texts(raw_options, "answer.options"))
    count = None if list_column else len(option_columns)
    if count is not None and not 2 <= count <= len(LETTERS):
        spec.fail("answer.options", f"expected 2–{len(LETTERS)} option columns, got {count}")
    # a list column's option count is the prompt's option placeholders; every record must have that many
    options = (tuple(letter for letter in LETTERS if "{" + letter + "}" in str(spec.raw.get("prompt", "")))
               if list_column else tuple(LETTERS[:count]))
    if len(options) < 2:
        spec.fail("prompt", f"names {len(options)} option placeholder(s); options {answer['options']!r} need "
                            f"{{A}}, {{B}}, …")

    def option_texts(raw: Mapping[str, Any]) -> list[str]:
        if list_column is None:
            return [_raw_text(_column(raw, c), c) for c in option_columns]
        items = _column(raw, list_column)
        if not isinstance(items, list) or len(items) != len(options):
            raise ValueError(f"column {list_column!r} must hold a list of {len(options)} options (the prompt's "
                             f"{', '.join(options)}), got {items!r}")
        return [_raw_text(item, list_column) for item in items]

    def convert(raw: Mapping[str, Any]) -> dict[str, str]:
        texts = option_texts(raw)
        letters = "".join(options)
        value = _column(raw, gold_column)
        if gold == "letter":
            index = options.index(value.strip()) if isinstance(value, str) and value.strip() in options else -1
        elif gold == "index":
            number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
            index = number - base if type(number) is int else -1
        else:
            index = texts.index(value.strip()) if isinstance(value, str) and value.strip() in texts else -1
        if not 0 <= index < len(texts):
            raise ValueError(f"column {gold_column!r} holds {value!r}, not a gold {gold} of options {letters}")
        return {**fields_of(raw), **dict(zip(letters, texts, strict=True)), "answer": letters[index]}

    return convert, options, "choice", "".join(options)


def _parts(spec: _Spec) -> dict[str, dict[str, tuple[str, ...]]] | None:
    if "parts" not in spec.raw:
        return None
    raw = spec.mapping(spec.raw["parts"], "parts")
    spec.keys(raw, "parts", {"train", "test"}, ("train", "test"))
    parts = {}
    for side in ("train", "test"):
        members = spec.mapping(raw[side], f"parts.{side}")
        spec.keys(members, f"parts.{side}", set(SIDE_KEYS), SIDE_KEYS)
        parts[side] = {family: spec.texts(members[family], f"parts.{side}.{family}") for family in SIDE_KEYS}
    return parts


def read_task_file(path: str | Path) -> TaskSpec:
    """The :class:`TaskSpec` of one task file; its prompt parts (if any) go to :data:`TASK_PARTS`."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise TaskFileError(f"{path}: task file not found")
    spec = _Spec(path, read_yaml(path, TaskFileError))
    spec.keys(spec.raw, "", TOP_KEYS, REQUIRED)
    name = spec.text(spec.raw["name"], "name")
    if not NAME.fullmatch(name):
        spec.fail("name", f"{name!r}: use a lower-case identifier (letters, digits, _)")
    data = spec.mapping(spec.raw["data"], "data")
    spec.keys(data, "data", {"train", "eval", "hub", "hub_config"}, ("train", "eval"))
    hub = spec.text(data["hub"], "data.hub") if "hub" in data else None
    splits = {which: _split(spec, data[which], f"data.{which}", hub) for which in ("train", "eval")}
    columns, roles, optional = _fields(spec)
    convert, options, kind, choices = _converter(spec, columns)
    fields = (*columns, *options)
    roles.update({letter: f"option {letter}" for letter in options})
    threshold = spec.raw.get("top_threshold", 0.85)
    if not isinstance(threshold, float | int) or isinstance(threshold, bool) or not 0 < threshold < 1:
        spec.fail("top_threshold", f"expected a share between 0 and 1 (0.85 = 85%), got {threshold!r}")
    pool_dir = (path.parent / spec.text(spec.raw.get("pool", f"prompts/{name}"), "pool")).resolve()
    parts = _parts(spec)
    problems = unsafe_problems(str(spec.raw["prompt"]))
    if problems:
        spec.fail("prompt", "; ".join(problems))
    try:
        task = TaskSpec(
            name=name, title=spec.text(spec.raw.get("title", name), "title"),
            fields=fields, answer_kind=kind, choices=choices, top_threshold=float(threshold),
            baseline_prompt=spec.text(spec.raw["prompt"], "prompt"),
            description=spec.text(spec.raw.get("description", spec.raw.get("title", name)), "description"),
            data_subdir="", splits=splits, hub=HubSource(hub or "", data.get("hub_config")), convert=convert,
            opencompass_files=jsonl_eval_files(name, fields), required_raw_keys=(),
            pool=name, pool_dir=str(pool_dir), pool_shipped=(pool_dir / "train.jsonl").is_file(),
            opencompass_config=None, opencompass_datasets="", opencompass_abbr=name, field_roles=roles,
            optional_fields=optional, task_file=str(path))
    except ValueError as err:  # the spec's own checks: the prompt must use exactly the fields
        raise TaskFileError(f"{path}: prompt: {str(err).removeprefix(f'task {name}: ')}") from None
    if parts is not None:
        TASK_PARTS[name] = parts
    return task
