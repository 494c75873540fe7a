"""Expanding stock OpenCompass dataset configs across every test prompt, for one OpenCompass run.

For each stock config of a task and each prompt of its test pool (file order), a deep copy gets abbr
``<stock abbr>_pNN``, the prompt in place of the stock template (a string template whole, or the last HUMAN turn),
the inferencer's timer, the run's first-N question subset, and for GSM8K the prompt-agnostic number extraction. Prompts
are loaded through :func:`paft_ext.pools.store.load_pool`, so a template missing a field is refused — OpenCompass
would silently drop the field.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from paft_ext.pools.store import Prompt, load_pool
from paft_ext.tasks import get_task

from .settings import EvalSettings, load_settings

ABBR = re.compile(r"^(.*)_p(\d+)$")


def pool_file(task_name: str, settings: EvalSettings) -> Path:
    return Path(settings.pool_root) / get_task(task_name).pool / f"{settings.pool_split}.jsonl"


def eval_prompts(task_name: str, settings: EvalSettings) -> list[Prompt]:
    prompts = load_pool(pool_file(task_name, settings), get_task(task_name).fields)
    return prompts[: settings.prompts] if settings.prompts else prompts


def _set_prompt(infer_cfg: Any, text: str) -> None:
    template = infer_cfg["prompt_template"]["template"]
    if isinstance(template, str):
        infer_cfg["prompt_template"]["template"] = text
        return
    humans = [turn for turn in template["round"] if turn.get("role") == "HUMAN"]
    if not humans:
        raise ValueError("stock template has no HUMAN turn to replace")
    humans[-1]["prompt"] = text


def expand_datasets(base_datasets: list, task: str, settings: EvalSettings | None = None) -> list:
    """One dataset config per (stock config of ``task``, test prompt); [] when ``task`` is not selected."""
    settings = settings or load_settings()
    if task not in settings.tasks:
        return []
    spec = get_task(task)
    stock = [cfg for cfg in base_datasets if cfg["abbr"] == spec.opencompass_abbr]
    if not stock:
        raise ValueError(f"no stock dataset with abbr {spec.opencompass_abbr!r} in {spec.opencompass_config}")
    expanded = []
    for cfg in stock:
        for k, prompt in enumerate(eval_prompts(task, settings)):
            new = copy.deepcopy(cfg)
            new["abbr"] = f"{cfg['abbr']}_p{k:02d}"
            _set_prompt(new["infer_cfg"], prompt.text)
            new["infer_cfg"]["inferencer"]["dump_timer"] = True
            if settings.questions:
                # A slice string: OpenCompass 0.5.4's NumWorkerPartitioner evaluates "len(range(n)" + test_range
                # + ")", so the int form (the reader's random subset) crashes it once dataset sizes are cached.
                new["reader_cfg"]["test_range"] = f"[:{settings.questions}]"
            if spec.answer_kind == "number":
                new["eval_cfg"]["pred_postprocessor"] = {"type": "paft_ext.tasks.answers.extract_number"}
            expanded.append(new)
    return expanded
