"""Which prediction files a finished evaluation must hold, so that a model that failed to load, or a dataset whose
task crashed, is an error and never a silently shorter report (OpenCompass exits 0 in both cases)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from paft_ext.pools.store import load_pool
from paft_ext.tasks import get_task

from .prompt_sets import dataset_abbr, parse_prompt_sets
from .settings import EvalSettings


class IncompleteRun(SystemExit):
    """An OpenCompass run lacks predictions of some model or dataset; the message names them."""


def expected_models(settings: EvalSettings) -> list[str]:
    """Model abbreviations in the order :func:`paft_ext.evaluation.run_config.models` configures them."""
    if settings.model_type == "api":
        return [settings.model_abbr]
    return ([settings.model_abbr] if settings.include_base else []) + list(settings.adapters)


def expected_datasets(settings: EvalSettings) -> list[str]:
    abbrs = []
    for name in settings.tasks:
        task = get_task(name)
        for prompt_set in parse_prompt_sets(settings.prompt_sets):
            count = len(load_pool(prompt_set.file(settings.pool_root, task), task.fields))
            count = min(count, settings.prompts) if settings.prompts else count
            abbrs += [dataset_abbr(task.opencompass_abbr, prompt_set, k) for k in range(count)]
    return abbrs


def missing_predictions(run: Path, settings: EvalSettings) -> dict[str, list[str]]:
    """model -> dataset abbreviations without a prediction file in ``run`` (empty: complete)."""
    datasets = expected_datasets(settings)
    missing = {}
    for model in expected_models(settings):
        absent = [d for d in datasets if not (run / "predictions" / model / f"{d}.json").is_file()]
        if absent:
            missing[model] = absent
    return missing


def describe_missing(run: Path, missing: dict[str, list[str]]) -> str:
    parts = [f"{model}: {len(abbrs)} dataset(s) without predictions ({', '.join(abbrs[:3])}"
             f"{', …' if len(abbrs) > 3 else ''})" for model, abbrs in missing.items()]
    return (f"{run}: the evaluation is incomplete — {'; '.join(parts)}. See the OpenCompass logs under "
            f"{run / 'logs' / 'infer'} (a model that fails to load, e.g. an adapter of another base model, leaves "
            "all of its datasets without predictions)")


def recorded_settings(run: Path, manifest_name: str) -> EvalSettings | None:
    """The settings a run recorded in its manifest (``paft-ext eval`` writes them), or None for runs without one."""
    path = run / manifest_name
    recorded = json.loads(path.read_text()).get("settings") if path.is_file() else None
    if not recorded:
        return None
    names = {f.name for f in fields(EvalSettings)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in names}
    return EvalSettings(**values)
