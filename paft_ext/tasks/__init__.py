"""The task registry: one module per benchmark, one :class:`TaskSpec` each (lm-evaluation-harness style)."""

from __future__ import annotations

from . import gsm8k, hellaswag, piqa, race, sciq, sst2, winogrande
from .spec import PLACEHOLDER, HubSource, SplitSource, TaskSpec, fill_template, jsonl_eval_file

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (hellaswag.TASK, piqa.TASK, winogrande.TASK, race.MIDDLE, race.HIGH, gsm8k.TASK, sst2.TASK, sciq.TASK)
}


def get_task(name: str) -> TaskSpec:
    """The registered task ``name``; a typo gets the list of known names."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


__all__ = ["PLACEHOLDER", "TASKS", "HubSource", "SplitSource", "TaskSpec", "fill_template", "get_task",
           "jsonl_eval_file"]
