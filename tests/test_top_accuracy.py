"""TopAccuracy selection on crafted cases: a stub generator whose answers depend on the prompt, so every prompt's true
accuracy is known in advance."""

from __future__ import annotations

import csv

import pytest

from paft_ext.benchmark_data.source import Record
from paft_ext.experiments.top_accuracy import select_top_accuracy, write_scores
from paft_ext.pools.store import Prompt
from paft_ext.tasks import get_task

PIQA = get_task("piqa")


def _records(answers: str) -> list[Record]:
    return [Record({"goal": f"goal {i}", "sol1": "x", "sol2": "y", "answer": a}, f"crafted:{i}")
            for i, a in enumerate(answers)]


def _generator(records: list[Record], calls: list[int]):
    """'ORACLE' prompts answer right, 'SAY-A' prompts say A, 'MUTE' prompts give no letter, 'HALF' prompts are
    right on even goals only."""
    gold = {r.values["goal"]: r.values["answer"] for r in records}

    def generate(texts: list[str]) -> list[str]:
        calls.append(len(texts))
        out = []
        for text in texts:
            goal = text.split("Q=")[1].split("|")[0]
            right = gold[goal]
            wrong = "B" if right == "A" else "A"
            if "ORACLE" in text:
                out.append(f"The answer is {right}.")
            elif "SAY-A" in text:
                out.append("A")
            elif "HALF" in text:
                out.append(right if int(goal.split()[-1]) % 2 == 0 else wrong)
            else:
                out.append("I do not know")
        return out

    return generate


def _pool(kinds: list[str]) -> list[Prompt]:
    return [Prompt(f"p{i}", f"{kind} Q={{goal}}| {{sol1}} / {{sol2}}", "crafted") for i, kind in enumerate(kinds)]


def test_picks_the_prompt_with_the_highest_measured_accuracy(tmp_path):
    records = _records("ABBABABBAB")
    calls: list[int] = []
    pool = _pool(["MUTE", "SAY-A", "HALF", "ORACLE", "SAY-A"])
    selection = select_top_accuracy(PIQA, pool, records, _generator(records, calls), screen=4, confirm=6,
                                    finalists=2, batch_size=3)
    assert selection.prompt.id == "p3"
    by_id = {s.prompt_id: s for s in selection.scores}
    # screen: SAY-A, HALF and the second SAY-A tie at 2/4 with no no-answers; pool order makes p1 the finalist
    assert [by_id[p].records for p in ("p0", "p1", "p2", "p4")] == [4, 10, 4, 4]
    assert (by_id["p2"].correct, by_id["p0"].no_answer, by_id["p0"].correct) == (2, 4, 0)
    assert by_id["p1"].correct == 2 + 2  # confirm records 4-9 are B A B B A B: SAY-A is right on the two A's
    assert by_id["p3"].correct == 10 and by_id["p3"].accuracy == 100.0
    assert sum(calls) == 5 * 4 + 2 * 6
    write_scores(selection, tmp_path / "scores.csv")
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert rows[0]["prompt_id"] == "p3" and rows[0]["chosen"] == "True" and rows[0]["accuracy"] == "100.00"


def test_confirm_round_overturns_a_lucky_screen():
    # Screen records are all 'A': SAY-A scores 100% there, like ORACLE; the confirm records are all 'B'.
    records = _records("AAA" + "BBBBBB")
    pool = _pool(["SAY-A", "ORACLE", "MUTE"])
    selection = select_top_accuracy(PIQA, pool, records, _generator(records, []), screen=3, confirm=6, finalists=2)
    by_id = {s.prompt_id: s for s in selection.scores}
    assert by_id["p0"].accuracy == pytest.approx(100 * 3 / 9) and by_id["p1"].accuracy == 100.0
    assert selection.prompt.id == "p1"
    # Without the confirm round the tie at 100% goes to the earlier prompt: the lucky one.
    screen_only = select_top_accuracy(PIQA, pool, records, _generator(records, []), screen=3, confirm=0, finalists=2)
    assert screen_only.prompt.id == "p0"


def test_too_few_scoring_records_is_refused():
    records = _records("AB")
    with pytest.raises(ValueError, match="needs 5 scoring records, got 2"):
        select_top_accuracy(PIQA, _pool(["SAY-A"]), records, _generator(records, []), screen=2, confirm=3,
                            finalists=1)
