"""Consistency metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from paft_ext.evaluation.consistency import (
    average_ranks,
    consistency,
    consistency_rows,
    rank_stability_rows,
    spearman,
)
from paft_ext.evaluation.prompt_results import PromptResult


def test_consistency_by_hand():
    # 3 prompts x 4 questions; gold A, B, A, B
    answers = [["A", "B", "A", "A"],
               ["A", "B", "B", ""],
               ["A", "A", "B", "B"]]
    gold = ["A", "B", "A", "B"]
    correct = [[a == g for a, g in zip(row, gold, strict=True)] for row in answers]
    # modal share per question: 3/3, 2/3, 2/3, 1/3 -> mean 2/3
    # disagreeing pairs of 3 per question: 0, 2, 2, 3 -> mean (0 + 2/3 + 2/3 + 1) / 4 = 7/12
    # correct under every prompt: only question 1
    got = consistency(answers, correct)
    assert got["consistency_rate"] == pytest.approx(100 * 2 / 3)
    assert got["pss"] == pytest.approx(7 / 12)
    assert got["all_correct_pct"] == pytest.approx(25.0)


def test_identical_prompts_are_perfectly_consistent():
    got = consistency([["A", "B"], ["A", "B"]], [[True, False], [True, False]])
    assert (got["consistency_rate"], got["pss"], got["all_correct_pct"]) == (100.0, 0.0, 50.0)
    with pytest.raises(ValueError):
        consistency([["A"]], [[True]])  # one prompt: nothing to compare


def test_ranks_and_spearman_by_hand():
    assert average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert spearman([50, 60, 70, 80], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert spearman([50, 60, 70], [9, 8, 7]) == pytest.approx(-1.0)
    # ranks x = 1 2 3 4, y = 2 1 4 3: d^2 = 1+1+1+1 = 4 -> 1 - 6*4 / (4*15) = 0.6
    assert spearman([1, 2, 3, 4], [20, 10, 40, 30]) == pytest.approx(0.6)
    assert spearman([70, 70, 70], [1, 2, 3]) is None  # a constant model ranks nothing


def _result(model: str, prompt: int, answers: str, correct: str) -> PromptResult:
    return PromptResult(model=model, task="sst2", prompt_index=prompt, prompt_id=f"p{prompt}",
                        accuracy=100 * correct.count("1") / len(correct), questions=len(correct), no_answer=0.0,
                        output_tokens=None, seconds=None, opencompass_accuracy=None, item_correct=correct,
                        item_answers=answers)


def test_rows_group_by_model_and_pair_models():
    results = [_result("m1", 0, "A|B|A", "110"), _result("m1", 1, "A|A|A", "100"), _result("m1", 2, "B|B|A", "010"),
               _result("m2", 0, "A|B|B", "111"), _result("m2", 1, "A|B|B", "111"), _result("m2", 2, "B|B|B", "011")]
    rows = {r["model"]: r for r in consistency_rows(results)}
    # m1 question columns: (A,A,B) (B,A,B) (A,A,A) -> modal 2/3, 2/3, 1; pairs disagreeing 2, 2, 0 of 3
    assert rows["m1"]["consistency_rate"] == pytest.approx(100 * (2 / 3 + 2 / 3 + 1) / 3)
    assert rows["m1"]["pss"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert rows["m1"]["all_correct_pct"] == 0.0
    assert rows["m2"]["all_correct_pct"] == pytest.approx(100 * 2 / 3)  # questions 2 and 3 right under all prompts
    (pair,) = rank_stability_rows(results)
    # accuracies m1: 66.7, 33.3, 33.3 -> ranks 3, 1.5, 1.5; m2: 100, 100, 66.7 -> ranks 2.5, 2.5, 1
    # Pearson of (3, 1.5, 1.5) and (2.5, 2.5, 1): centred (1, -.5, -.5) and (.5, .5, -1) -> 0.75 / 1.5 = 0.5
    assert (pair["model_a"], pair["model_b"], pair["prompts"]) == ("m1", "m2", 3)
    assert pair["spearman"] == pytest.approx(0.5)
