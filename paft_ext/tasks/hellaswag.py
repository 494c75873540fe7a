"""HellaSwag: pick the most plausible ending of an ActivityNet/WikiHow context (``hellaswag_gen_6faab5``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .spec import HubSource, Rows, SplitSource, TaskSpec, exact_label


def clean(text: str) -> str:
    """The HellaSwag text cleaning of the OpenCompass data file (WikiHow ``[title]``/``[header]`` markup removed)."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def query(raw: Mapping[str, Any]) -> str:
    """OpenCompass's ``query`` column: ``"<activity>: <ctx_a> <Ctx_b>"``."""
    ctx = raw["ctx_a"] + " " + raw["ctx_b"].capitalize()
    return clean(raw["activity_label"] + ": " + ctx)


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    endings = raw["endings"]
    if not isinstance(endings, list) or len(endings) != 4:
        raise ValueError(f"'endings' must be a list of 4 strings, got {endings!r}")
    # the validation file and the Hub hold strings "0".."3", the train file integers
    label = int(exact_label(raw, "label", (0, 1, 2, 3, "0", "1", "2", "3")))
    activity = clean(raw["activity_label"])
    if ": " in activity:
        raise ValueError(f"'activity_label' contains ': ', which OpenCompass's loader splits on: {activity!r}")
    record = {"ctx": query(raw).split(": ", 1)[-1], "activity_label": activity}
    record.update({letter: clean(ending) for letter, ending in zip("ABCD", endings, strict=True)})
    record["answer"] = "ABCD"[label]
    return record


def opencompass_files(train: Rows, evaluation: Rows) -> dict[str, Rows]:
    """``HellaswagDataset_V2`` reads one file, the scored split: ``{query, choices, gold}``."""
    del train  # the stock 0-shot config reads no training split
    return {
        "hellaswag/hellaswag.jsonl": [
            {"query": f"{r['activity_label']}: {r['ctx']}", "choices": [r[c] for c in "ABCD"],
             "gold": "ABCD".index(r["answer"])}
            for r in evaluation
        ]
    }


TASK = TaskSpec(
    name="hellaswag",
    title="HellaSwag",
    fields=("ctx", "A", "B", "C", "D"),
    field_roles={"ctx": "the start of the description", **{k: f"ending {k}" for k in "ABCD"}},
    answer_kind="choice",
    choices="ABCD",
    top_threshold=0.90,
    baseline_prompt=(
        "{ctx}\nQuestion: Which ending makes the most sense?\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n"
        "You may choose from 'A', 'B', 'C', 'D'.\nAnswer:"
    ),
    description="Commonsense sentence completion: given a short context, choose the most plausible of four endings.",
    data_subdir="hellaswag",
    benchmark_eval_size=10042,
    splits={"train": SplitSource("train"), "eval": SplitSource("validation")},
    hub=HubSource("Rowan/hellaswag"),
    convert=convert,
    opencompass_files=opencompass_files,
    required_raw_keys=("ctx_a", "ctx_b", "activity_label", "endings", "label"),
    pool="hellaswag",
    opencompass_config="opencompass.configs.datasets.hellaswag.hellaswag_gen_6faab5",
    opencompass_datasets="hellaswag_datasets",
    opencompass_abbr="hellaswag",
)
