"""The typed description of one benchmark task.

Everything else in paft_ext (LLaMA-Factory dataset files and YAMLs, OpenCompass configs, prompt pools) is generated
from or validated against these specs, so a task is described exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .answers import extract_choice, extract_choice_strict, extract_number

PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")

AnswerKind = Literal["choice", "number"]


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Replace each known ``{field}`` in one pass; unknown names and other braces stay as written (OpenCompass's
    ``safe_format`` semantics without its cascade). Never ``str.format``: user text is not evaluated."""
    return PLACEHOLDER.sub(lambda m: values[m[1]] if m[1] in values else m[0], template)

Rows = list[dict[str, str]]


def exact_label(raw: Mapping[str, Any], key: str, allowed: tuple) -> Any:
    """``raw[key]`` if it is exactly one of ``allowed``, in the allowed values' own type — 1.7, True or "1" where the
    labels are the integers 0/1 is an error, never silently an option."""
    value = raw[key]
    if not any(type(value) is type(a) and value == a for a in allowed):
        raise ValueError(f"{key!r} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


@dataclass(frozen=True)
class SplitSource:
    """Where the records of one split come from.

    ``split`` names a file of the local data root (``<root>/<subdir>/<split>.jsonl``) or a Hub split; ``start``/``stop``
    cut a contiguous range out of it (used for PIQA, whose offline copy has no train split). With ``order_seed`` the
    range is cut out of a seeded permutation of the file instead, so that train and eval carved from one file are
    disjoint random halves and not, say, the first and last reviews of a sorted file.
    """

    split: str
    start: int = 0
    stop: int | None = None
    order_seed: int | None = None
    file: str | None = None  # a JSONL or CSV file of its own (tasks from a task file), read instead of the data root

    def describe(self) -> str:
        name = self.file or self.split
        if self.start == 0 and self.stop is None and self.order_seed is None:
            return name
        order = "" if self.order_seed is None else f" in seeded order {self.order_seed}"
        return f"{name}[{self.start}:{'' if self.stop is None else self.stop}]{order}"


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face Hub dataset id (and config) for users without a local data root."""

    path: str
    name: str | None = None
    splits: Mapping[str, SplitSource] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """One benchmark as PAFT sees it.

    ``fields`` are the placeholders a prompt template fills; they are OpenCompass 0.5.4's reader column names, so the
    same template serves LLaMA-Factory training and OpenCompass evaluation. ``convert`` maps a raw benchmark record
    (local jsonl or Hub row, same layout) to those fields plus ``answer``; ``opencompass_files`` lays converted train
    and eval records out as the files the stock OpenCompass loader reads (relative path -> JSON rows or text lines).
    """

    name: str
    title: str
    fields: tuple[str, ...]
    answer_kind: AnswerKind
    choices: str
    top_threshold: float
    baseline_prompt: str
    description: str
    data_subdir: str
    splits: Mapping[str, SplitSource]
    hub: HubSource
    convert: Callable[[Mapping[str, Any]], dict[str, str]]
    opencompass_files: Callable[[Rows, Rows], dict[str, Rows | list[str]]]
    required_raw_keys: tuple[str, ...]
    pool: str
    opencompass_config: str | None  # a stock config module; None: the JSON-lines reader of evaluation.local_datasets
    opencompass_datasets: str  # the stock config's dataset list (unused with the JSON-lines reader)
    opencompass_abbr: str
    metric: str = "accuracy"
    field_roles: Mapping[str, str] = field(default_factory=dict)  # what each placeholder holds, for meta-prompts
    pool_shipped: bool = True  # False: no prompt pool under data/prompts yet, so no PAFT YAML is generated
    optional_fields: tuple[str, ...] = ()  # fields that may be empty (SciQ's support paragraph); others may not
    # readable placeholder names shown to prompt-writing models instead of cryptic reader columns (WinoGrande's
    # ``only_option1``); generated templates are renamed back to ``fields`` before validation
    generation_names: Mapping[str, str] = field(default_factory=dict)
    pool_dir: str | None = None  # the pool folder when it is not <pool root>/<pool> (a task file's own pool)
    task_file: str | None = None  # the YAML this task was read from (paft_ext.tasks.task_file); None: built in
    # the placeholders holding options A, B, … in order (default: the fields named like the option letters)
    option_fields: tuple[str, ...] = ()
    # items of the benchmark's own evaluation split (what the paper reports on); a smaller local copy is reported
    benchmark_eval_size: int | None = None

    def __post_init__(self) -> None:
        used = set(PLACEHOLDER.findall(self.baseline_prompt))
        if used != set(self.fields):
            raise ValueError(f"task {self.name}: baseline prompt uses {sorted(used)}, fields are {list(self.fields)}")
        if set(self.field_roles) - set(self.fields):
            raise ValueError(f"task {self.name}: field_roles names unknown fields "
                             f"{sorted(set(self.field_roles) - set(self.fields))}")
        shown = [self.generation_names.get(f, f) for f in self.fields]
        if set(self.generation_names) - set(self.fields) or len(set(shown)) != len(shown):
            raise ValueError(f"task {self.name}: generation_names must rename known fields to distinct names, got "
                             f"{dict(self.generation_names)}")
        if self.answer_kind == "choice" and not self.choices:
            raise ValueError(f"task {self.name}: a choice task needs its option letters")
        if self.option_fields and (len(self.option_fields) != len(self.choices)
                                   or set(self.option_fields) - set(self.fields)):
            raise ValueError(f"task {self.name}: option_fields {list(self.option_fields)} must be fields, one per "
                             f"option letter {self.choices}")

    @property
    def options(self) -> tuple[str, ...]:
        """The option placeholders in letter order; () for a task without options (GSM8K)."""
        if self.answer_kind != "choice":
            return ()
        return self.option_fields or tuple(f for f in self.fields if f in tuple(self.choices))

    def fill(self, template: str, record: Mapping[str, str]) -> str:
        """``template`` filled with this task's fields of ``record``."""
        return fill_template(template, {f: record[f] for f in self.fields})

    def extract(self, text: str, strict: bool = False) -> str:
        """The answer a model output gives ('' = no answer extracted): OpenCompass's rule, or with ``strict`` only an
        output that is an option letter (numbers are extracted one way)."""
        if self.answer_kind == "number":
            return extract_number(text)
        return extract_choice_strict(text, self.choices) if strict else extract_choice(text, self.choices)

    def target_text(self, record: Mapping[str, str]) -> str:
        """The supervised response for one record: the option letter, or the worked solution for GSM8K."""
        return record.get("solution") or record["answer"]


def jsonl_eval_file(task_name: str) -> str:
    """Where a task without a stock OpenCompass loader keeps its scored records (relative to the prepared
    ``opencompass/data`` folder); :mod:`paft_ext.evaluation.local_datasets` reads it."""
    return f"{task_name}/test.jsonl"


def jsonl_eval_files(task_name: str, fields: tuple[str, ...]) -> Callable[[Rows, Rows], dict[str, Rows | list[str]]]:
    """``opencompass_files`` for a task read by the JSON-lines reader: its fields and ``answer`` per scored record."""

    def files(train: Rows, evaluation: Rows) -> dict[str, Rows | list[str]]:
        del train  # zero-shot evaluation reads no training split
        return {jsonl_eval_file(task_name): [{k: r[k] for k in (*fields, "answer")} for r in evaluation]}

    return files
