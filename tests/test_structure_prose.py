"""Options written as a sentence (``paft_option_prose``): the trained answer is the symbol the sentence pairs with the
gold option's text — read back from the rendered sentence by position, never from the code's mapping — for every
option order of a 2- and a 4-option task, every form and symbol set; the draw is seeded, a share, and leaves the
other draws and older digests alone; and no form says a sentence a shipped test or held-out validation prompt says."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from paft_ext.core.config import PaftConfigError, build_config
from paft_ext.core.schedule import Geometry, ScheduleSpec, build_schedule
from paft_ext.core.structure import WindowStructure, render_one
from paft_ext.core.trace import identify_prompts
from paft_ext.pools.leakage import sentences
from paft_ext.pools.option_prose import PROSE_FORMS, option_block, with_prose
from paft_ext.pools.option_symbols import symbolize
from paft_ext.pools.store import Prompt, load_pool
from paft_ext.tasks import TASKS, fill_template

ROOT = Path(__file__).resolve().parents[1]
# Shipped-style templates: each listing style of the composed pools, inline and on lines.
TWO = ["Review: {sentence}\n(A) {A} (B) {B}\nAnswer with A or B.",
       "Which is it?\nReview: {sentence}\nOption A: {A}\nOption B: {B}\nLetter:"]
FOUR = ["{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nReply with the letter.",
        "Question: {question}\nA) {A}  B) {B}  C) {C}  D) {D}\nPick A, B, C or D."]
WORDS = ("walrus", "teapot", "glacier", "violin")


def _paired_symbol(text: str, gold_text: str, option_texts: list[str], symbols: str) -> str:
    """The symbol the options sentence pairs with ``gold_text``: on the one line that shows every option text, the
    k-th symbol written belongs to the k-th option text written (each item holds one of each, items in a row)."""
    lines = [line for line in text.splitlines() if all(o in line for o in option_texts)]
    assert len(lines) == 1, text
    shown = sorted(option_texts, key=lines[0].index)
    written = re.findall(rf"(?<![\w])[{re.escape(symbols)}](?![\w])", lines[0])
    assert len(written) == len(option_texts), (lines[0], symbols)
    return written[shown.index(gold_text)]


@pytest.mark.parametrize("templates, fields, letters", [(TWO, ("A", "B"), "AB"), (FOUR, ("A", "B", "C", "D"), "ABCD")])
@pytest.mark.parametrize("symbols_of", [lambda n: "ABCD"[:n], lambda n: "1234"[:n], lambda n: "abcd"[:n]])
def test_answer_is_the_symbol_the_sentence_pairs_with_the_gold_text(templates, fields, letters, symbols_of):
    texts = dict(zip(fields, WORDS, strict=False))
    record = {"sentence": "a film", "question": "which one?", **texts}
    symbols = symbols_of(len(letters))
    for template, form in itertools.product(templates, range(len(PROSE_FORMS))):
        shown_forms = set()
        for order in map("".join, itertools.permutations(letters)):
            for gold in letters:
                text, answer = render_one(template, record, gold, fields, letters,
                                          WindowStructure(order, symbols, 0, form))
                assert answer == _paired_symbol(text, texts[fields[letters.index(gold)]], list(texts.values()),
                                                symbols), (text, answer)
                assert not re.search(r"^\(?[A-D1-4a-d][).:]? ", text, re.M)  # no listed option line is left
                shown_forms.add(text)
        assert len(shown_forms) == len(list(itertools.permutations(letters)))  # every order shows another sentence


def test_a_listed_window_and_a_template_without_a_listed_block_keep_their_wording():
    listed = render_one(TWO[0], {"sentence": "s", "A": "neg", "B": "pos"}, "A", ("A", "B"), "AB",
                        WindowStructure("BA", "12", 0))[0]
    assert listed == "Review: s\n(1) pos (2) neg\nAnswer with 1 or 2."
    inline = "Is the review {sentence} rather A) {A} or B) {B}?"  # options inside a sentence: no listed block
    assert option_block(symbolize(inline, "AB"), ("A", "B"), "AB") is None
    text, answer = render_one(inline, {"sentence": "s", "A": "neg", "B": "pos"}, "B", ("A", "B"), "AB",
                              WindowStructure("AB", "ab", 0, 0))
    assert (text, answer) == ("Is the review s rather a) neg or b) pos?", "b")


def test_templates_without_a_listed_block_are_named_when_prose_is_drawn():
    import logging

    from paft_ext.core.structure import warn_unlisted

    pool = [Prompt("listed", TWO[0], "x"), Prompt("inline", "Is {sentence} rather A) {A} or B) {B}?", "x")]
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    log = logging.getLogger("test_unlisted")
    log.addHandler(handler)
    warn_unlisted(("A", "B"), "AB", 0.5, pool, log)
    warn_unlisted(("A", "B"), "AB", 0.0, pool, log)  # no prose drawn: nothing to say
    assert records == ["[PAFT] paft_option_prose: 1 of 2 pool prompts list no option block and keep their wording in "
                       "every window (e.g. inline)"]


@pytest.mark.parametrize("name", ["sst2", "sciq", "piqa", "hellaswag", "winogrande", "race_high"])
def test_every_shipped_train_template_has_a_listed_block_to_rewrite(name):
    task = TASKS[name]
    pool = load_pool(ROOT / "data" / "prompts" / task.pool / "train.jsonl", task.fields)
    for prompt in pool:
        rewritten = with_prose(symbolize(prompt.text, task.choices), task.options, task.choices, PROSE_FORMS[0])
        assert rewritten is not None, prompt.id
        assert all(rewritten.count(f"{{{f}}}") == 1 for f in task.options), prompt.id
        assert all(f"{{{f}}}" in rewritten for f in task.fields), prompt.id


def _spec(**changes) -> ScheduleSpec:
    base = dict(n_rows=40, epochs=5, max_steps=0, geometry=Geometry(1, 1, 1), window=1, window_unit="step",
                sampling="uniform", epoch_reshuffle=True, pool_size=3, pool_digest="d", seed=5, letters="AB",
                option_order=True, option_symbols=("AB", "12"), max_shots=1)
    return ScheduleSpec(**{**base, **changes})


def test_prose_is_a_seeded_share_of_windows_that_leaves_the_other_draws_and_old_digests_as_they_were():
    without, half = build_schedule(_spec()), build_schedule(_spec(option_prose=0.5))
    again = build_schedule(_spec(option_prose=0.5))
    assert half.structure.windows == again.structure.windows
    assert [(w.order, w.symbols, w.shots) for w in half.structure.windows] == \
        [(w.order, w.symbols, w.shots) for w in without.structure.windows]
    prose = [w.prose for w in half.structure.windows]
    assert 0.35 < np.mean([p >= 0 for p in prose]) < 0.65 and len(set(prose) - {-1}) >= 6  # 200 windows
    assert all(p == -1 for p in (w.prose for w in without.structure.windows))
    assert "option_prose" not in _spec().as_dict() and "prose" not in without.windows()[0]
    assert half.windows()[0]["prose"] == prose[0] and half.spec.digest() != without.spec.digest()
    everywhere = build_schedule(_spec(option_prose=1.0))
    assert all(w.prose >= 0 for w in everywhere.structure.windows)


def test_bad_prose_settings_are_refused_naming_the_key():
    for bad in (1.5, -0.1, True, "half"):
        with pytest.raises(PaftConfigError, match="paft_option_prose"):
            build_config({"pool": "p.jsonl", "option_prose": bad})
    with pytest.raises(PaftConfigError, match="paft_option_prose"):
        build_config({"pool": "p.jsonl", "option_prose": 0.5, "sampling": "loss_aware"})
    assert build_config({"pool": "p.jsonl", "option_prose": "0.5"}).draws_structure


def test_the_trace_names_the_template_of_a_window_written_as_a_sentence():
    pool = [Prompt("p0", TWO[0], "x"), Prompt("p1", TWO[1], "x")]
    text, _ = render_one(TWO[1], {"sentence": "s", "A": "neg", "B": "pos"}, "A", ("A", "B"), "AB",
                         WindowStructure("BA", "12", 0, 3))
    assert "Option" not in text
    assert identify_prompts(text, pool, "AB", ("A", "B")) == ["p1"]
    assert identify_prompts(text, pool, "AB") == []  # without the prose wildcard the rewritten block hides it


@pytest.mark.parametrize("task", sorted({t.pool: t for t in TASKS.values() if t.options and t.pool_shipped}.values(),
                                        key=lambda t: t.pool), ids=lambda t: t.pool)
def test_no_form_says_a_sentence_that_a_test_or_held_out_validation_prompt_says(task):
    folder = ROOT / "data" / "prompts" / task.pool
    held = [f.stem for f in (*folder.glob("test*.jsonl"), *folder.glob("valid_*.jsonl"))
            if not f.stem.endswith(("_rejects", "_candidates"))]
    said = set().union(*(sentences(p.text) for name in held for p in load_pool(folder / f"{name}.jsonl", task.fields)))
    assert said
    for form in PROSE_FORMS:
        slots = [f"_sym_{letter}" for letter in task.choices]
        written = fill_template(form.render(slots, task.options), dict(zip(slots, task.choices, strict=True)))
        assert all(f"{{{o}}}" in written for o in task.options)
        assert not sentences(written) & said, (task.pool, written)


def test_prose_alone_keeps_the_letters_in_order_and_no_examples_where_the_sentence_is_drawn_and_nowhere_else():
    """``paft_option_prose_alone``: a window written as a sentence draws nothing else (order AB, letters AB, no
    shots); every other window is the one the same seed draws without the key."""
    mixed, alone = build_schedule(_spec(option_prose=0.5)), build_schedule(_spec(option_prose=0.5,
                                                                                 option_prose_alone=True))
    sentence = [w.prose >= 0 for w in mixed.structure.windows]
    assert 60 < sum(sentence) < 140  # 200 windows, half of them a sentence
    for before, after, written in zip(mixed.structure.windows, alone.structure.windows, sentence, strict=True):
        assert after.prose == before.prose
        assert (after.order, after.symbols, after.shots) == (("AB", "AB", 0) if written else
                                                             (before.order, before.symbols, before.shots))
    assert any((w.order, w.symbols, w.shots) != ("AB", "AB", 0) for w, s in zip(mixed.structure.windows, sentence,
                                                                                strict=True) if s)
    assert alone.spec.as_dict()["option_prose_alone"] is True and "option_prose_alone" not in mixed.spec.as_dict()
    assert alone.spec.digest() != mixed.spec.digest()


def test_prose_alone_is_refused_without_a_prose_share_and_reaches_the_schedule_keys():
    with pytest.raises(PaftConfigError, match="paft_option_prose_alone.*paft_option_prose"):
        build_config({"pool": "p.jsonl", "option_order": True, "option_prose_alone": True})
    with pytest.raises(PaftConfigError, match="paft_option_prose_alone"):
        build_config({"pool": "p.jsonl", "option_prose": 0.25, "option_prose_alone": "maybe"})
    keys = build_config({"pool": "p.jsonl", "option_prose": 0.25, "option_prose_alone": "true"}).structure_keys("AB")
    assert keys["option_prose"] == 0.25 and keys["option_prose_alone"] is True
    assert "option_prose_alone" not in build_config({"pool": "p.jsonl", "option_prose": 0.25}).structure_keys("AB")
