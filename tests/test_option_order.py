"""Option-order variants: the slot labelled k shows the option the order names, a model's letter is mapped back to
the original option (checked by rendering, not by the mapping's formula), rotations make CircularEval sets,
OpenCompass gets the mapping postprocessor, training refuses variants, and the circular figures match hand counts."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from paft_ext.evaluation.circular import circular_rows
from paft_ext.evaluation.expand import expand_datasets
from paft_ext.evaluation.local_datasets import jsonl_datasets
from paft_ext.evaluation.prompt_results import PromptResult
from paft_ext.evaluation.settings import EvalSettings
from paft_ext.pools.option_order import permute_options, rotations
from paft_ext.pools.perturb import perturb_pool
from paft_ext.pools.store import PoolError, Prompt, load_pool, write_pool
from paft_ext.tasks import get_task
from paft_ext.tasks.answers import extract_choice_in_order

ROOT = Path(__file__).resolve().parents[1]


def _sentinels(task, shown: list[int]) -> dict[str, str]:
    """Field values where option slot k holds the marker <o{shown[k]}>, the other fields plain words."""
    values = {f: f"word{f}" for f in task.fields}
    values.update({field: f"<o{shown[k]}>" for k, field in enumerate(task.options)})
    return values


@pytest.mark.parametrize("name", ["race_high", "piqa", "winogrande", "sst2"])
def test_a_variant_renders_like_the_original_with_its_options_moved(name):
    task = get_task(name)
    letters = task.choices
    prompts = load_pool(ROOT / "data" / "prompts" / task.pool / "test.jsonl", task.fields)[:10]
    for prompt, order in itertools.product(prompts, ["".join(p) for p in itertools.permutations(letters)]):
        moved = permute_options(prompt.text, task.options, letters, order)
        identity = list(range(len(letters)))
        # the variant with options in original positions == the original with slot k holding option order[k]
        assert task.fill(moved, _sentinels(task, identity)) == task.fill(
            prompt.text, _sentinels(task, [letters.index(o) for o in order]))


def test_the_letter_a_model_reads_off_a_variant_maps_back_to_the_gold():
    task = get_task("race_high")
    template = "Q: {question}\n{article}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
    record = {"article": "text", "question": "q?", "A": "red", "B": "blue", "C": "green", "D": "gold", "answer": "C"}
    for order in ("".join(p) for p in itertools.permutations("ABCD")):
        shown = task.fill(permute_options(template, task.options, "ABCD", order), record)
        # a perfect reader: the letter printed on the line that shows the correct option's text
        letter = next(line[0] for line in shown.splitlines() if line.endswith(". " + record[record["answer"]]))
        assert extract_choice_in_order(f"The answer is {letter}.", "ABCD", order) == "C", order
    assert extract_choice_in_order("no idea", "ABCD", "BCDA") == ""


def test_rotations_and_the_option_order_kind(tmp_path):
    task = get_task("piqa")
    pool = load_pool(ROOT / "data" / "prompts" / "piqa" / "test.jsonl", task.fields)[:3]
    rotated = rotations(pool, task.options, task.choices)
    assert [p.id for p in rotated[:2]] == [f"{pool[0].id}@rot0", f"{pool[0].id}@rot1"]
    assert rotated[0].text == pool[0].text and rotated[0].option_order == "AB" and rotated[1].option_order == "BA"
    assert "{sol2}" in rotated[1].text.split("{sol1}")[0]  # rot1 shows sol2 first
    perturbed = perturb_pool(pool, task.fields, ["option_order"], seed=0, options=task.options,
                             letters=task.choices).prompts
    assert [p.option_order for p in perturbed] == ["BA"] * 3  # the one non-identity order of two options
    write_pool(tmp_path / "v.jsonl", perturbed)
    assert load_pool(tmp_path / "v.jsonl", task.fields) == perturbed
    with pytest.raises(PoolError, match=r"v\.jsonl:1: prompt .* is a structure variant \(option_order 'BA'\)"):
        load_pool(tmp_path / "v.jsonl", task.fields, training=True)
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "x", "text": pool[0].text, "option_order": "A1"}) + "\n")
    with pytest.raises(PoolError, match=r"bad\.jsonl:1: .*option_order must be a permutation"):
        load_pool(tmp_path / "bad.jsonl", task.fields)
    gsm8k = get_task("gsm8k")
    assert perturb_pool([Prompt("g", "Solve {question}", "h")], gsm8k.fields, ["option_order"], 0).skipped == {
        "option_order": 1}


def test_opencompass_configs_map_variant_answers_back(tmp_path):
    task = get_task("sst2")
    pool = tmp_path / "sst2" / "circ.jsonl"
    pool.parent.mkdir()
    write_pool(pool, rotations([Prompt("s", "R: {sentence}\nA. {A}\nB. {B}", "h")], task.options, task.choices))
    settings = EvalSettings(tasks=("sst2",), pool_root=str(tmp_path), prompt_sets=(str(pool),))
    plain, variant = expand_datasets(jsonl_datasets("sst2"), task="sst2", settings=settings)
    assert plain["eval_cfg"]["pred_postprocessor"]["order"] == "AB"
    assert variant["eval_cfg"]["pred_postprocessor"] == {"type": "paft_ext.tasks.answers.extract_choice_in_order",
                                                         "options": "AB", "order": "BA"}
    assert variant["infer_cfg"]["prompt_template"]["template"]["round"][0]["prompt"] == "R: {sentence}\nA. {B}\nB. {A}"
    write_pool(pool, [Prompt("s", "R: {sentence}\nA. {A}\nB. {B}", "h", "BCA")])
    with pytest.raises(ValueError, match=r"circ\.jsonl: prompt 's': option_order 'BCA' is not a permutation"):
        expand_datasets(jsonl_datasets("sst2"), task="sst2", settings=settings)


def _result(source: str, k: int, correct: str, model: str = "m", task: str = "piqa") -> PromptResult:
    return PromptResult(model=model, task=task, prompt_index=k, prompt_id=f"{source}@rot{k}",
                        accuracy=100 * correct.count("1") / len(correct), questions=len(correct), no_answer=0.0,
                        output_tokens=None, seconds=None, opencompass_accuracy=None, item_correct=correct,
                        prompt_set="circ.jsonl")


def test_circular_accuracy_counts_questions_right_under_every_rotation():
    results = [_result("p", 0, "1101"), _result("p", 1, "1011"),  # right under both: questions 0 and 3
               _result("q", 0, "0000"), _result("q", 1, "1111"),  # never right under both
               _result("r", 0, "1111")]  # an incomplete group (no rot1): left out
    (row,) = circular_rows(results)
    assert (row["source_prompts"], row["rotations"], row["incomplete_groups"]) == (2, 2, 1)
    assert row["plain_accuracy"] == pytest.approx((75 + 0) / 2)
    assert row["mean_over_rotations"] == pytest.approx(((75 + 75) / 2 + (0 + 100) / 2) / 2)
    assert row["circular_accuracy"] == pytest.approx((50 + 0) / 2)


def test_four_option_groups_cut_short_are_left_out_and_counted():
    full = [_result("p", 0, "11110", task="sciq"), _result("p", 1, "11010", task="sciq"),
            _result("p", 2, "10111", task="sciq"), _result("p", 3, "11101", task="sciq")]
    # a --prompts limit kept only rot0 and rot1 of q: both right on every question, yet never asked rot2/rot3
    cut = [_result("q", 0, "11111", task="sciq"), _result("q", 1, "11111", task="sciq")]
    (row,) = circular_rows(full + cut)
    assert (row["source_prompts"], row["incomplete_groups"], row["rotations"]) == (1, 1, 4)
    assert row["plain_accuracy"] == pytest.approx(80.0)  # p@rot0 alone: 4 of 5
    assert row["mean_over_rotations"] == pytest.approx((80 + 60 + 80 + 80) / 4)
    assert row["circular_accuracy"] == pytest.approx(20.0)  # only question 0 is right under all four rotations
    # the cut group first in the input does not set the rotation count either
    (row,) = circular_rows(cut + full)
    assert (row["rotations"], row["circular_accuracy"]) == (4, pytest.approx(20.0))
    # a model with nothing but cut groups gets a row that says so, with no accuracy
    (row,) = circular_rows(cut)
    assert (row["source_prompts"], row["incomplete_groups"], row["circular_accuracy"]) == (0, 1, None)
