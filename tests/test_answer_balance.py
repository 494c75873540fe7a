"""Answer balance: accuracy per gold letter, balanced accuracy, answer vs gold letter shares and the collapse flag,
checked against hand counts — directly and through a run folder's report."""

from __future__ import annotations

import json

import pytest

from paft_ext.evaluation.answer_balance import COLLAPSE_POINTS, answer_balance

GOOD = "Review: {sentence}\nA. {A}\nB. {B}\nAnswer:"


def test_a_half_collapse_toward_a_is_flagged_with_hand_counted_figures():
    # 10 gold A, 10 gold B; the model answers A to 9 of the As and to 6 of the Bs, B to 3 Bs, nothing to 1 A and 1 B
    golds = ["A"] * 10 + ["B"] * 10
    answers = ["A"] * 9 + [""] + ["A"] * 6 + ["B"] * 3 + [""]
    balance = answer_balance(golds, answers, "AB")
    assert balance.accuracy_per_gold == {"A": 90.0, "B": 30.0}
    assert balance.balanced_accuracy == pytest.approx(60.0)
    assert balance.answer_share == {"A": 75.0, "B": 15.0, "none": 10.0}
    assert balance.gold_share == {"A": 50.0, "B": 50.0}
    assert balance.collapse and balance.collapse_letter == "A"  # 75 − 50 = 25 > 15


def test_a_balanced_model_and_the_boundary_are_not_flagged():
    golds = ["A"] * 10 + ["B"] * 10
    fine = answer_balance(golds, ["A"] * 9 + ["B"] + ["B"] * 9 + ["A"], "AB")
    assert (fine.balanced_accuracy, fine.collapse) == (90.0, False)
    # exactly 15 points above the gold share is not "more than 15"
    edge = answer_balance(["A"] * 20 + ["B"] * 20, ["A"] * 20 + ["A"] * 6 + ["B"] * 14, "AB")
    assert edge.answer_share["A"] - edge.gold_share["A"] == COLLAPSE_POINTS and not edge.collapse
    # an uneven gold split: answering B to everything on 30 % B golds is a collapse toward B
    skewed = answer_balance(["A"] * 7 + ["B"] * 3, ["B"] * 10, "AB")
    assert skewed.accuracy_per_gold == {"A": 0.0, "B": 100.0} and skewed.collapse_letter == "B"


def test_four_options_with_a_letter_no_gold_uses():
    balance = answer_balance(["A", "B", "C", "A"], ["D", "B", "C", "A"], "ABCD")
    assert balance.accuracy_per_gold == {"A": 50.0, "B": 100.0, "C": 100.0}  # D is never gold: no class of its own
    assert balance.balanced_accuracy == pytest.approx(250 / 3)
    assert balance.answer_share["D"] == 25.0 and balance.gold_share["D"] == 0.0
    assert balance.collapse_letter == "D"  # 25 points above its gold share of 0


def test_the_report_shows_the_balance_of_a_run(tmp_path):
    from paft_ext.evaluation.launch import record_run
    from paft_ext.evaluation.report import write_report
    from paft_ext.evaluation.settings import EvalSettings
    from paft_ext.tasks import get_task

    pool = tmp_path / "mine.jsonl"
    pool.write_text("".join(json.dumps({"id": f"p{k}", "text": f"{k}: " + GOOD}) + "\n" for k in range(2)))
    run = tmp_path / "run"
    golds = ["A", "A", "B", "B"]
    predictions = {"collapsed": (["A", "A", "A", "A"], ["A", "A", "A", "B"]), "fine": (["A", "A", "B", "B"],
                                                                                       ["A", "B", "B", "B"])}
    for model, per_prompt in predictions.items():
        (run / "predictions" / model).mkdir(parents=True)
        for k, answers in enumerate(per_prompt):
            items = {str(q): {"origin_prompt": [{"role": "HUMAN", "prompt": get_task("sst2").fill(
                f"{k}: " + GOOD, {"sentence": f"review {q}", "A": "negative", "B": "positive"})}],
                "prediction": a, "gold": g} for q, (a, g) in enumerate(zip(answers, golds, strict=True))}
            (run / "predictions" / model / f"sst2_mine_p{k:02d}.json").write_text(json.dumps(items))
    record_run(run, EvalSettings(tasks=("sst2",), prompt_sets=(str(pool),), include_base=False,
                                 adapters={"collapsed": "x", "fine": "y"}))
    document = write_report(run, tmp_path / "report", plots=False)
    rows = {r["model"]: r for r in document["rows"] if r["task"] == "sst2"}
    # collapsed: 8 items, answers A 7 / B 1, golds A 4 / B 4; gold-A right 4/4, gold-B right 1/4
    assert rows["collapsed"]["accuracy_per_gold"] == "A:100.0 B:25.0"
    assert rows["collapsed"]["balanced_accuracy"] == pytest.approx(62.5)
    assert rows["collapsed"]["answer_share"] == "A:87.5 B:12.5 none:0.0"
    assert rows["collapsed"]["collapse"] is True and rows["collapsed"]["collapse_letter"] == "A"
    # fine: answers A 3 / B 5: 62.5 − 50 = 12.5, not a collapse
    assert rows["fine"]["collapse"] is False and rows["fine"]["balanced_accuracy"] == pytest.approx(87.5)
    # per prompt (golds A A B B): collapsed answers AAAA (A 100 vs 50) and AAAB (A 75 vs 50) — both prompts collapse;
    # fine answers AABB (balanced) and ABBB (B 75 vs 50) — its second prompt collapses toward B on its own
    assert (rows["collapsed"]["collapsed_prompts"], rows["collapsed"]["collapsed_prompt_ids"]) == (2, "p0 p1")
    assert (rows["fine"]["collapsed_prompts"], rows["fine"]["collapsed_prompt_ids"]) == (1, "p1")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| collapsed | sst2 |" in text and "**yes: A**" in text
    assert "| 2 of 2: p0 p1 |" in text and "| 1 of 2: p1 |" in text
    assert "collapse" in (tmp_path / "report" / "report.csv").read_text().splitlines()[0]


def test_a_set_balanced_overall_can_hide_prompts_that_answer_one_letter():
    from types import SimpleNamespace

    from paft_ext.evaluation.answer_balance import collapsed_prompts, pooled_balance

    golds = "A|A|B|B"
    results = [SimpleNamespace(prompt_id="all-a", item_golds=golds, item_answers="A|A|A|A"),
               SimpleNamespace(prompt_id="all-b", item_golds=golds, item_answers="B|B|B|B"),
               SimpleNamespace(prompt_id="good", item_golds=golds, item_answers="A|A|B|B")]
    pooled = pooled_balance(results, "AB")
    assert pooled.answer_share == {"A": 50.0, "B": 50.0, "none": 0.0} and not pooled.collapse  # 6 A, 6 B of 12
    assert collapsed_prompts(results, "AB") == ["all-a", "all-b"]
    assert collapsed_prompts([SimpleNamespace(prompt_id="x", item_golds="", item_answers="")], "AB") is None
