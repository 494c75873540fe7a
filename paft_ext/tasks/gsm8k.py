"""GSM8K grade-school maths word problems (OpenCompass ``gsm8k_0shot_gen_a58960``).

The training target is the reference solution without its ``<<…>>`` calculator annotations, closed by
"The answer is \\boxed{N}." so both the stock 0-shot prompt's ``\\boxed{}`` request and "answer is" cues match it.
Top threshold 0.75: our choice (the paper gives none for GSM8K) — about the level a 7-8B model reaches after SFT on
GSM8K train, so Top separates prompts that keep the model at its best from those that do not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .answers import normalise_number
from .spec import HubSource, Rows, SplitSource, TaskSpec

_CALCULATOR = re.compile(r"<<[^>]*>>")


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    steps, sep, final = raw["answer"].rpartition("####")
    if not sep or not final.strip():
        raise ValueError("'answer' has no final '#### <number>'")
    answer = normalise_number(final)
    solution = _CALCULATOR.sub("", steps).strip()
    return {"question": raw["question"], "answer": answer,
            "solution": f"{solution}\nThe answer is \\boxed{{{answer}}}."}


def opencompass_files(train: Rows, evaluation: Rows) -> dict[str, Rows]:
    """``GSM8KDataset`` reads ``train.jsonl`` and ``test.jsonl`` whose ``answer`` ends in ``#### <number>``."""

    def layout(rows: Rows) -> Rows:
        return [{"question": r["question"], "answer": f"{r['solution']}\n#### {r['answer']}"} for r in rows]

    return {"gsm8k/train.jsonl": layout(train), "gsm8k/test.jsonl": layout(evaluation)}


TASK = TaskSpec(
    name="gsm8k",
    title="GSM8K",
    fields=("question",),
    field_roles={"question": "the maths word problem"},
    answer_kind="number",
    choices="",
    top_threshold=0.75,
    baseline_prompt="{question}\nPlease reason step by step, and put your final answer within \\boxed{}.",
    description="Grade-school maths word problems; the answer is a single number reached by a few reasoning steps.",
    data_subdir="gsm8k",
    benchmark_eval_size=1319,
    splits={"train": SplitSource("train"), "eval": SplitSource("test")},
    hub=HubSource("openai/gsm8k", name="main"),
    convert=convert,
    opencompass_files=opencompass_files,
    required_raw_keys=("question", "answer"),
    pool="gsm8k",
    opencompass_config="opencompass.configs.datasets.gsm8k.gsm8k_0shot_gen_a58960",
    opencompass_datasets="gsm8k_datasets",
    opencompass_abbr="gsm8k",
)
