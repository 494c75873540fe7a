"""The files written for OpenCompass load through the stock 0.5.4 loaders into exactly our records.

This fails if an upstream loader changes how it reads or preprocesses fields.
"""

from __future__ import annotations

import pytest

from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.benchmark_data.source import load_records
from paft_ext.tasks import TASKS


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, shared_root):
    out = tmp_path_factory.mktemp("prepared")
    prepare(list(TASKS.values()), out, PrepareConfig(train_samples=12, eval_samples=15, seed=5))
    return out / "opencompass" / "data"


def _expected(name, shared_root):
    task = TASKS[name]
    return [{k: r.values[k] for k in (*task.fields, "answer")}
            for r in load_records(task, "eval", root=shared_root, max_samples=15, seed=5)]


def _rows(dataset, columns):
    return [{c: row[c] for c in columns} for row in dataset]


def test_stock_loaders_read_our_files(prepared, shared_root):
    from opencompass.datasets import GSM8KDataset, HellaswagDataset_V2, PIQADatasetV2, RaceDataset, WinograndeDatasetV2

    hs = TASKS["hellaswag"]
    assert _rows(HellaswagDataset_V2.load(str(prepared / "hellaswag" / "hellaswag.jsonl")),
                 [*hs.fields, "label"]) == [
        {**{k: r[k] for k in hs.fields}, "label": r["answer"]} for r in _expected("hellaswag", shared_root)]
    piqa = PIQADatasetV2.load(str(prepared / "piqa"))
    assert _rows(piqa["validation"], [*TASKS["piqa"].fields, "answer"]) == _expected("piqa", shared_root)
    assert len(piqa["train"]) == 12
    wino = WinograndeDatasetV2.load(str(prepared / "winogrande"))
    assert _rows(wino, [*TASKS["winogrande"].fields, "answer"]) == _expected("winogrande", shared_root)
    for level in ("middle", "high"):
        race = RaceDataset.load(str(prepared / "race"), level)
        expected = _expected(f"race_{level}", shared_root)
        assert _rows(race["test"], [*TASKS[f"race_{level}"].fields, "answer"]) == expected
    gsm = GSM8KDataset.load(str(prepared / "gsm8k"))
    from opencompass.datasets import gsm8k_dataset_postprocess

    assert [gsm8k_dataset_postprocess(r["answer"]) for r in gsm["test"]] == [
        r["answer"] for r in _expected("gsm8k", shared_root)]
    assert [r["question"] for r in gsm["test"]] == [r["question"] for r in _expected("gsm8k", shared_root)]
