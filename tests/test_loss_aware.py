"""loss_aware sampling through the stock `llamafactory-cli train`: what every micro-batch really held (paft_trace) is
the candidate each window's decision chose, the decisions follow the logged rule, two DDP ranks train the same
prompts, and a resumed run decides and trains exactly what the uninterrupted one did."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from lf_helpers import read_trace, run_cli, train_config

from paft_ext.train.config import PaftConfigError, build_config
from paft_ext.train.loss_aware import DECISIONS_FILE

STEPS, GA = 8, 3  # 36 rows x 2 epochs / (3 x 3) rows per step


def _config(tiny_model, data, out, pool, **overrides):
    return train_config(tiny_model, data, out, **{"paft_pool": str(pool), "paft_sampling": "loss_aware",
                                                  "paft_window_steps": 1, "paft_trace": True,
                                                  "paft_sampling_temperature": 0.05, **overrides})


def _decisions(out) -> list[dict]:
    return [json.loads(line) for line in (out / DECISIONS_FILE).read_text().splitlines()]


def _trained(out, rank: int = 0) -> dict[int, set[str]]:
    """Optimizer step -> the pool prompts found in the decoded micro-batches of that step."""
    steps: dict[int, set[str]] = {}
    for entry in read_trace(out, rank):
        for row in entry["rows"]:
            steps.setdefault(entry["step"], set()).update(row["prompt_ids"])
    return steps


@pytest.fixture(scope="module")  # slow: starts llamafactory-cli
def run(tiny_model, piqa_lf_data, tiny_pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("loss_aware")
    result = run_cli(_config(tiny_model, piqa_lf_data, out / "out", tiny_pool, save_strategy="steps", save_steps=4),
                     out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "out"


@pytest.mark.slow
def test_every_window_trained_its_decided_candidate(run, piqa_rows):
    decisions = _decisions(run)
    schedule = json.loads((run / "paft_schedule.json").read_text())
    assert [d["window"] for d in decisions] == list(range(STEPS))
    trained = _trained(run)
    for decision, window in zip(decisions, schedule["windows"], strict=True):
        # the schedule file holds each window's decision, written as it was made
        assert window["prompt_id"] == decision["chosen"] and decision["candidates"] == window["candidates"]
        assert len(set(decision["candidates"])) == 4 and decision["chosen"] in decision["candidates"]
        assert trained[decision["window"]] == {decision["chosen"]}  # K=1: window = step
    for entry in read_trace(run):  # each variant trained with its own row's answer, not another row's
        for row in entry["rows"]:
            (source,) = [r for r in piqa_rows if r["goal"] in row["text"]]
            assert row["response"].startswith(source["output"])


@pytest.mark.slow
def test_decisions_follow_the_logged_excess_losses(run):
    decisions = _decisions(run)
    for d in decisions:
        excess = np.array([0.0 if e is None else e for e in d["excess"]])
        soft = np.exp((excess - excess.max()) / 0.05)
        expected = 0.9 * soft / soft.sum() + 0.1 / 4  # (1 - floor) softmax(excess / T) + floor / C
        assert d["probabilities"] == pytest.approx(expected.tolist(), abs=1e-6)
    # windows 0 and 1 are decided before any loss; later ones see the excess loss of prompts trained by then
    assert all(e is None for d in decisions[:2] for e in d["excess"])
    seen = {d["chosen"] for d in decisions[:STEPS - 2]}
    later = [e for d in decisions[2:] for c, e in zip(d["candidates"], d["excess"], strict=True)
             if c in seen and e is not None]
    assert later and any(abs(e) > 0 for e in later)


@pytest.mark.slow
def test_two_ddp_ranks_train_the_same_decided_prompts(tiny_model, piqa_lf_data, tiny_pool, tmp_path):
    result = run_cli(_config(tiny_model, piqa_lf_data, tmp_path / "out", tiny_pool), tmp_path,
                     env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "MASTER_PORT": "29541"})
    assert result.returncode == 0, result.stderr[-3000:]
    decisions = _decisions(tmp_path / "out")
    rank0, rank1 = _trained(tmp_path / "out", 0), _trained(tmp_path / "out", 1)
    assert len(decisions) == len(rank0) == 4  # 2 ranks share each step's 18 rows: 4 steps
    for d in decisions:
        assert rank0[d["window"]] == rank1[d["window"]] == {d["chosen"]}


@pytest.mark.slow
def test_resume_decides_and_trains_what_the_uninterrupted_run_did(run, tiny_model, piqa_lf_data, tiny_pool, tmp_path):
    out = tmp_path / "out"  # the interrupted run: checkpoint-4 and what it traced and decided up to step 4
    shutil.copytree(run, out, ignore=shutil.ignore_patterns("checkpoint-8"))
    trace = out / "paft_trace.rank0.jsonl"
    trace.write_text("".join(line + "\n" for line in trace.read_text().splitlines() if json.loads(line)["step"] < 4))
    saved = json.loads((out / "checkpoint-4" / "paft_state.json").read_text())["loss_aware"]
    assert sorted(map(int, saved["decisions"])) == list(range(6))  # windows 4 and 5 decided at the ends of 2 and 3
    result = run_cli(_config(tiny_model, piqa_lf_data, out, tiny_pool, save_strategy="steps", save_steps=4,
                             overwrite_output_dir=False, resume_from_checkpoint=str(out / "checkpoint-4")), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _decisions(out) == _decisions(run)
    schedule = json.loads((out / "paft_schedule.json").read_text())
    assert schedule == json.loads((run / "paft_schedule.json").read_text())  # decisions re-recorded, none left over
    resumed = [e for e in read_trace(out) if e["step"] >= 4]
    full = [e for e in read_trace(run) if e["step"] >= 4]
    assert [[r["text"] for r in e["rows"]] for e in resumed] == [[r["text"] for r in e["rows"]] for e in full]


def test_loss_aware_keys_are_checked():
    with pytest.raises(PaftConfigError, match="paft_sampling_floor: used by paft_sampling: loss_aware only"):
        build_config({"pool": "p", "sampling_floor": 0.2})
    with pytest.raises(PaftConfigError, match=r"paft_sampling_candidates must be an integer >= 2"):
        build_config({"pool": "p", "sampling": "loss_aware", "sampling_candidates": 1})
    with pytest.raises(PaftConfigError, match="loss_aware needs paft_window_unit: step"):
        build_config({"pool": "p", "sampling": "loss_aware", "window_unit": "example"})


def test_grpo_refuses_loss_aware():
    from paft_ext.rl.config import RLConfigError, parse_run

    with pytest.raises(RLConfigError, match="paft_sampling: loss_aware is an SFT option"):
        parse_run({"model_name_or_path": "m", "dataset": "d", "output_dir": "o", "paft_pool": "p.jsonl",
                   "paft_sampling": "loss_aware"})
