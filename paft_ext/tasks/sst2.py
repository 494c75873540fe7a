"""SST-2: is a movie-review sentence negative or positive (GLUE; no stock OpenCompass config, read as JSON lines).

A candidate task the embedded 135M model can learn on a CPU. The offline data root has only the GLUE validation
split (872 sentences), so locally a seeded permutation of it is carved into 500 train and 372 eval sentences; from the
Hub the official train and validation splits are used. The two labels are option fields (``{A}`` negative, ``{B}``
positive) so that templates name them the way the other choice tasks name options, and the gold is a letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import HubSource, SplitSource, TaskSpec, exact_label, jsonl_eval_files

LABELS = ("negative", "positive")
FIELDS = ("sentence", "A", "B")
CARVE_SEED = 2026


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    label = exact_label(raw, "label", (0, 1))  # 0 negative, 1 positive
    return {"sentence": raw["sentence"].strip(), "A": LABELS[0], "B": LABELS[1], "answer": "AB"[label]}


TASK = TaskSpec(
    name="sst2",
    title="SST-2",
    fields=FIELDS,
    field_roles={"sentence": "the movie-review sentence", "A": "option A (the word negative)",
                 "B": "option B (the word positive)"},
    answer_kind="choice",
    choices="AB",
    top_threshold=0.85,
    baseline_prompt=(
        "There is a single choice question about the sentiment of a movie review. Answer the question by replying "
        "A or B.\nReview: {sentence}\nA. {A}\nB. {B}\nAnswer:"
    ),
    description="Binary sentiment of one movie-review sentence: negative (A) or positive (B).",
    benchmark_eval_size=872,
    data_subdir="sst2",
    splits={"train": SplitSource("validation", 0, 500, order_seed=CARVE_SEED),
            "eval": SplitSource("validation", 500, None, order_seed=CARVE_SEED)},
    hub=HubSource("stanfordnlp/sst2", splits={"train": SplitSource("train"), "eval": SplitSource("validation")}),
    convert=convert,
    opencompass_files=jsonl_eval_files("sst2", FIELDS),
    required_raw_keys=("sentence", "label"),
    pool="sst2",
    opencompass_config=None,
    opencompass_datasets="",
    opencompass_abbr="sst2",
)
