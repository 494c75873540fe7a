"""OpenCompass dataset configs for registry tasks that have no stock OpenCompass config (``opencompass_config`` None).

They read the scored records that ``paft-ext prepare`` writes (``<prepared>/opencompass/data/<task>/test.jsonl``,
the task's fields plus ``answer``) with OpenCompass's own generic JSON-lines loader, ``CustomDataset``, and score
them like the stock multiple-choice configs: greedy generation, OpenCompass's ``first_option_postprocess`` over the
task's option letters (a number task: the prompt-agnostic final-number rule), accuracy. The prompt here is the
task's user-specified prompt; :mod:`.expand` replaces it by each evaluated pool prompt, exactly as for a stock config.
Tasks of task files are added to ``opencompass_configs/eval_paft.py`` by :func:`task_file_datasets`.
"""

from __future__ import annotations

from paft_ext.tasks import get_task, jsonl_eval_file

from .expand import expand_datasets
from .settings import EvalSettings


def jsonl_datasets(task_name: str) -> list[dict]:
    """A one-element dataset list in the shape of a stock config's, for ``expand_datasets``."""
    task = get_task(task_name)
    postprocessor = ({"type": "paft_ext.tasks.answers.extract_number"} if task.answer_kind == "number" else
                     {"type": "opencompass.utils.text_postprocessors.first_option_postprocess",
                      "options": task.choices})
    if task.opencompass_config is not None:
        raise ValueError(f"task {task_name} has a stock OpenCompass config ({task.opencompass_config}); use it")
    return [{
        "abbr": task.opencompass_abbr,
        "type": "opencompass.datasets.CustomDataset",
        "path": f"data/{jsonl_eval_file(task.name)}",
        "local_mode": True,  # relative to COMPASS_DATA_CACHE, never a download
        "reader_cfg": {"input_columns": list(task.fields), "output_column": "answer", "test_split": "test"},
        "infer_cfg": {
            "prompt_template": {"type": "opencompass.openicl.icl_prompt_template.PromptTemplate",
                                "template": {"round": [{"role": "HUMAN", "prompt": task.baseline_prompt}]}},
            "retriever": {"type": "opencompass.openicl.icl_retriever.ZeroRetriever"},
            "inferencer": {"type": "opencompass.openicl.icl_inferencer.GenInferencer"},
        },
        "eval_cfg": {
            "evaluator": {"type": "opencompass.openicl.icl_evaluator.AccEvaluator"},
            "pred_role": "BOT",
            "pred_postprocessor": postprocessor,
        },
    }]


def task_file_datasets(settings: EvalSettings) -> list[dict]:
    """The expanded datasets of every selected task that comes from a task file (``PAFT_TASK_FILES``)."""
    return [config for name in settings.tasks if get_task(name).task_file
            for config in expand_datasets(jsonl_datasets(name), task=name, settings=settings)]
