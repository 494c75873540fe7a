"""Every PAFT guard fires with its message instead of training without PAFT (in-process `run_exp`, the same
function `llamafactory-cli train` calls; the extension is loaded in this interpreter by its .pth)."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from lf_helpers import train_config, write_pool

from paft_ext.core.config import PaftConfigError
from paft_ext.core.run_state import PaftSetupError
from paft_ext.pools.store import PoolError


def run(config):
    from llamafactory.train.tuner import run_exp

    run_exp(config)


@pytest.fixture
def base(tiny_model, piqa_lf_data, tiny_pool, tmp_path):
    return train_config(tiny_model, piqa_lf_data, tmp_path / "out", paft_pool=str(tiny_pool), paft_window_steps=2)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"disable_shuffling": False}, "set disable_shuffling: true"),
    ({"packing": True}, "packing/neat_packing mixes prompt windows"),
    ({"neat_packing": True}, "packing/neat_packing mixes prompt windows"),
    ({"streaming": True, "max_steps": 2}, "streaming has no fixed row order"),
    ({"stage": "pt"}, "PAFT supports stage: sft only"),
    ({"auto_find_batch_size": True}, "auto_find_batch_size changes the batch geometry"),
    ({"ignore_data_skip": True}, "ignore_data_skip restarts the data"),
    ({"num_train_epochs": 1.5}, "num_train_epochs must be a whole number"),
    ({"dataset": "piqa_train"}, "the training dataset has no PAFT rows"),
])
def test_setup_guards(base, overrides, message):
    with pytest.raises(PaftSetupError, match=message):
        run({**base, **overrides})


def test_paft_dataset_without_paft_keys(base):
    config = {k: v for k, v in base.items() if not k.startswith("paft_")}
    with pytest.raises(PaftSetupError, match="formatting 'paft' but the YAML sets no paft_pool"):
        run(config)


def test_unknown_paft_key(base):
    with pytest.raises(PaftConfigError, match="unknown key.*paft_windows"):
        run({**base, "paft_windows": 3})


@pytest.mark.parametrize(("texts", "message"), [
    (None, "prompt pool not found"),
    ([], "prompt pool is empty"),
    (["{goal} {sol1}"], r"prompt 't0': missing placeholder\(s\) \{sol2\}"),
    (["{goal} {sol1} {sol2} {label}"], r"unknown placeholder\(s\) \{label\}"),
])
def test_pool_guards(base, tmp_path, texts, message):
    pool = tmp_path / "pool.jsonl"
    if texts is not None:
        write_pool(pool, texts)
    with pytest.raises(PoolError, match=message):
        run({**base, "paft_pool": str(pool)})


def test_paft_block_needs_paft_formatting(base, piqa_lf_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(piqa_lf_data, data)
    info = json.loads((data / "dataset_info.json").read_text())
    info["piqa_paft"]["formatting"] = "alpaca"
    (data / "dataset_info.json").write_text(json.dumps(info))
    with pytest.raises(PaftSetupError, match="has a 'paft' block but formatting 'alpaca'"):
        run({**base, "dataset_dir": str(data)})


def test_stale_tokenized_path_is_refused(base, tmp_path):
    tokenized = str(tmp_path / "tokenized")
    run({**base, "tokenized_path": tokenized, "max_steps": 1})
    meta = json.loads((tmp_path / "tokenized" / "paft_meta.json").read_text())
    assert meta["run"]["config"]["window_steps"] == 2 and meta["fields"] == ["goal", "sol1", "sol2"]
    (tmp_path / "out" / "paft_schedule.json").unlink()
    run({**base, "tokenized_path": tokenized, "max_steps": 1})  # same settings: the cache is reused
    assert json.loads((tmp_path / "out" / "paft_schedule.json").read_text())["digest"] == hashlib.sha256(
        json.dumps(meta["spec"], sort_keys=True).encode()).hexdigest()
    with pytest.raises(PaftSetupError, match=r"was built with PAFT meta .*'window_steps': 2.*now .*'window_steps': 4"):
        run({**base, "tokenized_path": tokenized, "max_steps": 1, "paft_window_steps": 4})
    with pytest.raises(PaftSetupError, match="was built with PAFT meta .* now None"):
        run({k: v for k, v in base.items() if not k.startswith("paft_")} | {
            "tokenized_path": tokenized, "max_steps": 1, "dataset": "piqa_train"})


def test_prompts_longer_than_cutoff_are_reported(base, capfd):
    run({**base, "cutoff_len": 40, "max_steps": 1})
    assert "have a prompt of >= cutoff_len=40 tokens and will be truncated" in capfd.readouterr().err


def test_eval_pool_must_not_share_test_prompts(base, tmp_path):
    pools = tmp_path / "pools"
    pools.mkdir()
    write_pool(pools / "train.jsonl")
    write_pool(pools / "test.jsonl", ["Held out: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:"])
    config = {**base, "paft_pool": str(pools / "train.jsonl"), "paft_eval_prompt": f"pool:{pools / 'test.jsonl'}",
              "val_size": 0.25, "eval_strategy": "steps", "eval_steps": 1, "max_steps": 1}
    with pytest.raises(PaftSetupError, match="paft_eval_prompt shares 1 prompt\\(s\\) with the test pool"):
        run(config)


def test_paft_datasets_of_different_fields_in_one_run_are_refused(base, tmp_path, shared_root):
    """One pool renders one task's fields: SST-2 rows rendered with PIQA templates would keep {sentence}, {A}, {B}."""
    from paft_ext.benchmark_data.export import PrepareConfig, prepare
    from paft_ext.tasks import get_task

    prepare([get_task("piqa"), get_task("sst2")], tmp_path / "mixed", PrepareConfig(8, 2, 0))
    config = {**base, "dataset_dir": str(tmp_path / "mixed" / "llamafactory"), "dataset": "piqa_paft,sst2_paft"}
    with pytest.raises(PaftSetupError, match=r"piqa_paft \(goal, sol1, sol2\), sst2_paft \(sentence, A, B\) have "
                                             r"different fields"):
        run(config)


def test_a_pool_size_trains_on_a_nested_seeded_subset(base, tmp_path):
    """paft_pool_size keeps N prompts of the 10-prompt pool; every window of the schedule draws from those N, and a
    smaller size of the same seed keeps a subset of a larger one's (the pool-size curve adds prompts)."""
    kept = {}
    for size in (3, 6):
        out = tmp_path / f"size{size}"
        run({**base, "output_dir": str(out), "paft_pool_size": size, "max_steps": 6, "paft_window_steps": 1,
             "paft_sampling": "cycle"})
        schedule = json.loads((out / "paft_schedule.json").read_text())
        kept[size] = set(schedule["prompts"])
        assert len(kept[size]) == size and kept[size] <= {f"t{i}" for i in range(10)}
        assert {w["prompt_id"] for w in schedule["windows"]} <= kept[size]
        assert len({w["prompt_id"] for w in schedule["windows"][:size]}) == size  # cycle: each kept prompt once
    assert kept[3] < kept[6]
    with pytest.raises(PoolError, match="paft_pool_size: 11 prompts asked, the pool holds 10"):
        run({**base, "paft_pool_size": 11})
    with pytest.raises(PaftConfigError, match="paft_pool_size must be a positive integer"):
        run({**base, "paft_pool_size": 0})
