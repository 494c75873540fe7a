"""RACE middle- and high-school reading comprehension (OpenCompass ``race_gen_69ee4f``); one prompt pool serves both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .spec import HubSource, Rows, SplitSource, TaskSpec


def convert(raw: Mapping[str, Any]) -> dict[str, str]:
    options = raw["options"]
    if not isinstance(options, list) or len(options) != 4:
        raise ValueError(f"'options' must be a list of 4 strings, got {options!r}")
    if raw["answer"] not in ("A", "B", "C", "D"):
        raise ValueError(f"'answer' must be A..D, got {raw['answer']!r}")
    record = {"article": raw["article"], "question": raw["question"]}
    record.update(zip("ABCD", options, strict=True))
    record["answer"] = raw["answer"]
    return record


def _race_files(level: str) -> Callable[[Rows, Rows], dict[str, Rows]]:
    def opencompass_files(train: Rows, evaluation: Rows) -> dict[str, Rows]:
        """``RaceDataset`` needs ``validation/`` and ``test/``; test is scored, validation is only the (unused)
        in-context pool of the 0-shot config, so it holds our training records."""

        def layout(rows: Rows) -> Rows:
            return [{"article": r["article"], "question": r["question"], "options": [r[c] for c in "ABCD"],
                     "answer": r["answer"]} for r in rows]

        return {f"race/validation/{level}.jsonl": layout(train), f"race/test/{level}.jsonl": layout(evaluation)}

    return opencompass_files


def _race(level: str) -> TaskSpec:
    return TaskSpec(
        name=f"race_{level}",
        title=f"RACE-{level}",
        fields=("article", "question", "A", "B", "C", "D"),
        field_roles={"article": "the article", "question": "the question", **{k: f"option {k}" for k in "ABCD"}},
        answer_kind="choice",
        choices="ABCD",
        top_threshold=0.85,
        baseline_prompt=(
            "Read the article, and answer the question by replying A, B, C or D.\n\nArticle:\n{article}\n\n"
            "Q: {question}\n\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
        ),
        description="Reading comprehension: read an English exam article and answer a question with one of four "
        "options.",
        data_subdir=f"race/{level}",
        splits={"train": SplitSource("train"), "eval": SplitSource("test")},
        hub=HubSource("ehovy/race", name=level),
        convert=convert,
        opencompass_files=_race_files(level),
        required_raw_keys=("article", "question", "options", "answer"),
        pool="race",
        opencompass_config="opencompass.configs.datasets.race.race_gen_69ee4f",
        opencompass_datasets="race_datasets",
        opencompass_abbr=f"race-{level}",
        benchmark_eval_size={"middle": 1436, "high": 3498}[level],
    )


MIDDLE = _race("middle")
HIGH = _race("high")
