"""Tasks without a stock OpenCompass config (SST-2, SciQ): seeded disjoint carving of their one offline split, records
checked against the raw files, and OpenCompass's own JSON-lines loader reading exactly our records."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.benchmark_data.source import load_records
from paft_ext.evaluation.expand import expand_datasets
from paft_ext.evaluation.local_datasets import jsonl_datasets
from paft_ext.evaluation.settings import EvalSettings
from paft_ext.tasks import get_task

SIZES = {"sst2": (500, 372, 872), "sciq": (600, 400, 1000)}


def _raw(shared_root, task: str) -> list[dict]:
    return [json.loads(line) for line in (shared_root / task / "validation.jsonl").read_text().splitlines()]


def _line(origin: str) -> int:
    return int(origin.rsplit(":", 1)[1])


@pytest.mark.parametrize("name", sorted(SIZES))
def test_offline_carve_is_a_seeded_disjoint_partition(shared_root, name):
    task = get_task(name)
    train, evaluation = (load_records(task, split, root=shared_root) for split in ("train", "eval"))
    n_train, n_eval, n_file = SIZES[name]
    train_lines, eval_lines = [_line(r.origin) for r in train], [_line(r.origin) for r in evaluation]
    assert (len(train), len(evaluation)) == (n_train, n_eval)
    assert not set(train_lines) & set(eval_lines) and set(train_lines) | set(eval_lines) == set(range(1, n_file + 1))
    assert train_lines[:50] != sorted(train_lines[:50])  # a permutation, not the file's first lines
    assert [_line(r.origin) for r in load_records(task, "train", root=shared_root)] == train_lines  # reproducible


def test_sst2_labels_become_option_letters(shared_root):
    raw = _raw(shared_root, "sst2")
    for record in load_records(get_task("sst2"), "eval", root=shared_root):
        source = raw[_line(record.origin) - 1]
        assert record.values["sentence"] == source["sentence"].strip()
        assert (record.values["A"], record.values["B"]) == ("negative", "positive")
        assert record.values["answer"] == {0: "A", 1: "B"}[source["label"]]


def test_sciq_gold_letter_holds_the_correct_answer_and_letters_are_spread(shared_root):
    raw = _raw(shared_root, "sciq")
    records = [*load_records(get_task("sciq"), "train", root=shared_root),
               *load_records(get_task("sciq"), "eval", root=shared_root)]
    for record in records:
        source, values = raw[_line(record.origin) - 1], record.values
        assert values[values["answer"]] == source["correct_answer"].strip()
        assert sorted(values[c] for c in "ABCD") == sorted(
            source[k].strip() for k in ("correct_answer", "distractor1", "distractor2", "distractor3"))
        assert values["support"] == source["support"].strip()
    counts = Counter(r.values["answer"] for r in records)
    assert set(counts) == set("ABCD") and min(counts.values()) > 200  # the raw order (correct first) is not kept


def test_opencompass_custom_loader_reads_exactly_our_records(tmp_path, monkeypatch, shared_root):
    from opencompass.datasets import CustomDataset

    tasks = [get_task("sst2"), get_task("sciq")]
    prepare(tasks, tmp_path, PrepareConfig(train_samples=5, eval_samples=9, seed=3))
    monkeypatch.setenv("COMPASS_DATA_CACHE", str(tmp_path / "opencompass"))
    for task in tasks:
        (config,) = jsonl_datasets(task.name)
        loaded = CustomDataset.load(config["path"], local_mode=config["local_mode"])
        expected = load_records(task, "eval", root=shared_root, max_samples=9, seed=3)
        columns = [*config["reader_cfg"]["input_columns"], config["reader_cfg"]["output_column"]]
        assert [{c: row[c] for c in columns} for row in loaded] == [
            {c: r.values[c] for c in columns} for r in expected]


def test_jsonl_datasets_expand_over_a_prompt_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    texts = ["One: {sentence} A) {A} B) {B}", "Two: {sentence}\n{A} or {B}?"]
    path.write_text("".join(json.dumps({"id": f"m{k}", "text": t}) + "\n" for k, t in enumerate(texts)))
    settings = EvalSettings(tasks=("sst2",), prompt_sets=(str(path),), questions=7)
    expanded = expand_datasets(jsonl_datasets("sst2"), "sst2", settings)
    assert [d["abbr"] for d in expanded] == ["sst2_mine_p00", "sst2_mine_p01"]
    assert [d["infer_cfg"]["prompt_template"]["template"]["round"][0]["prompt"] for d in expanded] == texts
    assert expanded[0]["reader_cfg"]["test_range"] == "[:7]"
    assert expanded[0]["eval_cfg"]["pred_postprocessor"]["options"] == "AB"
    with pytest.raises(ValueError, match="stock OpenCompass config"):
        jsonl_datasets("piqa")
