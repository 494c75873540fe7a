"""loss_aware sampling through the stock `llamafactory-cli train`: what every micro-batch really held (paft_trace) is
the candidate each window's decision chose, the decisions follow the logged rule, two DDP ranks train the same
prompts, and a resumed run decides and trains exactly what the uninterrupted one did."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from lf_helpers import read_trace, run_cli, train_config

from paft_ext.core.config import PaftConfigError, build_config
from paft_ext.core.loss_aware import DECISIONS_FILE

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


def _replay(log: list[dict], decisions: list[dict], seed: int, temperature: float, ema: float = 0.5,
            floor: float = 0.1) -> tuple[list[dict], list[str]]:
    """The documented rule replayed from the trainer's own logged losses (trainer_log.jsonl, one entry per step =
    window): per window the candidates' excess EMAs before it was decided and the candidate an independent draw
    seeded by (seed, 0x4C41, window) picks."""
    losses = {entry["current_steps"] - 1: entry["loss"] for entry in log}
    baseline, excess, seen, chosen = None, {}, [], []
    for d in decisions:
        window = d["window"]
        if window >= 2:  # window w is decided when window w - 2 ends
            ended = window - 2
            loss = losses[ended]
            delta = 0.0 if baseline is None else loss - baseline
            baseline = loss if baseline is None else ema * baseline + (1 - ema) * loss
            prompt = chosen[ended]
            excess[prompt] = delta if prompt not in excess else ema * excess[prompt] + (1 - ema) * delta
        values = np.array([excess.get(c, 0.0) for c in d["candidates"]])
        soft = np.exp((values - values.max()) / temperature)
        probs = (1 - floor) * soft / soft.sum() + floor / len(values)
        draw = np.random.default_rng([seed, 0x4C41, window]).random()
        chosen.append(d["candidates"][min(int(np.searchsorted(np.cumsum(probs), draw, side="right")),
                                          len(probs) - 1)])
        seen.append({"excess": [excess.get(c) for c in d["candidates"]], "probabilities": probs.tolist()})
    return seen, chosen


@pytest.mark.slow
def test_decisions_follow_the_losses_the_trainer_logged(run):
    decisions = _decisions(run)
    log = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    assert [e["current_steps"] for e in log if "loss" in e][:STEPS] == list(range(1, STEPS + 1))  # one per window
    replayed, chosen = _replay([e for e in log if "loss" in e], decisions, seed=7, temperature=0.05)
    assert [d["chosen"] for d in decisions] == chosen
    for d, mine in zip(decisions, replayed, strict=True):
        assert [e is None for e in d["excess"]] == [e is None for e in mine["excess"]]
        assert [e for e in d["excess"] if e is not None] == pytest.approx(
            [e for e in mine["excess"] if e is not None], abs=1e-5)
        assert d["probabilities"] == pytest.approx(mine["probabilities"], abs=1e-5)
    # the rule had something to learn from: later windows saw non-zero excess losses
    assert any(e not in (None, 0.0) for d in decisions[3:] for e in d["excess"])


@pytest.mark.slow
def test_excess_is_per_token_whatever_the_batch_geometry(tiny_model, piqa_lf_data, tiny_pool, tmp_path):
    """The same rows per optimizer step as 4 rows x 1 micro-batch and as 1 row x 4 micro-batches: the same window
    losses, so the same excess and decisions (on transformers 5 each micro-batch's loss is its share of the step)."""
    runs = {}
    for name, (batch, accumulation) in {"4x1": (4, 1), "1x4": (1, 4)}.items():
        out = tmp_path / name
        out.mkdir()
        result = run_cli(_config(tiny_model, piqa_lf_data, out / "out", tiny_pool, per_device_train_batch_size=batch,
                                 gradient_accumulation_steps=accumulation, paft_trace=False, max_steps=8), out)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[name] = _decisions(out / "out")
    wide, deep = runs["4x1"], runs["1x4"]
    assert [d["chosen"] for d in wide] == [d["chosen"] for d in deep]
    for a, b in zip(wide, deep, strict=True):
        assert [e is None for e in a["excess"]] == [e is None for e in b["excess"]]
        assert [e for e in a["excess"] if e is not None] == pytest.approx(
            [e for e in b["excess"] if e is not None], rel=1e-3, abs=1e-4)
    assert any(e not in (None, 0.0) for d in wide for e in d["excess"])


def test_decisions_are_appended_and_the_schedule_is_rewritten_only_when_asked(tmp_path):
    from paft_ext.core.artefacts import SCHEDULE_FILE, accept_schedule, write_pending_schedule
    from paft_ext.core.loss_aware import LossAwareSampler
    from paft_ext.core.schedule import Geometry, ScheduleSpec, build_schedule
    from paft_ext.pools.store import Prompt

    pool = [Prompt(f"p{k}", f"T{k} {{x}}", "test") for k in range(6)]
    spec = ScheduleSpec(n_rows=8, epochs=1, max_steps=-1, geometry=Geometry(2, 1, 1), window=1, window_unit="step",
                        sampling="loss_aware", epoch_reshuffle=True, pool_size=6, pool_digest="d", seed=3,
                        candidates=3, temperature=0.5, floor=0.1, ema=0.5)
    schedule = build_schedule(spec)
    write_pending_schedule(schedule, pool, str(tmp_path))
    accept_schedule(str(tmp_path))
    before = (tmp_path / SCHEDULE_FILE).read_bytes()
    sampler = LossAwareSampler(schedule, [p.id for p in pool], str(tmp_path), rank=0)
    assert len(schedule.candidates) == 4  # 8 rows, 2 per step, K = 1
    for window in range(2):
        sampler.decide(window)
    assert len(_decisions(tmp_path)) == 2  # appended as made
    assert (tmp_path / SCHEDULE_FILE).read_bytes() == before  # the ~MB schedule untouched per decision
    sampler.write_schedule()
    windows = json.loads((tmp_path / SCHEDULE_FILE).read_text())["windows"]
    assert [w["prompt_id"] for w in windows[:2]] == [d["chosen"] for d in _decisions(tmp_path)]
    assert {w["prompt_id"] for w in windows[2:]} == {"decided-in-training"}


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
