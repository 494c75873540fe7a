"""The PAFT side of the current training run, owned here and nowhere else.

LLaMA-Factory calls the hook's wrappers as free functions at different moments of one run (argument parsing,
dataset loading, preprocessing, trainer creation), so what one wrapper learns has to reach the next through an
object they share. That object is :data:`RUN`, one per process (LLaMA-Factory trains one run per process; torchrun
ranks are processes), reset by the argument parser at the start of every run. The callback receives it explicitly.
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


RUN = RunState()
