"""Data adapters: real records of every task from the offline data root, seeded subsets, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.benchmark_data.source import DataError, load_records
from paft_ext.tasks import TASKS, get_task


def test_hellaswag_record(shared_root):
    first = load_records(get_task("hellaswag"), "eval", root=shared_root)[0]
    assert first.values["ctx"] == "A man is sitting on a roof. He"  # ctx_b capitalised, as in OpenCompass's file
    assert first.values["D"] == "starts pulling up roofing on a roof."
    assert first.values["answer"] == "D"
    assert first.origin.endswith("hellaswag/validation.jsonl:1")


def test_piqa_offline_split_rule(shared_root):
    task = get_task("piqa")
    train = load_records(task, "train", root=shared_root)
    evaluation = load_records(task, "eval", root=shared_root)
    assert (len(train), len(evaluation)) == (1000, 838)
    assert train[0].values["goal"] == "How do I ready a guinea pig cage for it's new occupants?"
    assert train[0].values["answer"] == "A"
    assert evaluation[0].origin.endswith("piqa/validation.jsonl:1001")


def test_winogrande_race_gsm8k_records(shared_root):
    wino = load_records(get_task("winogrande"), "eval", root=shared_root)[0].values
    assert wino == {"prompt": "Sarah was a much better surgeon than Maria so _ always got the easier cases.",
                    "only_option1": "Sarah", "only_option2": "Maria", "answer": "B"}
    race = load_records(get_task("race_middle"), "eval", root=shared_root)[0].values
    assert race["question"] == "A discipline leader is supposed to  _  ."
    assert race["C"] == "make sure that nobody chats in class" and race["answer"] == "C"
    high = load_records(get_task("race_high"), "train", root=shared_root)[0].values
    assert high["article"].startswith("My husband is a born shopper.") and high["answer"] == "C"
    gsm = load_records(get_task("gsm8k"), "eval", root=shared_root)[0].values
    assert gsm["answer"] == "18"
    assert "<<" not in gsm["solution"] and gsm["solution"].endswith("The answer is \\boxed{18}.")
    assert get_task("gsm8k").extract(gsm["solution"]) == "18"


def test_every_task_converts_every_record(shared_root):
    sizes = {name: (len(load_records(t, "train", root=shared_root)), len(load_records(t, "eval", root=shared_root)))
             for name, t in TASKS.items()}
    assert sizes == {"hellaswag": (3368, 10042), "piqa": (1000, 838), "winogrande": (10234, 1267),
                     "race_middle": (5000, 1436), "race_high": (5000, 3498), "gsm8k": (7473, 1319),
                     "sst2": (500, 372), "sciq": (600, 400)}


def test_subsets_are_seeded_random_not_first_n(shared_root):
    task = get_task("winogrande")
    a = [r.origin for r in load_records(task, "eval", root=shared_root, max_samples=20, seed=1)]
    b = [r.origin for r in load_records(task, "eval", root=shared_root, max_samples=20, seed=1)]
    c = [r.origin for r in load_records(task, "eval", root=shared_root, max_samples=20, seed=2)]
    first = [r.origin for r in load_records(task, "eval", root=shared_root)][:20]
    assert a == b and a != c and a != first
    lines = [int(o.rsplit(":", 1)[1]) for o in a]
    assert lines == sorted(lines) and max(lines) > 100
    shuffled = load_records(task, "train", root=shared_root, max_samples=20, seed=1, shuffle=True)
    shuffled_lines = [int(r.origin.rsplit(":", 1)[1]) for r in shuffled]
    assert shuffled_lines != sorted(shuffled_lines)


def _root_with(tmp_path: Path, lines: list[str]) -> Path:
    (tmp_path / "piqa").mkdir()
    (tmp_path / "piqa" / "validation.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


GOOD = json.dumps({"goal": "g", "sol1": "a", "sol2": "b", "label": 1})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", r"validation.jsonl:3: not valid JSON"),
        (json.dumps({"goal": "g", "sol1": "a", "label": 0}), r"validation.jsonl:3: piqa record lacks sol2"),
        (json.dumps({"goal": "g", "sol1": "a", "sol2": "b", "label": 7}),
         r"validation.jsonl:3: bad piqa record: 'label' must be one of 0, 1, got 7"),
        (json.dumps({"goal": "g", "sol1": "a", "sol2": "b", "label": 1.7}), r":3: bad piqa record: .*got 1\.7"),
        (json.dumps({"goal": "g", "sol1": "a", "sol2": "b", "label": True}), r":3: bad piqa record: .*got True"),
        (json.dumps({"goal": "g", "sol1": "a", "sol2": "b", "label": "1"}), r":3: bad piqa record: .*got '1'"),
        (json.dumps({"goal": " ", "sol1": "a", "sol2": "b", "label": 0}), r":3: piqa field\(s\) goal are empty"),
        (json.dumps({"goal": 3, "sol1": "a", "sol2": "b", "label": 0}),
         r"validation.jsonl:3: piqa fields goal are not strings"),
        ("[1, 2]", r"validation.jsonl:3: expected a JSON object"),
    ],
)
def test_malformed_record_names_file_and_line(tmp_path, bad, message):
    root = _root_with(tmp_path, [GOOD, GOOD, bad])
    with pytest.raises(DataError, match=message):
        load_records(get_task("piqa"), "train", root=root)


def test_data_root_env_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("PAFT_DATA_ROOT", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="PAFT_DATA_ROOT=.*is not a directory"):
        load_records(get_task("piqa"), "train")


def test_missing_split_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"winogrande/train.jsonl: missing \(task winogrande, split 'train'"):
        load_records(get_task("winogrande"), "train", root=tmp_path)


def test_prepare_writes_llamafactory_rows_with_raw_fields(tmp_path, monkeypatch, shared_root):
    monkeypatch.setenv("PAFT_DATA_ROOT", str(shared_root))
    manifest = prepare([get_task("piqa")], tmp_path, PrepareConfig(train_samples=30, eval_samples=10, seed=3))
    assert manifest["tasks"]["piqa"] == {"train": {"split": "validation[0:1000]", "records": 30, "requested": 30},
                                         "eval": {"split": "validation[1000:]", "records": 10, "requested": 10,
                                                  "benchmark_eval_size": 1838}}
    info = json.loads((tmp_path / "llamafactory" / "dataset_info.json").read_text())
    assert info["piqa_train"]["columns"] == {"prompt": "instruction", "response": "output"}
    rows = [json.loads(x) for x in (tmp_path / "llamafactory" / "piqa_train.jsonl").read_text().splitlines()]
    assert len(rows) == 30
    row = rows[0]
    assert row["instruction"] == (
        "There is a single choice question. Answer the question by replying A or B.\n"
        f"Question: {row['goal']}\nA. {row['sol1']}\nB. {row['sol2']}\nAnswer:")
    assert row["output"] == row["answer"] in ("A", "B")
    labels = (tmp_path / "opencompass" / "data" / "piqa" / "dev-labels.lst").read_text().split()
    assert len(labels) == 10 and set(labels) <= {"0", "1"}
