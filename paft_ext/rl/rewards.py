"""GRPO reward functions built from a task's own answer extraction (the rule evaluation scores with).

TRL calls each with the batch's ``completions`` and the dataset's extra columns (here the gold ``answer``) and logs
each one's mean as ``rewards/<name>/mean``; the weights decide what is optimised. Three functions:

* ``correct`` (weight 1): 1.0 when the extracted answer equals the gold. ``answer_rule: strict`` (default) accepts
  only an output that *is* the option letter, so a policy cannot farm reward from prose that happens to contain
  a capital letter (OpenCompass's rule takes "Both…" as B); GSM8K has one rule (the final number).
* ``format`` (weight ``format_reward_weight``, 0 = logged only): 1.0 when the output gives its answer in the
  expected form — an option letter first for choice tasks, a cued final number ("answer is", ``####``,
  ``\\boxed{}``) for GSM8K.
* ``answered`` (weight 0, logged only): 1.0 when OpenCompass's extractor finds any answer; 1 − its mean is the
  no-answer rate evaluation reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paft_ext.tasks import TaskSpec
from paft_ext.tasks.answers import cued_number, extract_choice, extract_choice_strict, normalise_number

RewardFunc = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The generated text of one completion (TRL passes ``[{"role": "assistant", "content": …}]`` for
    conversational prompts, a string otherwise)."""
    if isinstance(completion, list):
        return "".join(turn.get("content", "") for turn in completion)
    return str(completion)


def _gold_matches(task: TaskSpec, extracted: str, gold: str) -> bool:
    if task.answer_kind == "number":
        return extracted != "" and extracted == normalise_number(gold)
    return extracted == gold


def _extract(task: TaskSpec, text: str, strict: bool, symbols: str | None) -> str:
    """The task's extraction, over the symbols a structure-draw prompt showed instead of the letters."""
    if symbols is None or task.answer_kind != "choice":
        return task.extract(text, strict=strict)
    return extract_choice_strict(text, symbols) if strict else extract_choice(text, symbols)


def reward_functions(task: TaskSpec, answer_rule: str) -> list[RewardFunc]:
    """``[correct, format, answered]`` for ``task`` (the order of ``reward_weights``). With structure draws TRL
    passes each row's ``symbols`` column, and answers are extracted over those symbols."""
    strict = answer_rule == "strict"

    def _symbols(symbols: list[str] | None, count: int) -> list[str | None]:
        return list(symbols) if symbols is not None else [None] * count

    def correct(completions: list[Any], answer: list[str], symbols: list[str] | None = None, **_: Any
                ) -> list[float]:
        return [float(_gold_matches(task, _extract(task, completion_text(c), strict, s), gold))
                for c, gold, s in zip(completions, answer, _symbols(symbols, len(answer)), strict=True)]

    def format(completions: list[Any], symbols: list[str] | None = None,  # noqa: A001 (TRL logs the name)
               **_: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        if task.answer_kind == "number":
            return [float(cued_number(t) != "") for t in texts]
        return [float(_extract(task, t, True, s) != "") for t, s in zip(texts, _symbols(symbols, len(texts)),
                                                                           strict=True)]

    def answered(completions: list[Any], symbols: list[str] | None = None, **_: Any) -> list[float]:
        return [float(_extract(task, completion_text(c), False, s) != "")
                for c, s in zip(completions, _symbols(symbols, len(completions)), strict=True)]

    return [correct, format, answered]


def reward_weights(format_weight: float) -> list[float]:
    return [1.0, format_weight, 0.0]
