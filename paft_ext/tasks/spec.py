"""The typed description of one benchmark task.

Everything else in paft_ext (LLaMA-Factory dataset files and YAMLs, OpenCompass configs, prompt pools) is generated
from or validated against these specs, so a task is described exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .answers import extract_choice, extract_number

PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")

AnswerKind = Literal["choice", "number"]


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Replace each known ``{field}`` in one pass; unknown names and other braces stay as written (OpenCompass's
    ``safe_format`` semantics without its cascade). Never ``str.format``: user text is not evaluated."""
    return PLACEHOLDER.sub(lambda m: values[m[1]] if m[1] in values else m[0], template)

Rows = list[dict[str, str]]


@dataclass(frozen=True)
class SplitSource:
    """Where the records of one split come from.

    ``split`` names a file of the local data root (``<root>/<subdir>/<split>.jsonl``) or a Hub split; ``start``/``stop``
    cut a contiguous range out of it (used for PIQA, whose offline copy has no train split).
    """

    split: str
    start: int = 0
    stop: int | None = None

    def describe(self) -> str:
        if self.start == 0 and self.stop is None:
            return self.split
        return f"{self.split}[{self.start}:{'' if self.stop is None else self.stop}]"


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
    opencompass_config: str
    opencompass_datasets: str
    opencompass_abbr: str
    metric: str = "accuracy"
    field_roles: Mapping[str, str] = field(default_factory=dict)  # what each placeholder holds, for meta-prompts

    def __post_init__(self) -> None:
        used = set(PLACEHOLDER.findall(self.baseline_prompt))
        if used != set(self.fields):
            raise ValueError(f"task {self.name}: baseline prompt uses {sorted(used)}, fields are {list(self.fields)}")
        if set(self.field_roles) - set(self.fields):
            raise ValueError(f"task {self.name}: field_roles names unknown fields "
                             f"{sorted(set(self.field_roles) - set(self.fields))}")
        if self.answer_kind == "choice" and not self.choices:
            raise ValueError(f"task {self.name}: a choice task needs its option letters")

    def fill(self, template: str, record: Mapping[str, str]) -> str:
        """``template`` filled with this task's fields of ``record``."""
        return fill_template(template, {f: record[f] for f in self.fields})

    def extract(self, text: str) -> str:
        """The answer a model output gives ('' = no answer extracted)."""
        if self.answer_kind == "number":
            return extract_number(text)
        return extract_choice(text, self.choices)

    def target_text(self, record: Mapping[str, str]) -> str:
        """The supervised response for one record: the option letter, or the worked solution for GSM8K."""
        return record.get("solution") or record["answer"]
