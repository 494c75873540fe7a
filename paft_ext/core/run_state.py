"""The PAFT side of one training run: its config, the framework's parsed arguments, the schedule and the pool.

Built by whoever starts the run (the LLaMA-Factory hook's argument parser, GRPO's runner) and passed explicitly to
what reads it (the hook's preprocessing, the dataset converter, the trainer callback). The LLaMA-Factory side keeps
the one instance of a process in :mod:`paft_ext.llamafactory.run_registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paft_ext.pools.store import Prompt

from .config import PaftConfig
from .schedule import Schedule


class PaftSetupError(RuntimeError):
    """A run that would not train with PAFT as configured; the message says what to change."""


@dataclass
class RunState:
    """What the wrappers of one run know: the PAFT config, LLaMA-Factory's parsed arguments, the schedule."""

    config: PaftConfig | None = None
    parsed: dict[str, Any] = field(default_factory=dict)
    datasets: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)  # (DatasetAttr, fields)
    meta: dict | None = None  # what a tokenized_path built by this run records (None: not a PAFT run)
    schedule: Schedule | None = None
    pool: list[Prompt] | None = None
    fields: list[str] | None = None

    def start(self, config: PaftConfig | None, parsed: dict[str, Any],
              datasets: list[tuple[Any, tuple[str, ...]]]) -> None:
        """Forget the previous run of this process: a new one has been parsed."""
        self.config, self.parsed, self.datasets = config, parsed, datasets
        self.meta, self.schedule, self.pool, self.fields = None, None, None, None

    def fields_for(self, dataset_attr: Any) -> tuple[str, ...]:
        """The placeholder fields of a PAFT dataset of this run, found by LLaMA-Factory's attributes of it."""
        for attr, fields in self.datasets:
            if attr == dataset_attr:
                return fields
        raise PaftSetupError(f"[paft_ext] dataset {dataset_attr.dataset_name} has formatting 'paft' but is not a "
                             f"dataset/eval_dataset of a run parsed with the extension loaded, so its 'paft' block "
                             f"was never read")

