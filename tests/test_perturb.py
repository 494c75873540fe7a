"""Perturbed prompt sets keep every placeholder, change only literal text, and are reproducible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paft_ext.pools.perturb import PERTURBATIONS, PerturbError, perturb_pool
from paft_ext.pools.store import Prompt, load_pool
from paft_ext.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
FIELD = re.compile(r"\{[A-Za-z_]\w*\}")


@pytest.mark.parametrize("task", [t for t in TASKS.values() if t.pool_shipped], ids=lambda t: t.name)
def test_every_shipped_test_prompt_keeps_its_placeholders_under_every_kind(task):
    pool = load_pool(ROOT / "data" / "prompts" / task.pool / "test.jsonl", task.fields)
    result = perturb_pool(pool, task.fields, list(PERTURBATIONS), seed=0)
    sources = {p.id: p for p in pool}
    assert len(result.prompts) + sum(result.skipped.values()) == len(pool) * len(PERTURBATIONS)
    for prompt in result.prompts:
        source = sources[prompt.id.split("~")[0]]
        assert FIELD.findall(prompt.text) == FIELD.findall(source.text)  # same fields, same order, intact
        assert prompt.text != source.text
        assert prompt.source.startswith(f"perturbed:{prompt.id.split('~')[1]}:seed=0 of {source.id}")
    # typos, dropped words, casing and whitespace apply to any prompt with words in it
    assert all(result.skipped[k] == 0 for k in ("typo", "word_drop", "casing", "whitespace"))


def test_literal_text_changes_the_way_each_kind_says():
    prompt = Prompt("p", "Question: {goal}\nA. {sol1}\nB. {sol2}\nReply with the letter only.", "hand")
    fields = ("goal", "sol1", "sol2")
    out = {p.id.split("~")[1]: p.text for p in perturb_pool([prompt], fields, list(PERTURBATIONS), seed=3).prompts}
    casing = out["casing"]
    assert casing.lower() == prompt.text.lower()
    assert "\nA. {sol1}\nB. {sol2}" in casing  # one-letter labels and placeholders keep their case
    assert out["whitespace"].split() == prompt.text.split()  # only spacing differs
    kept, words_in = re.findall(r"[A-Za-z]+", out["word_drop"]), re.findall(r"[A-Za-z]+", prompt.text)
    remaining = iter(words_in)
    assert all(word in remaining for word in kept) and len(kept) < len(words_in)  # words removed, in order, none added
    typo_words, words = out["typo"].split(), prompt.text.split()
    assert len(typo_words) == len(words) and 1 <= sum(a != b for a, b in zip(typo_words, words, strict=True)) <= 3
    labels = re.findall(r"(\S+) \{sol[12]\}", out["label_style"])
    assert labels in (["(A)", "(B)"], ["A)", "B)"], ["[A]", "[B]"], ["A:", "B:"])  # one new style for both
    assert out["label_style"].replace(labels[0], "A.").replace(labels[1], "B.") == prompt.text


def test_seeded_and_refusing_unknown_kinds():
    pool = [Prompt("p", "Pick for {goal}: A) {sol1} or B) {sol2}. Which letter fits better?", "hand")]
    fields = ("goal", "sol1", "sol2")
    first = perturb_pool(pool, fields, ["typo", "word_drop"], seed=1).prompts
    assert first == perturb_pool(pool, fields, ["typo", "word_drop"], seed=1).prompts
    assert [p.text for p in first] != [p.text for p in perturb_pool(pool, fields, ["typo", "word_drop"], 2).prompts]
    no_labels = [Prompt("q", "{goal} then {sol1} versus {sol2}, which one", "hand")]
    assert perturb_pool(no_labels, fields, ["label_style"], 0).skipped == {"label_style": 1}
    with pytest.raises(PerturbError, match="unknown perturbation.*shuffle"):
        perturb_pool(pool, fields, ["shuffle"], 0)


def test_mixed_gives_one_variant_per_prompt_taking_the_kinds_in_turn():
    fields = ("goal", "sol1", "sol2")
    labelled = "Pick for {goal}: A) {sol1} or B) {sol2}. Which letter fits better?"
    unlabelled = "{goal} Then {sol1} versus {sol2}, which one is right"  # mixed case: casing changes it
    pool = [Prompt(f"p{i}", text, "hand") for i, text in enumerate([labelled, labelled, unlabelled, labelled])]
    kinds = ["typo", "label_style", "casing"]
    mixed = perturb_pool(pool, fields, kinds, seed=5, mixed=True)
    # p0 typo, p1 label_style, p2 casing, p3 typo again; an unlabelled prompt at label_style's turn would pass on
    assert [p.id for p in mixed.prompts] == ["p0~typo", "p1~label_style", "p2~casing", "p3~typo"]
    everything = {p.id: p for p in perturb_pool(pool, fields, kinds, seed=5).prompts}
    assert all(everything[p.id] == p for p in mixed.prompts)  # the very variant the full set holds
    # label_style's turn on an unlabelled prompt passes to the next kind, and the skip is counted
    shifted = perturb_pool([pool[2], pool[2]], fields, ["label_style", "typo"], seed=0, mixed=True)
    assert [p.id for p in shifted.prompts] == ["p2~typo", "p2~typo"]
    assert shifted.skipped == {"label_style": 1, "typo": 0}
    with pytest.raises(PerturbError, match="none of label_style changes p2"):
        perturb_pool([pool[2]], fields, ["label_style"], seed=0, mixed=True)


def test_mixed_counts_a_skip_under_the_prompts_first_kind_only():
    bare = [Prompt("b", "{goal}\n{sol1}\n{sol2}", "hand")]  # no label, no word: only whitespace changes it
    result = perturb_pool(bare, ("goal", "sol1", "sol2"), ["label_style", "casing", "whitespace"], seed=0, mixed=True)
    assert [p.id for p in result.prompts] == ["b~whitespace"]
    assert result.skipped == {"label_style": 1, "casing": 0, "whitespace": 0}


def test_perturb_that_changes_nothing_writes_nothing(tmp_path):
    from paft_ext import cli
    from paft_ext.pools.store import write_pool

    write_pool(tmp_path / "g.jsonl", [Prompt("b", "Solve: {question}", "hand")])
    with pytest.raises(SystemExit, match=r"none of label_style changes any of the 1 prompts of .*g\.jsonl"):
        cli.main(["pools", "perturb", "--task", "gsm8k", "--from", str(tmp_path / "g.jsonl"), "--kinds", "label_style",
                  "--out", str(tmp_path / "out.jsonl")])
    assert not (tmp_path / "out.jsonl").exists()


def test_option_order_on_a_task_without_options_writes_nothing_and_foreign_orders_are_refused(tmp_path):
    from paft_ext import cli
    from paft_ext.pools.store import write_pool
    from paft_ext.tasks import get_task

    sst2 = get_task("sst2")
    write_pool(tmp_path / "g.jsonl", [Prompt("g", "Solve: {question}", "hand")])
    with pytest.raises(SystemExit, match="none of option_order changes any of the 1 prompts"):
        cli.main(["pools", "perturb", "--task", "gsm8k", "--from", str(tmp_path / "g.jsonl"), "--kinds",
                  "option_order", "--out", str(tmp_path / "o.jsonl")])
    assert not (tmp_path / "o.jsonl").exists()
    foreign = [Prompt("z", "R: {sentence}\nA. {A}\nB. {B}", "hand", "ZY")]
    with pytest.raises(PerturbError, match="option_order 'ZY' is not a permutation of the task's options AB"):
        perturb_pool(foreign, sst2.fields, ["typo"], 0, options=sst2.options, letters=sst2.choices)
