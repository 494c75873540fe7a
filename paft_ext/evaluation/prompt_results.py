"""The record of one model on one prompt of one task: what the report collects from an OpenCompass run and what
the bootstrap, consistency, circular, answer-balance and Table 1 computations read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptResult:
    model: str
    task: str
    prompt_index: int
    prompt_id: str
    accuracy: float  # percent
    questions: int
    no_answer: float  # percent
    output_tokens: float | None
    seconds: float | None
    opencompass_accuracy: float | None
    item_correct: str = ""  # "1"/"0" per question in file order: paired comparisons and bootstraps over questions
    prompt_set: str = "test"  # test | test_indep | test_llm | seen_probe | the path of another pool file
    no_answer_strict: float = 0.0  # percent without an answer under the strict letter rule
    extractors_disagree: float = 0.0  # percent of answers where OpenCompass's and the strict extraction differ
    item_answers: str = ""  # the extracted answer per question in file order, "|"-joined ('' = none): consistency
    item_golds: str = ""  # the gold per question in file order, "|"-joined (choice tasks): answer balance
