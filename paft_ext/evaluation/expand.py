"""Expanding stock OpenCompass dataset configs across every prompt of the chosen prompt sets, for one OpenCompass run.

For each stock config of a task, each prompt set (``PAFT_EVAL_PROMPT_SETS``, default ``test``) and each prompt of
that set's file (file order), a deep copy gets abbr ``<stock abbr>[_<set tag>]_pNN`` (:mod:`.prompt_sets`), the
prompt in place of the stock template (a string template whole, or the last HUMAN turn), the inferencer's timer and
the run's ``max_out_len``,
the run's first-N question subset, and for GSM8K the prompt-agnostic number extraction. Prompts are loaded through
:func:`paft_ext.pools.store.load_pool`, so a template missing a field is refused — OpenCompass would silently drop
the field.
"""

from __future__ import annotations

import copy
from typing import Any

from paft_ext.pools.option_order import check_variant
from paft_ext.pools.store import Prompt, load_pool
from paft_ext.tasks import TaskSpec, get_task

from .prompt_sets import PromptSet, dataset_abbr, parse_prompt_sets
from .settings import EvalSettings, load_settings


def eval_prompts(task_name: str, settings: EvalSettings, prompt_set: PromptSet) -> list[Prompt]:
    prompts = load_pool(prompt_set.file(settings.pool_root, get_task(task_name)), get_task(task_name).fields)
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
    for cfg, prompt_set in ((c, s) for c in stock for s in parse_prompt_sets(settings.prompt_sets)):
        for k, prompt in enumerate(eval_prompts(task, settings, prompt_set)):
            new = copy.deepcopy(cfg)
            new["abbr"] = dataset_abbr(cfg["abbr"], prompt_set, k)
            _set_prompt(new["infer_cfg"], prompt.text)
            new["infer_cfg"]["inferencer"]["dump_timer"] = True
            # The user's length for every dataset: a stock inferencer's own (GSM8K's 512) would win over the model's.
            new["infer_cfg"]["inferencer"]["max_out_len"] = settings.max_out_len
            if settings.questions:
                # A slice string: OpenCompass 0.5.4's NumWorkerPartitioner evaluates "len(range(n)" + test_range
                # + ")", so the int form (the reader's random subset) crashes it once dataset sizes are cached.
                new["reader_cfg"]["test_range"] = f"[:{settings.questions}]"
            if spec.answer_kind == "number":
                new["eval_cfg"]["pred_postprocessor"] = {"type": "paft_ext.tasks.answers.extract_number"}
            if prompt.option_order or prompt.symbols:
                new["eval_cfg"]["pred_postprocessor"] = _in_order(new["eval_cfg"].get("pred_postprocessor"), spec,
                                                                  prompt, prompt_set.file(settings.pool_root, spec))
            expanded.append(new)
    return expanded


def _in_order(postprocessor: Any, spec: TaskSpec, prompt: Prompt, where: Any) -> dict:
    """The postprocessor of an option-order variant: OpenCompass's option letter mapped back to the original option.
    Only where the dataset scores with ``first_option_postprocess`` over the task's letters (every choice task here),
    so that variants and originals are scored by the same rule."""
    kind = (postprocessor or {}).get("type")
    name = kind if isinstance(kind, str) else getattr(kind, "__name__", "")
    if spec.answer_kind != "choice" or not name.endswith("first_option_postprocess") or (
            postprocessor.get("options") != spec.choices):
        raise ValueError(f"{where}: prompt {prompt.id!r} is an option-order or symbol variant, but task {spec.name} "
                         f"is not scored by first_option_postprocess over {spec.choices!r}")
    check_variant(prompt, spec.choices, f"{where}: prompt {prompt.id!r}")
    return {"type": "paft_ext.tasks.answers.extract_choice_in_order", "options": spec.choices,
            "order": prompt.option_order, **({"symbols": prompt.symbols} if prompt.symbols else {})}
