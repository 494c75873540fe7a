"""The fixed-prompt baseline has two data paths: the stock ``<task>_train`` dataset entry (the task's prompt filled in
by ``paft-ext prepare``) and the PAFT hook with a one-prompt pool (the Table 1 runner's). A comparison between a
baseline trained one way and PAFT trained the other is only controlled when both paths give the same tokens and,
with the same seed and no shuffling, the same row order. Both runs go through the stock ``llamafactory-cli train``
and save their tokenised datasets (``tokenized_path``); the test compares those rows byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lf_helpers import run_cli, train_config

pytestmark = pytest.mark.slow  # starts llamafactory-cli

N = 12


@pytest.fixture(scope="module")
def sst2_lf_data(tmp_path_factory, shared_root):
    from paft_ext.benchmark_data.export import PrepareConfig, prepare
    from paft_ext.tasks import get_task

    out = tmp_path_factory.mktemp("sst2_data")
    prepare([get_task("sst2")], out, PrepareConfig(train_samples=N, eval_samples=4, seed=3))
    return out / "llamafactory"


def _tokenized(path):
    from datasets import load_from_disk

    data = load_from_disk(str(path))
    train = data["train"] if "train" in data else data
    return [(list(r["input_ids"]), list(r["labels"])) for r in train]


def _run(tiny_model, data, work, name, **overrides):
    out = work / name
    config = train_config(tiny_model, data, out / "out", dataset=overrides.pop("dataset"), num_train_epochs=2.0,
                          per_device_train_batch_size=2, gradient_accumulation_steps=1,
                          tokenized_path=str(out / "tokenized"), seed=11, **overrides)
    (out).mkdir(parents=True)
    result = run_cli(config, out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def runs(tiny_model, sst2_lf_data, tmp_path_factory):
    from paft_ext.pools.store import Prompt, write_pool
    from paft_ext.tasks import get_task

    work = tmp_path_factory.mktemp("paths")
    pool = work / "fixed.jsonl"
    write_pool(pool, [Prompt("user-specified", get_task("sst2").baseline_prompt, "the task's fixed prompt")])
    stock = _run(tiny_model, sst2_lf_data, work, "stock", dataset="sst2_train")
    hook = _run(tiny_model, sst2_lf_data, work, "hook", dataset="sst2_paft", paft_pool=str(pool),
                paft_window_steps=1, paft_epoch_reshuffle=False)
    shuffled = _run(tiny_model, sst2_lf_data, work, "shuffled", dataset="sst2_paft", paft_pool=str(pool),
                    paft_window_steps=1)
    again = _run(tiny_model, sst2_lf_data, work, "again", dataset="sst2_paft", paft_pool=str(pool),
                 paft_window_steps=1)
    train_pool = Path(__file__).resolve().parents[1] / "data" / "prompts" / "sst2" / "train.jsonl"
    canonical = _run(tiny_model, sst2_lf_data, work, "canonical", dataset="sst2_paft", paft_pool=str(train_pool),
                     paft_window_steps=1, paft_canonical_ratio=1.0)
    return {"stock": stock, "hook": hook, "shuffled": shuffled, "again": again, "canonical": canonical}


def test_stock_entry_and_one_prompt_pool_give_identical_rows_in_identical_order(runs, sst2_lf_data):
    from transformers import AutoTokenizer

    from paft_ext.tasks import fill_template, get_task

    stock, hook = _tokenized(runs["stock"] / "tokenized"), _tokenized(runs["hook"] / "tokenized")
    assert len(stock) == N  # the stock path: each record once; LLaMA-Factory's sampler repeats it per epoch
    assert len(hook) == 2 * N  # the hook lays T = 2 epochs out as rows, here the identity order twice
    assert hook[:N] == stock and hook[N:] == stock  # input_ids and labels, row by row
    # and the rows are the records with the task's prompt, in file order (independent of both code paths)
    records = [json.loads(line) for line in (sst2_lf_data / "sst2_train.jsonl").read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(runs["stock"] / "out")
    for (ids, labels), record in zip(stock, records, strict=True):
        text = tokenizer.decode(ids, clean_up_tokenization_spaces=False)
        assert fill_template(get_task("sst2").baseline_prompt, record) in text
        answer = tokenizer.decode([t for t, lab in zip(ids, labels, strict=True) if lab != -100])
        assert answer.startswith(record["output"])


def test_with_reshuffling_the_hook_feeds_the_scheduled_permutation_of_the_same_rows(runs):
    stock, shuffled = _tokenized(runs["stock"] / "tokenized"), _tokenized(runs["shuffled"] / "tokenized")
    schedule = json.loads((runs["shuffled"] / "out" / "paft_schedule.json").read_text())
    order = schedule["order"]
    assert sorted(order[:N]) == list(range(N)) and sorted(order[N:]) == list(range(N))
    assert order[:N] != list(range(N))  # a real permutation, so the check below can fail
    assert shuffled == [stock[i] for i in order]


def test_the_same_yaml_and_seed_twice_give_the_same_schedule_rows_and_adapter(runs):
    first, second = runs["shuffled"], runs["again"]
    assert (first / "out" / "paft_schedule.json").read_text() == (second / "out" / "paft_schedule.json").read_text()
    assert _tokenized(first / "tokenized") == _tokenized(second / "tokenized")  # the rows in the order fed
    from safetensors.torch import load_file

    a, b = (load_file(str(run / "out" / "adapter_model.safetensors")) for run in (first, second))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)  # bit-identical on this CPU
    assert any(bool(a[k].abs().sum() > 0) for k in a if "lora_B" in k)  # and trained (LoRA B starts at zero)


def test_the_generated_baseline_trains_the_fixed_prompt_in_the_paft_runs_order(runs):
    """The baseline YAMLs keep the dataset's own prompt in every window (paft_canonical_ratio: 1.0) of the train
    pool's schedule: the stock rows, in the order the PAFT run of the same seed trains its rows."""
    stock, canonical = _tokenized(runs["stock"] / "tokenized"), _tokenized(runs["canonical"] / "tokenized")
    baseline = json.loads((runs["canonical"] / "out" / "paft_schedule.json").read_text())
    paft = json.loads((runs["shuffled"] / "out" / "paft_schedule.json").read_text())
    assert baseline["order"] == paft["order"]  # one seed, one order, whatever the pool
    assert {w["prompt_id"] for w in baseline["windows"]} == {"canonical"}
    assert canonical == [stock[i] for i in baseline["order"]]
