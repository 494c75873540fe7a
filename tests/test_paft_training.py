"""PAFT through the stock `llamafactory-cli train`: the real micro-batch tensors are decoded (paft_trace) and must
carry exactly the prompts of the schedule — K-step windows, DDP ranks, resume — and non-PAFT runs stay untouched."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from lf_helpers import VENV_BIN, expected_text, losses, read_trace, run_cli, train_config

pytestmark = pytest.mark.slow  # starts llamafactory-cli, OpenCompass or a model server

B, GA = 3, 3


def _paft(tiny_model, data, out, pool, **overrides):
    return train_config(tiny_model, data, out, **{"paft_pool": str(pool), "paft_sampling": "cycle",
                                                  "paft_trace": True, **overrides})


def _check_trace(out, rows, world=1, rank=0):
    """Every traced row holds the schedule's text and prompt; returns the prompt id per optimizer step."""
    schedule = json.loads((out / "paft_schedule.json").read_text())
    per_step: dict[int, set] = {}
    for entry in read_trace(out, rank):
        g = (entry["step"] * GA + entry["micro"]) * world + rank
        for i, row in enumerate(entry["rows"]):
            position = g * B + i
            assert expected_text(schedule, rows, position) in row["text"]
            per_step.setdefault(entry["step"], set()).update(row["prompt_ids"])
    assert all(len(ids) == 1 for ids in per_step.values()), per_step
    return schedule, [next(iter(per_step[s])) for s in sorted(per_step)]


def _changes(prompts):
    return [s for s in range(1, len(prompts)) if prompts[s] != prompts[s - 1]]


@pytest.fixture(scope="module")
def run_k4(tiny_model, piqa_lf_data, tiny_pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("k4")
    result = run_cli(_paft(tiny_model, piqa_lf_data, out / "out", tiny_pool, paft_window_steps=4,
                           save_strategy="steps", save_steps=4), out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "out"


def test_prompt_changes_exactly_every_4th_step(run_k4, piqa_rows):
    schedule, prompts = _check_trace(run_k4, piqa_rows)
    assert schedule["total_steps"] == 8 and len(prompts) == 8  # 36 rows x 2 epochs / 9 rows per step
    assert _changes(prompts) == [4]
    assert [w["prompt_id"] for w in schedule["windows"]] == [prompts[0], prompts[4]]
    assert json.loads((run_k4 / "checkpoint-4" / "paft_state.json").read_text())["digest"] == schedule["digest"]


def test_prompt_changes_every_step_with_k1(tiny_model, piqa_lf_data, tiny_pool, tmp_path, piqa_rows):
    result = run_cli(_paft(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool, paft_window_steps=1), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[PAFT] expanded 36 rows x 2 epochs into 72 rows / 8 optimizer steps, 8 windows" in result.stderr
    _, prompts = _check_trace(tmp_path / "out", piqa_rows)
    assert _changes(prompts) == list(range(1, 8))
    assert len(set(prompts)) == 8  # cycle sampling over 10 prompts: no repeats within 8 windows


def test_curriculum_with_a_canonical_share_through_the_trainer(tiny_model, piqa_lf_data, tiny_pool, tmp_path,
                                                               piqa_rows):
    result = run_cli(_paft(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool, paft_window_steps=1,
                           paft_sampling="curriculum", paft_canonical_ratio=0.5), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    schedule = json.loads((tmp_path / "out" / "paft_schedule.json").read_text())
    order = schedule["spec"]["curriculum_order"]
    assert sorted(order) == list(range(10))
    windows = schedule["windows"]
    assert [w["prompt_id"] for w in windows].count("canonical") == 4  # round(0.5 x 8 windows)
    ids = [json.loads(line)["id"] for line in tiny_pool.read_text().splitlines()]
    for w in windows:  # window w draws from the ceil(10 (w+1) / 8) prompts closest to the fixed prompt
        if w["prompt_id"] != "canonical":
            assert ids.index(w["prompt_id"]) in order[:-(-10 * (w["window"] + 1) // 8)]
    for entry in read_trace(tmp_path / "out"):
        window = windows[entry["step"]]
        for i, row in enumerate(entry["rows"]):
            position = (entry["step"] * GA + entry["micro"]) * B + i
            assert expected_text(schedule, piqa_rows, position) in row["text"]  # canonical rows: their instruction
            assert row["prompt_ids"] == ([] if window["prompt_id"] == "canonical" else [window["prompt_id"]])


def test_canonical_decay_through_the_trainer(tiny_model, piqa_lf_data, tiny_pool, tmp_path, piqa_rows):
    """``paft_canonical_decay``: 8 windows, share 0.5, density 1 − x at the window midpoints x = 1/16 … 15/16: the
    first four sum to 3 (15+13+11+9 sixteenths), the last four to 1, so exactly 3 and 1 of them keep the fixed prompt
    whatever the seeded offset; the rows show it."""
    result = run_cli(_paft(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool, paft_window_steps=1,
                           paft_canonical_ratio=0.5, paft_canonical_decay=True), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    schedule = json.loads((tmp_path / "out" / "paft_schedule.json").read_text())
    assert schedule["spec"]["canonical_decay"] is True
    kept = [w["prompt_id"] == "canonical" for w in schedule["windows"]]
    assert len(kept) == 8 and sum(kept[:4]) == 3 and sum(kept[4:]) == 1
    for entry in read_trace(tmp_path / "out"):
        for i, row in enumerate(entry["rows"]):
            position = (entry["step"] * GA + entry["micro"]) * B + i
            assert expected_text(schedule, piqa_rows, position) in row["text"]


def test_two_rank_ddp_agrees_per_rank(tiny_model, piqa_lf_data, tiny_pool, tmp_path, piqa_rows):
    result = run_cli(_paft(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool, paft_window_steps=1), tmp_path,
                     env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "MASTER_PORT": "29533"})
    assert result.returncode == 0, result.stderr[-3000:]
    schedule, rank0 = _check_trace(tmp_path / "out", piqa_rows, world=2, rank=0)
    _, rank1 = _check_trace(tmp_path / "out", piqa_rows, world=2, rank=1)
    assert schedule["spec"]["geometry"]["world_size"] == 2 and schedule["total_steps"] == 4
    assert rank0 == rank1 and _changes(rank0) == [1, 2, 3]


def test_resume_reproduces_the_uninterrupted_batches_and_appends_the_trace(run_k4, tiny_model, piqa_lf_data,
                                                                           tiny_pool, tmp_path):
    out = tmp_path / "out"  # the interrupted run's folder: checkpoint-4 and the trace of steps 0-3
    shutil.copytree(run_k4, out, ignore=shutil.ignore_patterns("checkpoint-8"))
    trace = out / "paft_trace.rank0.jsonl"
    before = [line for line in trace.read_text().splitlines() if json.loads(line)["step"] < 4]
    trace.write_text("".join(line + "\n" for line in before))
    result = run_cli(_paft(tiny_model, piqa_lf_data, out, tiny_pool, paft_window_steps=4, overwrite_output_dir=False,
                           resume_from_checkpoint=str(out / "checkpoint-4")), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert trace.read_text().splitlines()[:len(before)] == before  # what was traced before is kept
    resumed = read_trace(out)[len(before):]
    full = [e for e in read_trace(run_k4) if e["step"] >= 4]
    assert [e["step"] for e in resumed] == [4] * GA + [5] * GA + [6] * GA + [7] * GA
    assert [[r["text"] for r in e["rows"]] for e in resumed] == [[r["text"] for r in e["rows"]] for e in full]


def test_resume_with_changed_geometry_is_refused_and_loses_nothing(run_k4, tiny_model, piqa_lf_data, tiny_pool,
                                                                    tmp_path):
    out = tmp_path / "out"
    shutil.copytree(run_k4, out)  # the refused run writes into the folder of the run it wants to resume
    before = {name: (out / name).read_bytes() for name in ("paft_schedule.json", "paft_trace.rank0.jsonl")}
    result = run_cli(_paft(tiny_model, piqa_lf_data, out, tiny_pool, paft_window_steps=4,
                           gradient_accumulation_steps=1, resume_from_checkpoint=str(out / "checkpoint-4"),
                           overwrite_output_dir=False), tmp_path)
    assert result.returncode != 0
    assert "batch geometry or PAFT settings changed since" in result.stderr
    assert {name: (out / name).read_bytes() for name in before} == before  # the schedule that ran is kept


def _hook_loaded(env):
    code = "import llamafactory.train.tuner as m; print(getattr(m._training_function, '_paft_wrapped', False))"
    return subprocess.run([str(VENV_BIN / "python"), "-c", code], env=env, capture_output=True, text=True).stdout


def test_non_paft_run_has_the_same_loss_with_and_without_the_extension(tiny_model, piqa_lf_data, tmp_path):
    import os

    assert _hook_loaded(dict(os.environ)).strip() == "True"
    assert _hook_loaded({**os.environ, "PAFT_EXT_DISABLE": "1"}).strip() == "False"
    runs = {}
    for label, env in (("with", {}), ("without", {"PAFT_EXT_DISABLE": "1"})):
        config = train_config(tiny_model, piqa_lf_data, tmp_path / label, dataset="piqa_train",
                              disable_shuffling=None, max_steps=3)
        result = run_cli(config, tmp_path, env=env, name=f"{label}.yaml")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "[PAFT]" not in result.stderr
        runs[label] = losses(tmp_path / label)
    assert len(runs["with"]) == 3 and runs["with"] == runs["without"]


def test_paft_yaml_without_the_extension_fails(tiny_model, piqa_lf_data, tiny_pool, tmp_path):
    config = _paft(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool, paft_window_steps=4)
    result = run_cli(config, tmp_path, env={"PAFT_EXT_DISABLE": "1"})
    assert result.returncode != 0 and "paft_pool" in result.stderr
    assert "not used by the HfArgumentParser" in result.stderr
    result = run_cli(config, tmp_path, env={"PAFT_EXT_DISABLE": "1", "ALLOW_EXTRA_ARGS": "1"})
    assert result.returncode != 0 and "Dataset converter paft not found" in result.stderr


def test_epoch_save_strategy_fires_at_every_paft_epoch_end(tiny_model, piqa_lf_data, tiny_pool, tmp_path):
    # 36 rows x 3 epochs / 9 rows per step = 12 steps, one pass for the trainer; epochs end after steps 4, 8, 12
    result = run_cli(_paft(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool, paft_window_steps=4,
                           num_train_epochs=3, save_strategy="epoch"), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "out").glob("checkpoint-*"))
    assert checkpoints == [4, 8, 12]
