"""The learnability pilot's own rules: the pass mark, and unseen prompts that share no sentence with the training
prompt (the pilot refuses to run otherwise). The training and evaluation it drives are tested on the tiny model in
test_reproduce_table1.py (same runner)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from paft_ext.pools.store import Prompt, load_pool, write_pool
from paft_ext.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pilot():
    spec = importlib.util.spec_from_file_location("pilot_learnability", ROOT / "scripts" / "pilot_learnability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pass_mark_is_70_or_chance_plus_20(pilot):
    assert pilot.pass_mark(get_task("piqa")) == 70.0  # 2 options: chance 50 + 20
    assert pilot.pass_mark(get_task("sciq")) == 45.0  # 4 options: chance 25 + 20


def test_prompts_are_the_training_prompt_then_five_seeded_test_prompts(pilot):
    prompts = pilot.pilot_prompts(get_task("sst2"), seed=0)
    assert prompts[0].id == pilot.TRAINED_ID and prompts[0].text == get_task("sst2").baseline_prompt
    shipped = {json.loads(line)["id"]: json.loads(line)["text"]
               for line in (ROOT / "data" / "prompts" / "sst2" / "test.jsonl").read_text().splitlines()}
    assert len(prompts) == 6 and all(shipped[p.id] == p.text for p in prompts[1:])
    assert [p.id for p in pilot.pilot_prompts(get_task("sst2"), seed=0)] == [p.id for p in prompts]
    assert [p.id for p in pilot.pilot_prompts(get_task("sst2"), seed=1)] != [p.id for p in prompts]


def test_an_unseen_prompt_sharing_a_sentence_with_the_training_prompt_is_refused(pilot, monkeypatch, tmp_path):
    task = get_task("sciq")
    shipped = load_pool(ROOT / "data" / "prompts" / "sciq" / "test.jsonl", task.fields)[:4]
    leaky = Prompt("leaky", "Answer the question by replying A, B, C or D.\n{support}\n{question}\n{A} {B} {C} {D}",
                   "handwritten")
    write_pool(tmp_path / "data" / "prompts" / "sciq" / "test.jsonl", [*shipped, leaky])
    monkeypatch.setattr(pilot, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="'leaky' shares .*answer the question by replying a, b, c or d"):
        pilot.pilot_prompts(task, seed=0)
    (tmp_path / "data" / "prompts" / "sciq" / "test.jsonl").unlink()
    with pytest.raises(SystemExit, match=r"sciq: no shipped test pool at .*test\.jsonl"):
        pilot.pilot_prompts(task, seed=0)


def test_results_keep_older_rows_whose_per_prompt_records_lack_newer_columns(pilot, tmp_path):
    """pilot.json keeps earlier tasks' rows; a later run's per-prompt records have more columns (SciQ's rerun failed
    writing per_prompt.csv on exactly this). Every column is written, blank where a row has none."""
    old = {"task": "sst2", "records": 500, "train_split": "v", "steps": 375, "train_loss": 0.138, "questions": 300,
           "eval_split": "e", "chance": 50.0, "majority": 50.7, "trained_prompt": 85.7, "trained_se": 2.0,
           "unseen_mean": 84.6, "unseen_min": 83.3, "unseen_max": 86.0, "trained_no_answer": 0.0,
           "unseen_no_answer": 0.0, "pass_mark": 70.0, "passed": True,
           "per_prompt": [{"prompt_id": "p", "accuracy": 85.7}]}
    new = {**old, "task": "sciq", "passed": False, "per_prompt": [{"prompt_id": "q", "accuracy": 60.0,
                                                                   "no_answer_strict": 1.5}]}
    pilot.write_results([old, new], tmp_path)
    lines = (tmp_path / "per_prompt.csv").read_text().splitlines()
    assert lines == ["prompt_id,accuracy,no_answer_strict", "p,85.7,", "q,60.0,1.5"]
    table = (tmp_path / "pilot.md").read_text().splitlines()
    assert table[2].endswith("| 70 | pass |") and table[3].startswith("| sciq |") and table[3].endswith("| fail |")
