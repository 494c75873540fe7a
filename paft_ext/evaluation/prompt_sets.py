"""The prompt sets an evaluation expands over, how their OpenCompass datasets are named, and how a prediction is
traced back to the exact template that produced it.

A set is a shipped pool file name — ``test`` (part-disjoint composed prompts), ``test_indep`` (written by hand apart
from the parts), ``test_llm`` (written by an LLM), ``seen_probe`` (10 train prompts, for the seen-vs-unseen gap) —
or a path to a pool file (``{pool}`` in it is replaced by the task's pool name). Dataset abbreviations keep the set:
``piqa_p07`` (test), ``piqa_indep_p07``, ``piqa_llm_p07``, ``piqa_seen_p03``, ``piqa_<file stem>_p07``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paft_ext.pools.leakage import SEEN_PROBE, SET_TAGS
from paft_ext.pools.store import Prompt
from paft_ext.tasks import PLACEHOLDER, TASKS, TaskSpec

SHIPPED = SET_TAGS  # shipped set name -> abbreviation infix
SEEN = SEEN_PROBE
_ABBR = re.compile(r"^(.*)_p(\d+)$")


class PromptSetError(ValueError):
    """A prediction file that cannot be traced to the prompt file it is labelled from; the message names it."""


@dataclass(frozen=True)
class PromptSet:
    name: str  # a shipped set name, or the path as given
    tag: str  # abbreviation infix ("" for test)

    @property
    def is_path(self) -> bool:
        return self.name not in SHIPPED

    def file(self, pool_root: str | Path, task: TaskSpec) -> Path:
        if self.is_path:
            return Path(self.name.replace("{pool}", task.pool))
        return Path(task.pool_dir or Path(pool_root) / task.pool) / f"{self.name}.jsonl"


def parse_prompt_set(value: str) -> PromptSet:
    value = value.strip()
    if value in SHIPPED:
        return PromptSet(value, SHIPPED[value])
    if not value.endswith(".jsonl"):
        raise ValueError(f"PAFT_EVAL_PROMPT_SETS: {value!r} is neither a shipped set ({', '.join(SHIPPED)}) nor a "
                         f"path to a .jsonl pool file")
    tag = re.sub(r"[^a-z0-9]", "", Path(value).stem.replace("{pool}", "").lower())
    if not tag or tag in SHIPPED.values():
        raise ValueError(f"PAFT_EVAL_PROMPT_SETS: {value!r}: rename the file; its stem gives the dataset "
                         f"abbreviation, which must be non-empty and not one of {sorted(SHIPPED.values())}")
    return PromptSet(value, tag)


def parse_prompt_sets(values: Iterable[str]) -> tuple[PromptSet, ...]:
    sets = tuple(parse_prompt_set(v) for v in values)
    tags = [s.tag for s in sets]
    if not sets or len(set(tags)) != len(tags):
        raise ValueError(f"PAFT_EVAL_PROMPT_SETS: give one or more sets, each once (got {[s.name for s in sets]})")
    return sets


def dataset_abbr(stock_abbr: str, prompt_set: PromptSet, index: int) -> str:
    return f"{stock_abbr}{'_' + prompt_set.tag if prompt_set.tag else ''}_p{index:02d}"


def parse_abbr(abbr: str) -> tuple[TaskSpec, str, int] | None:
    """(task, set tag, prompt index) of an expanded dataset's abbreviation, or None for any other dataset."""
    match = _ABBR.match(abbr)
    if not match:
        return None
    prefix = match[1]
    by_stock_abbr = {task.opencompass_abbr: task for task in TASKS.values()}  # task files register at any time
    for stock in sorted(by_stock_abbr, key=len, reverse=True):
        if prefix == stock:
            return by_stock_abbr[stock], "", int(match[2])
        if prefix.startswith(stock + "_") and re.fullmatch(r"[a-z0-9]+", prefix[len(stock) + 1:]):
            return by_stock_abbr[stock], prefix[len(stock) + 1:], int(match[2])
    return None


def rendered_user_text(origin_prompt) -> str:
    """The user message OpenCompass sent: the last HUMAN turn of a chat prompt, or the whole string prompt."""
    if isinstance(origin_prompt, str):
        return origin_prompt
    humans = [turn["prompt"] for turn in origin_prompt if isinstance(turn, dict) and turn.get("role") == "HUMAN"]
    return humans[-1] if humans else ""


def template_matches(template: str, rendered: str) -> bool:
    """Whether ``rendered`` is ``template`` with its placeholders filled: the literal pieces between placeholders
    appear in order, the first at the start and the last at the end (linear time, no regex backtracking)."""
    pieces = PLACEHOLDER.split(template)[::2]
    if len(pieces) == 1:
        return rendered == template
    if not (rendered.startswith(pieces[0]) and rendered.endswith(pieces[-1])):
        return False
    position, end = len(pieces[0]), len(rendered) - len(pieces[-1])
    for piece in pieces[1:-1]:
        found = rendered.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return position <= end


def check_rendered(prompt: Prompt, origins: Sequence, where: str) -> None:
    """Refuse a prediction file whose rendered prompts do not come from ``prompt`` (the pool file changed since the
    run, or the run evaluated another file)."""
    for k, origin in enumerate(origins):
        if not template_matches(prompt.text, rendered_user_text(origin)):
            raise PromptSetError(f"{where}: item {k} was not rendered from prompt {prompt.id!r} of the pool file the "
                             f"report reads; report with the pool files the run evaluated (the run's "
                             f"paft_eval.json names them)")
