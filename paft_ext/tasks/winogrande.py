"""WinoGrande: fill the blank with one of two names or things (OpenCompass ``winogrande_gen_458220``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import HubSource, Rows, SplitSource, TaskSpec, exact_label


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    if "_" not in raw["sentence"]:
        raise ValueError(f"'sentence' has no blank '_': {raw['sentence']!r}")
    exact_label(raw, "answer", ("1", "2"))
    return {
        "prompt": raw["sentence"],
        "only_option1": raw["option1"],
        "only_option2": raw["option2"],
        "answer": " AB"[int(raw["answer"])],
    }


def opencompass_files(train: Rows, evaluation: Rows) -> dict[str, Rows]:
    """``WinograndeDatasetV2`` reads only ``dev.jsonl`` (the scored split) in the original layout."""
    del train  # the stock 0-shot config reads no training split
    return {
        "winogrande/dev.jsonl": [
            {"sentence": r["prompt"], "option1": r["only_option1"], "option2": r["only_option2"],
             "answer": str(" AB".index(r["answer"]))}
            for r in evaluation
        ]
    }


TASK = TaskSpec(
    name="winogrande",
    title="WinoGrande",
    fields=("prompt", "only_option1", "only_option2"),
    option_fields=("only_option1", "only_option2"),
    field_roles={"prompt": "the sentence, with _ where a word is missing", "only_option1": "option A",
                 "only_option2": "option B"},
    generation_names={"prompt": "sentence", "only_option1": "option_a", "only_option2": "option_b"},
    answer_kind="choice",
    choices="AB",
    top_threshold=0.80,
    baseline_prompt=(
        "There is a single choice question, you need to choose the correct option to fill in the blank. "
        "Answer the question by replying A or B.\nQuestion: {prompt}\nA. {only_option1}\nB. {only_option2}\nAnswer:"
    ),
    description="Pronoun/coreference resolution: a sentence has a blank '_'; choose which of two options fills it.",
    data_subdir="winogrande",
    benchmark_eval_size=1267,
    splits={"train": SplitSource("train"), "eval": SplitSource("validation")},
    hub=HubSource("allenai/winogrande", name="winogrande_l"),
    convert=convert,
    opencompass_files=opencompass_files,
    required_raw_keys=("sentence", "option1", "option2", "answer"),
    pool="winogrande",
    opencompass_config="opencompass.configs.datasets.winogrande.winogrande_gen_458220",
    opencompass_datasets="winogrande_datasets",
    opencompass_abbr="winogrande",
)
