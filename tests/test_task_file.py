"""Tasks from one YAML file: every answer kind converts records as the raw data says (checked against the raw rows,
not the converter), JSONL and CSV name their lines, bad specs name the key, and the CLI registers, prepares and
refuses without touching the built-in registry for good."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import yaml
from paft_ext import cli
from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.benchmark_data.source import DataError, load_records
from paft_ext.evaluation.local_datasets import jsonl_datasets
from paft_ext.pools.compose import task_parts
from paft_ext.tasks import TASK_FILES_ENV, TASKS, TaskFileError, get_task, register_task_file
from paft_ext.tasks.task_file import read_task_file

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_task" / "task.yaml"


pytestmark = pytest.mark.usefixtures("task_registry_restored")  # tasks a test registers leave with it


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _spec(tmp_path: Path, name: str = "mine", **overrides) -> Path:
    spec = {"name": name, "data": {"train": {"file": "train.jsonl"}, "eval": {"file": "eval.jsonl"}},
            "fields": {"text": "body"}, "answer": {"kind": "label", "column": "y", "labels": {0: "no", 1: "yes"}},
            "prompt": "T: {text}\nA. {A}\nB. {B}\nAnswer:"}
    spec.update(overrides)
    for split in ("train", "eval"):
        if not (tmp_path / f"{split}.jsonl").exists():
            _jsonl(tmp_path / f"{split}.jsonl", [{"body": f"{split} one", "y": 1}, {"body": f"{split} two", "y": 0}])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_label_task_from_the_example_matches_the_raw_sst2_file(shared_root):
    task = read_task_file(EXAMPLE)
    assert task.fields == ("review", "A", "B") and task.choices == "AB" and task.pool_dir.endswith("own_task/prompts")
    raw = [json.loads(line) for line in (shared_root / "sst2" / "validation.jsonl").read_text().splitlines()]
    train, evaluation = load_records(task, "train"), load_records(task, "eval")
    lines = {"train": [int(r.origin.rsplit(":", 1)[1]) for r in train],
             "eval": [int(r.origin.rsplit(":", 1)[1]) for r in evaluation]}
    assert (len(train), len(evaluation)) == (500, 372)
    assert not set(lines["train"]) & set(lines["eval"]) and len(set(lines["train"]) | set(lines["eval"])) == 872
    for record in [*train, *evaluation]:
        source = raw[int(record.origin.rsplit(":", 1)[1]) - 1]
        assert record.values == {"review": source["sentence"].strip(), "A": "negative", "B": "positive",
                                 "answer": "AB"[source["label"]]}


def test_choice_gold_as_letter_index_or_text_and_a_list_column(tmp_path):
    rows = [{"q": "2+2?", "opts": {"items": ["3", "4", "5"]}, "key": "B", "idx": 2, "gold": "4"},
            {"q": "Sky?", "opts": {"items": ["blue", "red", "green"]}, "key": "A", "idx": 1, "gold": "blue"}]
    _jsonl(tmp_path / "train.jsonl", rows)
    _jsonl(tmp_path / "eval.jsonl", rows)
    prompt = "Q: {question}\nA. {A}\nB. {B}\nC. {C}\nAnswer:"
    for answer in ({"kind": "choice", "column": "key", "options": "opts.items"},
                   {"kind": "choice", "column": "idx", "options": "opts.items", "gold": "index", "index_base": 1},
                   {"kind": "choice", "column": "gold", "options": "opts.items", "gold": "text"}):
        path = _spec(tmp_path, fields={"question": {"column": "q", "role": "the question"}}, answer=answer,
                     prompt=prompt)
        values = [r.values for r in load_records(read_task_file(path), "train")]
        assert values == [{"question": "2+2?", "A": "3", "B": "4", "C": "5", "answer": "B"},
                          {"question": "Sky?", "A": "blue", "B": "red", "C": "green", "answer": "A"}], answer


def test_number_task_from_csv_with_a_solution_column(tmp_path):
    (tmp_path / "train.csv").write_text("question,result,steps\nHow many?,\"1,200\",Add them. #### 1200\n"
                                        "Half of 5?,2.50,Halve it. #### 2.5\n")
    (tmp_path / "eval.csv").write_text("question,result,steps\nTwo?,2,#### 2\n")
    path = _spec(tmp_path, data={"train": {"file": "train.csv"}, "eval": {"file": "eval.csv"}},
                 fields={"question": "question"}, prompt="Solve: {question}",
                 answer={"kind": "number", "column": "result", "solution_column": "steps"})
    task = read_task_file(path)
    records = load_records(task, "train")
    assert [r.values["answer"] for r in records] == ["1200", "2.5"]
    assert [r.origin.rsplit(":", 1)[1] for r in records] == ["2", "3"]  # CSV lines, the header is line 1
    assert task.target_text(records[0].values) == "Add them. #### 1200"
    register_task_file(path)
    (dataset,) = jsonl_datasets(task.name)
    assert dataset["eval_cfg"]["pred_postprocessor"] == {"type": "paft_ext.tasks.answers.extract_number"}


def test_a_csv_label_cell_is_matched_as_text_and_a_bad_one_names_its_line(tmp_path):
    (tmp_path / "train.csv").write_text("body,y\ngood,1\nbad,0\n")
    (tmp_path / "eval.csv").write_text("body,y\nfine,1\nodd,2\n")
    path = _spec(tmp_path, data={"train": {"file": "train.csv"}, "eval": {"file": "eval.csv"}})
    task = read_task_file(path)
    assert [r.values["answer"] for r in load_records(task, "train")] == ["B", "A"]
    with pytest.raises(DataError, match=r"eval\.csv:3: .*holds '2', not one of the labels 0, 1"):
        load_records(task, "eval")


def test_a_label_is_matched_in_its_own_type(tmp_path):
    _jsonl(tmp_path / "train.jsonl", [{"body": "x", "y": True}])
    task = read_task_file(_spec(tmp_path))
    with pytest.raises(DataError, match=r"train\.jsonl:1: .*holds True, not one of the labels 0, 1"):
        load_records(task, "train")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"promt": "x"}, r"unknown key\(s\) promt"),
    ({"name": "Bad Name"}, r"name: 'Bad Name': use a lower-case identifier"),
    ({"prompt": "T: {text}\nA. {A}\nAnswer:"}, r"prompt: baseline prompt uses \['A', 'text'\], fields are"),
    ({"answer": {"kind": "multi", "column": "y"}}, r"answer\.kind: expected choice, label or number"),
    ({"answer": {"kind": "label", "column": "y"}}, r"answer\.labels: missing"),
    ({"answer": {"kind": "label", "column": "y", "labels": {0: "no"}}}, r"answer\.labels: expected 2–5 labels"),
    ({"answer": {"kind": "choice", "column": "y", "options": ["a", "b"], "gold": "word"}}, r"answer\.gold: expected"),
    ({"fields": {"answer": "body"}}, r"fields\.answer: a placeholder is a lower-case identifier other than"),
    ({"fields": {"text": {"col": "body"}}}, r"fields\.text: unknown key\(s\) col"),
    ({"fields": {"text": {"column": "body", "optional": "yes"}}}, r"fields\.text\.optional: expected true or false"),
    ({"data": {"train": {"file": "nope.jsonl"}, "eval": {"file": "eval.jsonl"}}}, r"data\.train\.file: .*nope\.jsonl"
                                                                                   r": not found"),
    ({"data": {"train": {"split": "train"}, "eval": {"file": "eval.jsonl"}}}, r"data\.train\.split: a Hub split "
                                                                              r"needs data\.hub"),
    ({"data": {"train": {"file": "train.jsonl", "stop": -1}, "eval": {"file": "eval.jsonl"}}},
     r"data\.train\.stop: expected a non-negative integer"),
    ({"top_threshold": 85}, r"top_threshold: expected a share between 0 and 1"),
])
def test_a_bad_spec_names_the_file_and_key(tmp_path, overrides, message):
    path = _spec(tmp_path, **overrides)
    with pytest.raises(TaskFileError, match=message) as err:
        read_task_file(path)
    assert str(path) in str(err.value)


def test_registration_refuses_a_built_in_name_and_lists_the_file_for_child_processes(tmp_path):
    with pytest.raises(TaskFileError, match=r"name: 'piqa' is already a built-in task"):
        register_task_file(_spec(tmp_path, name="piqa"))
    path = _spec(tmp_path)
    assert register_task_file(path) is get_task("mine") and register_task_file(path).task_file == str(path)
    assert os.environ[TASK_FILES_ENV].split(os.pathsep)[-1] == str(path)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(TaskFileError, match=r"'mine' is already .*mine\.yaml"):
        register_task_file(_spec(other))


def test_prepare_writes_fields_and_task_file_into_dataset_info_and_no_shipped_yaml(tmp_path, capsys):
    path = _spec(tmp_path)
    cli.main(["prepare", "--task-file", str(path), "--out", str(tmp_path / "data")])
    info = json.loads((tmp_path / "data" / "llamafactory" / "dataset_info.json").read_text())
    assert set(info) == {"mine_train", "mine_paft"}  # only the file's task, not every built-in one
    assert info["mine_paft"]["paft"] == {"task": "mine", "fields": ["text", "A", "B"], "task_file": str(path)}
    rows = [json.loads(line) for line in (tmp_path / "data" / "llamafactory" / "mine_train.jsonl").open()]
    assert sorted((r["text"], r["output"]) for r in rows) == [("train one", "B"), ("train two", "A")]
    config = yaml.safe_load((tmp_path / "data" / "yaml" / "mine" / "cpu_paft.yaml").read_text())
    assert config["dataset"] == "mine_paft" and config["dataset_dir"] == str(tmp_path / "data" / "llamafactory")
    assert config["paft_pool"] == str(tmp_path / "prompts" / "mine" / "train.jsonl")
    assert "no prompt pool at" in capsys.readouterr().out
    # a file in the way that prepare did not write is refused, not replaced
    (tmp_path / "data" / "yaml" / "mine" / "cpu_baseline.yaml").write_text("# mine\n")
    with pytest.raises(SystemExit, match="cpu_baseline.yaml: exists and was not written by paft-ext prepare"):
        cli.main(["prepare", "--task-file", str(path), "--out", str(tmp_path / "data")])
    assert (tmp_path / "data" / "yaml" / "mine" / "cpu_baseline.yaml").read_text() == "# mine\n"


def test_task_init_writes_a_starter_that_task_show_reads_and_never_overwrites(tmp_path, capsys):
    path = tmp_path / "tickets.yaml"
    cli.main(["task", "init", str(path)])
    with pytest.raises(SystemExit, match="exists; task init never writes over a file"):
        cli.main(["task", "init", str(path)])
    with pytest.raises(SystemExit, match=r"data\.train\.file: .*train\.jsonl: not found"):
        cli.main(["task", "show", str(path)])
    for split in ("train", "eval"):
        _jsonl(tmp_path / f"{split}.jsonl", [{"text": "the app crashes", "label": "negative"}])
    capsys.readouterr()
    cli.main(["task", "show", str(path)])
    out = capsys.readouterr().out
    assert '"name": "tickets"' in out and "Text: the app crashes\nA. negative\nB. positive\nAnswer: A" in out


def test_parts_of_the_example_compose_and_a_file_without_parts_is_refused(tmp_path):
    parts = task_parts(register_task_file(EXAMPLE))
    assert parts.options == ("A", "B") and len(parts.train.instructions) == 12 and len(parts.test.contexts) == 5
    from paft_ext.pools.build import PoolBuildError

    with pytest.raises(PoolBuildError, match=r"mine\.yaml: parts: missing"):
        task_parts(register_task_file(_spec(tmp_path)))


def test_the_built_in_prepare_is_unchanged_by_task_files(tmp_path, shared_root):
    register_task_file(EXAMPLE)
    prepare([get_task("sst2")], tmp_path, PrepareConfig(train_samples=2, eval_samples=2))
    info = json.loads((tmp_path / "llamafactory" / "dataset_info.json").read_text())
    assert info["sst2_paft"]["paft"] == {"task": "sst2"}


def test_the_example_pool_is_unseen_and_rebuilt_byte_for_byte_by_its_command(tmp_path, capsys):
    from paft_ext.pools.leakage import check_pool

    task = register_task_file(EXAMPLE)
    stats, problems = check_pool(EXAMPLE.parent / "prompts", task)
    assert problems == [] and task.pool_shipped
    cli.main(["pools", "compose", "--task-file", str(EXAMPLE), "--task", "movie_reviews", "--train-size", "400",
              "--out", str(tmp_path / "pool")])
    for name in ("train", "valid", "test", "seen_probe"):
        assert (tmp_path / "pool" / f"{name}.jsonl").read_bytes() == (EXAMPLE.parent / "prompts" /
                                                                      f"{name}.jsonl").read_bytes(), name
    assert json.loads((tmp_path / "pool" / "manifest.json").read_text())["counts"]["test"] == 50


def test_grpo_registers_the_task_named_by_the_prepared_entry(tmp_path):
    from paft_ext.rl.data import dataset_task

    path = _spec(tmp_path)
    prepare([register_task_file(path)], tmp_path / "data", PrepareConfig())
    del TASKS["mine"]  # a fresh `paft-ext rl` process without --task-file
    task, data_file = dataset_task(str(tmp_path / "data" / "llamafactory"), "mine_paft")
    assert task.name == "mine" and task.task_file == str(path) and TASKS["mine"] is task
    assert data_file == tmp_path / "data" / "llamafactory" / "mine_train.jsonl"


def test_a_hub_dataset_is_read_by_its_id_and_split(tmp_path, monkeypatch):
    from paft_ext.benchmark_data import source

    calls = []

    def hub(task, split):
        calls.append((task.hub.path, task.hub.name, split))
        return [(f"{task.hub.path}/{split}#0", {"body": "from the hub", "y": 1})]

    monkeypatch.setattr(source, "_hub_raw", hub)
    path = _spec(tmp_path, data={"hub": "someone/reviews", "hub_config": "en", "train": {"split": "train"},
                                 "eval": {"split": "test"}})
    task = read_task_file(path)
    (record,) = load_records(task, "eval")  # a local data root exists here; a hub task does not use it
    assert calls == [("someone/reviews", "en", "test")]
    assert record.values == {"text": "from the hub", "A": "no", "B": "yes", "answer": "B"}
