"""Structure draws through the stock `llamafactory-cli train`: the decoded micro-batches (paft_trace) must train, in
every row, the symbol printed next to the gold option's text — read from the text itself — with the window's
shots before it, solved the same way, and never the row itself."""

from __future__ import annotations

import json
import re

import pytest
from lf_helpers import POOL_TEXTS, read_trace, run_cli, train_config, write_pool

pytestmark = pytest.mark.slow  # starts llamafactory-cli

B, GA = 3, 3
LABELLED = [POOL_TEXTS[i] for i in (0, 1, 2, 3, 4, 7)]  # every option on its own line after its label


def _user_turn(text: str) -> str:
    """The last user message of a decoded prompt (the decode keeps <|im_start|> and may drop <|im_end|>)."""
    return re.search(r"<\|im_start\|>user\n(.*?)\n?(?:<\|im_end\|>)?\n?<\|im_start\|>assistant", text, re.S)[1]


def _symbol_next_to(block: str, option_text: str) -> str | None:
    """The label on the one line that ends with ``option_text`` (None when the text is not on exactly one line)."""
    lines = [line for line in block.splitlines() if line.endswith(" " + option_text)]
    return re.findall(r"[A-Za-z0-9]", lines[0][: -len(option_text)])[-1] if len(lines) == 1 else None


def _gold_text(record: dict) -> str:
    return record["sol1"] if record["output"] == "A" else record["sol2"]


@pytest.fixture(scope="module")
def structured_run(tiny_model, piqa_lf_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("structure")
    pool = write_pool(work / "pool.jsonl", LABELLED)
    config = train_config(tiny_model, piqa_lf_data, work / "out", paft_pool=str(pool), paft_window_steps=1,
                          paft_trace=True, paft_option_order=True, paft_option_symbols=["AB", 12, "ab"],
                          paft_max_shots=2)
    result = run_cli(config, work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "out"


def test_every_trained_row_answers_with_the_symbol_next_to_its_gold_text(structured_run, piqa_rows):
    schedule = json.loads((structured_run / "paft_schedule.json").read_text())
    checked, shots_checked, orders, symbol_sets = 0, 0, set(), set()
    for entry in read_trace(structured_run):
        for i, row in enumerate(entry["rows"]):
            position = (entry["step"] * GA + entry["micro"]) * B + i
            window = schedule["windows"][position // (B * GA)]
            record = piqa_rows[schedule["order"][position]]
            blocks = _user_turn(row["text"]).split("\n\n")
            assert len(blocks) == window["shots"] + 1
            trained = re.match(r"\s*(\S)", row["response"])[1]
            shown = _symbol_next_to(blocks[-1], _gold_text(record))
            if shown is not None:  # options whose text also ends another line are skipped (counted below)
                assert trained == shown, (blocks[-1], row["response"])
                checked += 1
            shot_rows = schedule["shot_rows"][position][: window["shots"]]
            assert schedule["order"][position] not in shot_rows
            for block, shot in zip(blocks[:-1], shot_rows, strict=True):
                body, answer = block.rsplit("\n", 1)
                shown = _symbol_next_to(body, _gold_text(piqa_rows[shot]))
                if shown is not None:
                    assert answer == shown
                    shots_checked += 1
            assert row["prompt_ids"] == [window["prompt_id"]]
            orders.add(window["order"])
            symbol_sets.add(window["symbols"])
    assert checked >= 60 and shots_checked >= 30  # 72 rows trained; almost all checkable
    assert orders == {"AB", "BA"} and len(symbol_sets) >= 2


@pytest.fixture(scope="module")
def prose_run(tiny_model, piqa_lf_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("prose")
    pool = write_pool(work / "pool.jsonl", LABELLED)
    config = train_config(tiny_model, piqa_lf_data, work / "out", paft_pool=str(pool), paft_window_steps=1,
                          paft_trace=True, paft_option_order=True, paft_option_symbols=["xy", 12],
                          paft_option_prose=1.0)
    result = run_cli(config, work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "out"


def test_options_written_as_a_sentence_train_the_symbol_the_sentence_pairs_with_the_gold(prose_run, piqa_rows):
    """``paft_option_prose: 1``: no trained row lists its options; on the line that shows both option texts, the
    k-th symbol written belongs to the k-th text written, and the trained answer is the gold text's."""
    schedule = json.loads((prose_run / "paft_schedule.json").read_text())
    checked, forms = 0, set()
    for entry in read_trace(prose_run):
        for i, row in enumerate(entry["rows"]):
            position = (entry["step"] * GA + entry["micro"]) * B + i
            window = schedule["windows"][position // (B * GA)]
            record = piqa_rows[schedule["order"][position]]
            query = _user_turn(row["text"])
            assert _symbol_next_to(query, record["sol1"]) is None  # not listed on a line of its own any more
            lines = [line for line in query.splitlines() if record["sol1"] in line and record["sol2"] in line]
            written = re.findall(rf"(?<!\w)[{window['symbols']}](?!\w)", lines[0]) if len(lines) == 1 else []
            if len(written) == 2 and len(set(written)) == 2:  # a solution text that itself holds a symbol is skipped
                shown = sorted(("sol1", "sol2"), key=lambda f: lines[0].index(record[f]))
                trained = re.match(r"\s*(\S)", row["response"])[1]
                gold = "sol1" if record["output"] == "A" else "sol2"
                assert trained == written[shown.index(gold)], (lines[0], row["response"])
                checked += 1
            assert row["prompt_ids"] == [window["prompt_id"]]
            forms.add(window["prose"])
    assert checked >= 50 and len(forms) >= 4
