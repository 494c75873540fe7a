"""The task registry: fields, baseline prompts, template filling and answer extraction."""

from __future__ import annotations

import pytest

from paft_ext.tasks import PLACEHOLDER, TASKS, get_task


def test_registry_holds_the_tasks_with_opencompass_reader_columns():
    assert list(TASKS) == ["hellaswag", "piqa", "winogrande", "race_middle", "race_high", "gsm8k", "sst2", "sciq"]
    assert TASKS["piqa"].fields == ("goal", "sol1", "sol2")
    assert TASKS["hellaswag"].fields == ("ctx", "A", "B", "C", "D")
    assert TASKS["winogrande"].fields == ("prompt", "only_option1", "only_option2")
    assert TASKS["race_high"].fields == ("article", "question", "A", "B", "C", "D")
    assert TASKS["gsm8k"].fields == ("question",)
    assert TASKS["sst2"].fields == ("sentence", "A", "B") and TASKS["sciq"].choices == "ABCD"
    assert [t.name for t in TASKS.values() if t.opencompass_config is None] == ["sst2", "sciq"]
    assert all(t.pool_shipped for t in TASKS.values())
    assert {t.name: t.top_threshold for t in TASKS.values()} == {
        "hellaswag": 0.90, "piqa": 0.85, "winogrande": 0.80, "race_middle": 0.85, "race_high": 0.85, "gsm8k": 0.75,
        "sst2": 0.85, "sciq": 0.85}
    assert TASKS["race_middle"].pool == TASKS["race_high"].pool == "race"


@pytest.mark.parametrize("name", list(TASKS))
def test_baseline_prompt_uses_exactly_the_task_fields(name):
    task = TASKS[name]
    assert set(PLACEHOLDER.findall(task.baseline_prompt)) == set(task.fields)


def test_unknown_task_names_the_known_ones():
    with pytest.raises(KeyError, match="known tasks: hellaswag, piqa"):
        get_task("piqaa")


def test_fill_replaces_known_fields_once_and_leaves_other_braces():
    task = get_task("gsm8k")
    # A value containing a placeholder is not substituted again; \boxed{} and {unknown} survive; no str.format.
    out = task.fill("Q: {question} {unknown} \\boxed{} {{question}}", {"question": "is {question} 2+2?"})
    assert out == "Q: is {question} 2+2? {unknown} \\boxed{} {is {question} 2+2?}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", "B"),
        ("The answer is A.", "A"),
        ("The correct option is (B).", "B"),
        ("\n\n", ""),
        ("I am not sure", ""),
        # OpenCompass's last-resort pattern takes any capital option letter: parity includes its quirks.
        ("Because the ball is round", "B"),
        ("Answer: (B) because", "A"),
    ],
)
def test_choice_extraction_follows_opencompass(text, expected):
    assert get_task("piqa").extract(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So she has 3 + 4 = 7 left. The answer is \\boxed{1,200}.", "1200"),
        ("The answer is $18.00", "18"),
        ("#### -3.50", "-3.5"),
        ("first 12 then 30 apples", "30"),
        ("it is 5.\nQuestion: what about 9?", "5"),
        ("no number here", ""),
    ],
)
def test_number_extraction(text, expected):
    assert get_task("gsm8k").extract(text) == expected


@pytest.mark.parametrize(
    ("text", "stock", "strict"),
    [
        ("B", "B", "B"),
        ("(B) because it floats", "B", "B"),
        ("[A]", "A", "A"),
        ("B.", "B", "B"),
        ("Both are bad", "B", ""),  # OpenCompass takes any capital option letter; the strict rule does not
        ("Answer: (B) because", "A", ""),
        ("Because", "B", ""),
        ("A2", "A", ""),
    ],
)
def test_strict_extraction_reads_only_an_answer_letter(text, stock, strict):
    task = get_task("piqa")
    assert (task.extract(text), task.extract(text, strict=True)) == (stock, strict)
