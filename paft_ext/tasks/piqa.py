"""PIQA: physical commonsense, choose the better of two solutions (OpenCompass ``piqa_gen_1194eb``).

The offline data root has only the validation split, so locally records 0-999 train and 1000-1837 evaluate
(the rule in ``../shared/data/README.md``); from the Hub the official train and validation splits are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import HubSource, Rows, SplitSource, TaskSpec, exact_label


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    label = exact_label(raw, "label", (0, 1))
    return {"goal": raw["goal"], "sol1": raw["sol1"], "sol2": raw["sol2"], "answer": "AB"[label]}


def opencompass_files(train: Rows, evaluation: Rows) -> dict[str, Rows | list[str]]:
    """``PIQADatasetV2`` reads ``{train,dev}.jsonl`` (with an ``id``) and ``{train,dev}-labels.lst``; dev is scored."""
    files: dict[str, Rows | list[str]] = {}
    for name, rows in (("train", train), ("dev", evaluation)):
        files[f"piqa/{name}.jsonl"] = [
            {"id": f"{name}-{i}", "goal": r["goal"], "sol1": r["sol1"], "sol2": r["sol2"]} for i, r in enumerate(rows)
        ]
        files[f"piqa/{name}-labels.lst"] = [str("AB".index(r["answer"])) for r in rows]
    return files


TASK = TaskSpec(
    name="piqa",
    title="PIQA",
    fields=("goal", "sol1", "sol2"),
    option_fields=("sol1", "sol2"),
    field_roles={"goal": "the goal", "sol1": "solution A", "sol2": "solution B"},
    answer_kind="choice",
    choices="AB",
    top_threshold=0.85,
    # The paper's user-specified prompt (Flexora format), without the stray quote of the original.
    baseline_prompt=(
        "There is a single choice question. Answer the question by replying A or B.\n"
        "Question: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:"
    ),
    description="Physical commonsense reasoning: given a goal, choose which of two solutions achieves it.",
    data_subdir="piqa",
    benchmark_eval_size=1838,
    splits={"train": SplitSource("validation", 0, 1000), "eval": SplitSource("validation", 1000, None)},
    hub=HubSource("baber/piqa", splits={"train": SplitSource("train"), "eval": SplitSource("validation")}),
    convert=convert,
    opencompass_files=opencompass_files,
    required_raw_keys=("goal", "sol1", "sol2", "label"),
    pool="piqa",
    opencompass_config="opencompass.configs.datasets.piqa.piqa_gen_1194eb",
    opencompass_datasets="piqa_datasets",
    opencompass_abbr="piqa",
)
