"""Structure variants for evaluation: symbol and k-shot variants of unseen prompts, read back by a perfect reader (the
symbol printed next to the gold option's text) and mapped to the original option — never by the mapping's formula."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from paft_ext import cli
from paft_ext.evaluation.expand import expand_datasets
from paft_ext.evaluation.local_datasets import jsonl_datasets
from paft_ext.evaluation.report import _original
from paft_ext.evaluation.settings import EvalSettings
from paft_ext.pools.option_order import variant
from paft_ext.pools.perturb import perturb_pool
from paft_ext.pools.store import Prompt, load_pool, write_pool
from paft_ext.pools.structure_variants import kshot_variant, symbol_variant
from paft_ext.tasks import fill_template, get_task
from paft_ext.tasks.answers import extract_choice_in_order

ROOT = Path(__file__).resolve().parents[1]
FOUR = Prompt("q", "Q: {question}\n{article}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer with A, B, C or D.", "hand")
RECORD = {"article": "text", "question": "q?", "A": "red", "B": "blue", "C": "green", "D": "gold"}


def _label_of(block: str, option_text: str) -> str:
    (line,) = [line for line in block.splitlines() if line.endswith(". " + option_text)]
    return line[0]


def test_a_symbol_variant_read_by_a_perfect_reader_maps_back_to_the_gold_under_every_order():
    for order in map("".join, itertools.permutations("ABCD")):
        moved = variant(FOUR, ("A", "B", "C", "D"), "ABCD", order, "~o", "order")
        shown = symbol_variant(moved, "ABCD", np.random.default_rng(0), "test")
        assert shown.option_order == order and shown.symbols in ("1234", "abcd")
        text = fill_template(shown.text, RECORD)
        assert not any(f"\n{x}. " in text for x in "ABCD") and text.endswith(
            f"{', '.join(shown.symbols[:3])} or {shown.symbols[3]}.")
        for gold in "ABCD":
            symbol = _label_of(text, RECORD[gold])
            assert extract_choice_in_order(f"The answer is {symbol}.", "ABCD", order, shown.symbols) == gold
            assert _original(get_task("race_high"), shown, f"{symbol}. because", strict=True) == gold


def test_kshot_examples_are_solved_as_the_prompt_shows_them_and_braces_are_never_drawn():
    moved = symbol_variant(variant(FOUR, ("A", "B", "C", "D"), "ABCD", "CADB", "~o", "order"), "ABCD",
                           np.random.default_rng(1), "test")
    examples = [({**RECORD, "question": f"example {i}", "A": f"a{i}", "B": f"b{i}", "C": f"c{i}", "D": f"d{i}"},
                 "ABCD"[i % 4]) for i in range(6)]
    examples.append(({**RECORD, "question": "{article} trap", "A": "x", "B": "y", "C": "z", "D": "w"}, "A"))
    made = kshot_variant(moved, examples, 3, "ABCD", np.random.default_rng(2), "test")
    assert (made.option_order, made.symbols, made.id) == (moved.option_order, moved.symbols, "q~o~symbols~kshot3")
    blocks = made.text.split("\n\n")
    assert len(blocks) == 4 and blocks[3] == moved.text and "trap" not in made.text
    golds = {fields["question"]: gold for fields, gold in examples}
    for block in blocks[:3]:
        body, answer = block.rsplit("\n", 1)
        question = body.splitlines()[0].removeprefix("Q: ")
        number = question.split()[-1]
        assert answer == _label_of(body, f"{golds[question].lower()}{number}")
    assert kshot_variant(moved, examples[:2], 3, "ABCD", np.random.default_rng(0), "t") is None  # too few


def test_opencompass_gets_the_symbols_and_bad_symbols_are_refused(tmp_path):
    task = get_task("sst2")
    pool = tmp_path / "sst2" / "sym.jsonl"
    pool.parent.mkdir()
    write_pool(pool, [Prompt("s", "R: {sentence}\n1. {B}\n2. {A}", "h", "BA", "12")])
    settings = EvalSettings(tasks=("sst2",), pool_root=str(tmp_path), prompt_sets=(str(pool),))
    (config,) = expand_datasets(jsonl_datasets("sst2"), task="sst2", settings=settings)
    assert config["eval_cfg"]["pred_postprocessor"] == {"type": "paft_ext.tasks.answers.extract_choice_in_order",
                                                        "options": "AB", "order": "BA", "symbols": "12"}
    assert load_pool(pool, task.fields)[0].symbols == "12"
    write_pool(pool, [Prompt("s", "R: {sentence}\n1. {A}\n2. {B}", "h", "", "123")])
    with pytest.raises(ValueError, match=r"sym\.jsonl: prompt 's': symbols '123' name 3 options"):
        expand_datasets(jsonl_datasets("sst2"), task="sst2", settings=settings)
    (tmp_path / "dup.jsonl").write_text(json.dumps({"id": "d", "text": "{sentence} {A} {B}", "symbols": "11"}) + "\n")
    with pytest.raises(ValueError, match=r"dup\.jsonl:1: prompt 'd': symbols must be distinct"):
        load_pool(tmp_path / "dup.jsonl", task.fields)


@pytest.mark.parametrize("name", ["sst2", "piqa", "hellaswag"])
def test_shipped_test_prompts_get_symbol_variants(name):
    task = get_task(name)
    pool = load_pool(ROOT / "data" / "prompts" / task.pool / "test.jsonl", task.fields)
    result = perturb_pool(pool, task.fields, ["symbols"], 0, options=task.options, letters=task.choices)
    assert len(result.prompts) + result.skipped["symbols"] == len(pool) and len(result.prompts) >= 0.8 * len(pool)
    for made in result.prompts:
        assert made.symbols in ("123456789"[:len(task.choices)], "abcdefghi"[:len(task.choices)])
        assert made.text != next(p.text for p in pool if p.id == made.id.removesuffix("~symbols"))


def test_the_cli_writes_kshot_variants_from_the_training_split(tmp_path, shared_root):
    out = tmp_path / "k.jsonl"
    cli.main(["pools", "perturb", "--task", "sst2", "--from", str(ROOT / "data" / "prompts" / "sst2" / "test.jsonl"),
              "--out", str(out), "--kinds", "kshot", "--shots", "1"])
    made = load_pool(out, get_task("sst2").fields)
    assert len(made) == 50 and all(p.id.endswith("~kshot1") and p.text.count("\n\n") >= 1 for p in made)
    with pytest.raises(SystemExit, match="--shots must be at least 1"):
        cli.main(["pools", "perturb", "--task", "sst2", "--from", str(ROOT / "data" / "prompts" / "sst2" /
                  "test.jsonl"), "--out", str(tmp_path / "z.jsonl"), "--kinds", "kshot", "--shots", "0"])


def test_pools_check_treats_a_structure_variant_of_a_test_prompt_as_that_prompt(tmp_path):
    from paft_ext.pools.leakage import check_pool

    task = get_task("piqa")
    shipped = ROOT / "data" / "prompts" / "piqa"
    train, test = load_pool(shipped / "train.jsonl", task.fields), load_pool(shipped / "test.jsonl", task.fields)
    _, clean = check_pool(shipped, task)
    assert not [p for p in clean if p.kind == "variant"]
    ordered = variant(test[0], task.options, task.choices, "BA", "~o", "order")
    relabelled = symbol_variant(test[1], task.choices, np.random.default_rng(0), "s")
    examples = [({"goal": "open a jar", "sol1": "twist", "sol2": "hit"}, "A")]
    shot = kshot_variant(test[2], examples, 1, task.choices, np.random.default_rng(0), "k")
    assert relabelled is not None and shot is not None
    # written into train as plain prompts (no option_order / symbols fields), as a careless user would
    smuggled = [Prompt(f"x{k}", p.text, "hand") for k, p in enumerate((ordered, relabelled, shot))]
    folder = tmp_path / "piqa"
    folder.mkdir()
    write_pool(folder / "train.jsonl", [*train[:40], *smuggled])
    write_pool(folder / "test.jsonl", test[:5])
    _, problems = check_pool(folder, task)
    flagged = {p.prompt_id: p.detail for p in problems if p.kind == "variant"}
    assert sorted(flagged) == [test[0].id, test[1].id, test[2].id]
    assert "train prompt x1" in flagged[test[1].id]
