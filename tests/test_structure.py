"""Structure draws: the trained answer is the symbol printed next to the gold option's text, read back from the
rendered text (never from the code's mapping), for every option order of a 2- and a 4-option task."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
from datasets import Dataset

from paft_ext.core.config import PaftConfigError, build_config
from paft_ext.core.schedule import CANONICAL, Geometry, ScheduleSpec, build_schedule
from paft_ext.core.structure import WindowStructure, option_layout, render_one, render_with_shots
from paft_ext.core.trace import identify_prompts
from paft_ext.llamafactory.aligned_rows import FIELDS_COLUMN, render_train
from paft_ext.pools.option_symbols import StructureError, check_symbol_sets, symbolize
from paft_ext.pools.store import Prompt

TWO = ("Which way works for {goal}?\n{A}. {sol1}\n{B}. {sol2}\nAnswer with {A} or {B}.", ("sol1", "sol2"), "AB")
FOUR = ("{ctx}\n({A}) {a1}\n({B}) {a2}\n({C}) {a3}\n({D}) {a4}\nPick {A}, {B}, {C} or {D}.", ("a1", "a2", "a3", "a4"),
        "ABCD")


def _template(layout: str, letters: str) -> str:
    """The layout with its label letters written out (``{A}`` -> ``A``), as pool templates write them."""
    return layout.format(**{x: x for x in letters}, **{f: "{" + f + "}" for f in ("goal", "sol1", "sol2", "ctx",
                                                                                   "a1", "a2", "a3", "a4")})


def _symbol_next_to(text: str, option_text: str) -> str:
    """The label printed on the line that shows ``option_text`` (its last letter or digit before the text)."""
    lines = [line for line in text.splitlines() if line.endswith(" " + option_text)]
    assert len(lines) == 1, (text, option_text)
    return re.findall(r"[A-Za-z0-9]", lines[0][: -len(option_text)])[-1]


@pytest.mark.parametrize("layout, options, letters", [TWO, FOUR])
@pytest.mark.parametrize("symbols_of", [lambda n: "ABCD"[:n], lambda n: "1234"[:n], lambda n: "abcd"[:n]])
def test_answer_is_the_symbol_next_to_the_gold_text_for_every_order(layout, options, letters, symbols_of):
    template = _template(layout, letters)
    texts = {o: f"option text {o}" for o in options}
    fields = {"goal": "open a jar", "ctx": "A man walks in.", **texts}
    symbols = symbols_of(len(letters))
    seen = set()
    for order in map("".join, itertools.permutations(letters)):
        for gold_index, gold in enumerate(letters):
            text, answer = render_one(template, fields, gold, options, letters, WindowStructure(order, symbols, 0))
            assert answer == _symbol_next_to(text, texts[options[gold_index]])
            assert set(re.findall(r"option text (\w+)", text)) == set(options)  # every option still shown once
            seen.add(text.splitlines()[1])
        # the closing instruction names the shown symbols, not the letters
        assert text.splitlines()[-1].startswith(("Answer with " + symbols[0], "Pick " + symbols[0]))
    assert len(seen) == len(letters)  # the first slot showed every option over the orders


def test_shots_precede_the_row_in_its_format_with_their_own_remapped_answers():
    template = _template(TWO[0], "AB")
    records = [({"goal": f"goal {i}", "sol1": f"first {i}", "sol2": f"second {i}"}, "AB"[i % 2]) for i in range(3)]
    drawn = WindowStructure("BA", "12", 2)
    text, answer = render_with_shots(template, *records[0], records[1:], ("sol1", "sol2"), "AB", drawn)
    blocks = text.split("\n\n")
    assert len(blocks) == 3 and "goal 0" in blocks[2] and "goal 1" in blocks[0] and "goal 2" in blocks[1]
    for block, (fields, gold) in zip(blocks[:2], records[1:], strict=True):
        body, shown = block.rsplit("\n", 1)
        assert shown == _symbol_next_to(body, fields["sol1" if gold == "A" else "sol2"])
    assert answer == _symbol_next_to(blocks[2], "first 0")  # record 0's gold is A = sol1


@pytest.mark.parametrize("text, expected", [
    ("A critic wrote: {s}\nA. {A}\nB. {B}", "A critic wrote: {s}\n{_sym_A}. {A}\n{_sym_B}. {B}"),
    ("A means {A}; B means {B}.", "{_sym_A} means {A}; {_sym_B} means {B}."),
    ("Answer with A if {A}, B otherwise. A film review: {s}", "Answer with {_sym_A} if {A}, {_sym_B} otherwise. "
                                                             "A film review: {s}"),
    ("Choose A or B.", "Choose {_sym_A} or {_sym_B}."),
    ("Pile A holds {A} reviews.", "Pile {_sym_A} holds {A} reviews."),
    ("Reply (A/B), e.g. 'B'.", "Reply ({_sym_A}/{_sym_B}), e.g. '{_sym_B}'."),
    ("Rate it: {s} -> {A} or {B}", "Rate it: {s} -> {A} or {B}"),  # no letter: nothing to convert
])
def test_symbolize_turns_labels_into_slots_and_keeps_articles(text, expected):
    assert symbolize(text, "AB") == expected


def test_a_template_without_letters_keeps_the_letters_as_its_symbols():
    text, answer = render_one("{s}: {A} or {B}?", {"s": "x", "A": "neg", "B": "pos"}, "B", ("A", "B"), "AB",
                              WindowStructure("BA", "12", 0))
    assert (text, answer) == ("x: pos or neg?", "A")  # order still moves; no symbol can be shown, so the letter


def _spec(**changes):
    base = dict(n_rows=6, epochs=2, max_steps=0, geometry=Geometry(2, 1, 1), window=1, window_unit="step",
                sampling="uniform", epoch_reshuffle=True, pool_size=2, pool_digest="d", seed=5)
    return ScheduleSpec(**{**base, **changes})


def test_schedule_draws_are_seeded_per_window_and_shots_are_never_the_row():
    spec = _spec(letters="AB", option_order=True, option_symbols=("AB", "12", "ab"), max_shots=2)
    one, two = build_schedule(spec), build_schedule(spec)
    assert one.structure.windows == two.structure.windows
    assert np.array_equal(one.structure.examples, two.structure.examples)
    assert [w["window"] for w in one.windows()] == list(range(6))
    for position, row in enumerate(one.order.tolist()):
        shots = one.structure.examples[position].tolist()
        assert row not in shots and len(set(shots)) == 2
    other = build_schedule(_spec(letters="AB", option_order=True, option_symbols=("AB", "12", "ab"), max_shots=2,
                                 seed=6))
    assert other.structure.windows != one.structure.windows
    assert spec.digest() != _spec().digest()


def test_a_schedule_without_structure_keeps_its_digest_from_before_structure_existed():
    # the value the code before structure draws gave for this spec (commit c835e14's ScheduleSpec)
    assert _spec().digest() == "268dc19863a5dbede98854143edff8f0ef6362d4e68c1efa239f4254e41a9f5c"


def test_structure_ratio_keeps_an_exact_seeded_share_of_windows_and_leaves_the_others_draws_as_they_were():
    keys = {"letters": "ABCD", "option_order": True, "option_symbols": ("ABCD", "1234"), "max_shots": 2}
    full = build_schedule(_spec(**keys, canonical_ratio=0.5))
    half = build_schedule(_spec(**keys, canonical_ratio=0.5, structure_ratio=0.5))
    plain = WindowStructure("ABCD", "ABCD", 0)
    canonical = [w["prompt_index"] == CANONICAL for w in half.windows()]
    assert canonical == [w["prompt_index"] == CANONICAL for w in full.windows()] and sum(canonical) == 3
    same = [a == b for a, b in zip(half.structure.windows, full.structure.windows, strict=True)]
    assert all(s or b == plain for s, b in zip(same, half.structure.windows, strict=True))
    drawn = [i for i, b in enumerate(half.structure.windows) if not canonical[i] and b != plain]
    assert all(full.structure.windows[i] != plain for i in range(6) if not canonical[i])  # (so drawn is countable)
    assert len(drawn) == 2  # round(0.5 · 3) of the 3 windows that are not canonical; the third keeps AB…, 0 shots
    assert half.spec.digest() != full.spec.digest() and "structure_ratio" not in full.spec.as_dict()
    with pytest.raises(ValueError, match="paft_structure_ratio"):
        build_schedule(_spec(**keys, structure_ratio=0.0))
    with pytest.raises(StructureError, match="paft_structure_ratio 0.1 of 3 windows rounds to none"):
        build_schedule(_spec(**keys, canonical_ratio=0.5, structure_ratio=0.1))


def test_render_train_remaps_each_row_answer_and_shows_its_symbols():
    pool = [Prompt("p0", "Goal {goal}\nA. {sol1}\nB. {sol2}\nAnswer with A or B.", "x")]
    rows = [{"goal": f"g{i}", "sol1": f"one {i}", "sol2": f"two {i}", "gold": "AB"[i % 2]} for i in range(6)]
    data = Dataset.from_list([{"_prompt": [{"role": "user", "content": "fixed"}],
                               "_response": [{"role": "assistant", "content": r["gold"]}], "_system": "",
                               FIELDS_COLUMN: json.dumps({k: r[k] for k in ("goal", "sol1", "sol2")})}
                              for r in rows])
    schedule = build_schedule(_spec(letters="AB", option_order=True, option_symbols=("12", "xy"), max_shots=1,
                                    pool_size=1))
    out = render_train(data, schedule, pool, ("sol1", "sol2"))
    for position, row in enumerate(out):
        record = rows[schedule.order[position]]
        query = row["_prompt"][-1]["content"].split("\n\n")[-1]
        gold_text = record["sol1"] if record["gold"] == "A" else record["sol2"]
        assert row["_response"][0]["content"] == _symbol_next_to(query, gold_text)
        assert row["_response"][0]["content"] in "12xy"
        assert identify_prompts(row["_prompt"][-1]["content"], pool, "AB") == ["p0"]


def test_bad_structure_settings_are_refused_naming_the_key():
    with pytest.raises(PaftConfigError, match="paft_max_shots"):
        build_config({"pool": "p.jsonl", "max_shots": 9})
    with pytest.raises(PaftConfigError, match="loss_aware"):
        build_config({"pool": "p.jsonl", "sampling": "loss_aware", "option_order": True})
    with pytest.raises(StructureError, match="'123'"):
        check_symbol_sets(("12", "123"), "AB", "paft_option_symbols")
    with pytest.raises(StructureError, match="choice task"):
        option_layout(("question", "answer"))
    config = build_config({"pool": "p.jsonl", "option_symbols": "AB,12", "option_order": "true", "max_shots": "2"})
    assert (config.option_symbols, config.option_order, config.max_shots) == (("AB", "12"), True, 2)
    assert build_config({"pool": "p.jsonl", "option_symbols": ["AB", 12]}).option_symbols == ("AB", "12")
    assert option_layout(("goal", "sol1", "sol2")) == (("sol1", "sol2"), "AB")
    with pytest.raises(PaftConfigError, match=r"paft_structure_ratio must be a number in \(0, 1\], got 0$"):
        build_config({"pool": "p.jsonl", "option_order": True, "structure_ratio": 0})
    with pytest.raises(PaftConfigError, match="paft_structure_ratio: .* but no draw is set"):
        build_config({"pool": "p.jsonl", "structure_ratio": 0.5})
    assert build_config({"pool": "p.jsonl", "max_shots": 1, "structure_ratio": "0.25"}).structure_ratio == 0.25


def test_grpo_rows_carry_the_remapped_gold_and_rewards_score_the_shown_symbols():
    from paft_ext.rl.data import grpo_rows
    from paft_ext.rl.rewards import reward_functions
    from paft_ext.tasks import get_task

    task = get_task("piqa")
    rows = [{"goal": f"goal {i}", "sol1": f"first {i}", "sol2": f"second {i}", "answer": "AB"[i % 2]} for i in range(6)]
    pool = [Prompt("p0", "{goal}\nA. {sol1}\nB. {sol2}\nAnswer with A or B.", "x")]
    schedule = build_schedule(_spec(letters="AB", option_order=True, option_symbols=("12", "ab"), max_shots=1,
                                    pool_size=1))
    out = grpo_rows(task, rows, schedule, pool, system=None)
    for position, row in enumerate(out):
        record = rows[schedule.order[position]]
        query = row["prompt"][-1]["content"].split("\n\n")[-1]
        gold_text = record["sol1"] if record["answer"] == "A" else record["sol2"]
        assert row["answer"] == _symbol_next_to(query, gold_text) and row["answer"] in row["symbols"]
    correct, fmt, answered = reward_functions(task, "strict")
    completions = [[{"role": "assistant", "content": text}] for text in ("2", "b. yes", "A", "B")]
    assert correct(completions=completions, answer=["2", "b", "A", "1"], symbols=["12", "ab", "AB", "12"]) == [
        1.0, 1.0, 1.0, 0.0]
    assert fmt(completions=completions, symbols=["12", "ab", "12", "12"]) == [1.0, 1.0, 0.0, 0.0]
    assert correct(completions=completions[2:], answer=["A", "A"]) == [1.0, 0.0]  # no column: the letters


@pytest.mark.parametrize("name", ["sst2", "piqa", "winogrande", "hellaswag", "race_high"])
def test_every_shipped_train_template_gets_a_slot_for_every_option_letter(name):
    from pathlib import Path

    from paft_ext.pools.store import load_pool
    from paft_ext.tasks import get_task

    task = get_task(name)
    pool = load_pool(Path(__file__).resolve().parents[1] / "data" / "prompts" / task.pool / "train.jsonl", task.fields)
    for prompt in pool:
        slotted = symbolize(prompt.text, task.choices)
        assert all("{_sym_" + letter + "}" in slotted for letter in task.choices), prompt.id


def test_templates_without_letters_are_named_when_symbols_are_drawn():
    import logging

    from paft_ext.core.structure import warn_letterless

    pool = [Prompt("lettered", "{goal}\nA. {sol1}\nB. {sol2}", "x"), Prompt("plain", "{goal}: {sol1} or {sol2}?", "x")]
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    log = logging.getLogger("test_letterless")
    log.addHandler(handler)
    warn_letterless("AB", ("12",), pool, log)
    warn_letterless("AB", (), pool, log)  # no symbol sets drawn: nothing to say
    assert records == ["[PAFT] paft_option_symbols: 1 of 2 pool prompts name no option letter and keep AB in every "
                       "window (e.g. plain)"]
