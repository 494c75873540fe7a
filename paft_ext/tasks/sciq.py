"""SciQ: a science exam question with its support paragraph and four options (no stock OpenCompass config, read as
JSON lines).

A candidate task the embedded 135M model may learn on a CPU: the support paragraph usually states the answer. The
offline data root has only the validation split (1,000 questions), so locally a seeded permutation of it is carved
into 600 train and 400 eval questions; from the Hub the official train and validation splits are used. The raw record
lists the correct answer first; its options are put in an order seeded by the question text (the same order from the
local copy and the Hub), so the gold letter is spread over A–D.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from .spec import HubSource, SplitSource, TaskSpec, jsonl_eval_files

FIELDS = ("support", "question", "A", "B", "C", "D")
CARVE_SEED = 2026


def option_order(question: str) -> list[int]:
    """A permutation of the four raw options (0 = correct answer), seeded by the question text."""
    seed = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "little")
    return [int(i) for i in np.random.default_rng(seed).permutation(4)]


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    options = [raw["correct_answer"], raw["distractor1"], raw["distractor2"], raw["distractor3"]]
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise ValueError("'correct_answer' and 'distractor1..3' must be non-empty strings")
    order = option_order(raw["question"])
    values = {"support": raw["support"].strip(), "question": raw["question"].strip()}
    values.update({letter: options[i].strip() for letter, i in zip("ABCD", order, strict=True)})
    values["answer"] = "ABCD"[order.index(0)]
    return values


TASK = TaskSpec(
    name="sciq",
    title="SciQ",
    fields=FIELDS,
    field_roles={"support": "the support paragraph (may be empty)", "question": "the question", "A": "option A",
                 "B": "option B", "C": "option C", "D": "option D"},
    answer_kind="choice",
    choices="ABCD",
    top_threshold=0.85,
    baseline_prompt=(
        "There is a single choice question about science. Answer the question by replying A, B, C or D.\n"
        "Passage: {support}\nQuestion: {question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
    ),
    description="Science exam questions with a support paragraph: choose the correct one of four options.",
    data_subdir="sciq",
    benchmark_eval_size=1000,
    splits={"train": SplitSource("validation", 0, 600, order_seed=CARVE_SEED),
            "eval": SplitSource("validation", 600, None, order_seed=CARVE_SEED)},
    hub=HubSource("allenai/sciq", splits={"train": SplitSource("train"), "eval": SplitSource("validation")}),
    convert=convert,
    opencompass_files=jsonl_eval_files("sciq", FIELDS),
    required_raw_keys=("question", "support", "correct_answer", "distractor1", "distractor2", "distractor3"),
    pool="sciq",
    optional_fields=("support",),
    opencompass_config=None,
    opencompass_datasets="",
    opencompass_abbr="sciq",
)
