"""PAFT GRPO for real on the tiny model through `paft-ext rl`: what each optimizer step's training forwards decode
to (the trace) against the schedule, groups sharing one rendered prompt, resume, the fixed-prompt baseline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from lf_helpers import VENV_BIN, read_trace

import yaml
from paft_ext.evaluation.adapter_check import base_mismatch

pytestmark = pytest.mark.slow  # trains with TRL

STEPS, GROUPS_PER_STEP, GENERATIONS, WINDOW = 6, 4, 2, 2


def _config(tiny_model: Path, data: Path, pool: str, out: Path, **extra) -> dict:
    return {"model_name_or_path": str(tiny_model), "dataset_dir": str(data), "dataset": "piqa_paft",
            "output_dir": str(out), "max_samples": 12, "num_train_epochs": 2, "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 2, "num_generations": GENERATIONS, "max_completion_length": 4,
            "learning_rate": 5e-2, "temperature": 1.5, "answer_rule": "opencompass", "use_cpu": True,
            "save_steps": 3, "lora_rank": 4, "seed": 3, "paft_pool": pool, "paft_window_steps": WINDOW,
            "paft_trace": True, **extra}


def _rl(config: dict, workdir: Path) -> subprocess.CompletedProcess:
    path = workdir / f"{Path(config['output_dir']).name}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([str(VENV_BIN / "paft-ext"), "rl", str(path)], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=900)


def _prompt_part(text: str) -> str:
    return text.split("<|im_start|>assistant")[0]


@pytest.fixture(scope="module")
def trained(tiny_model, piqa_lf_data, tiny_pool, tmp_path_factory):
    work = tmp_path_factory.mktemp("grpo")
    config = _config(tiny_model, piqa_lf_data, str(tiny_pool), work / "paft")
    result = _rl(config, work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work, config


def test_every_training_forward_holds_its_windows_prompt_in_whole_groups(trained, piqa_rows):
    work, _ = trained
    out = work / "paft"
    schedule = json.loads((out / "paft_schedule.json").read_text())
    pool = schedule["prompts"]
    assert schedule["total_steps"] == STEPS and len(schedule["order"]) == STEPS * GROUPS_PER_STEP
    trace = read_trace(out)
    assert [(t["step"], t["micro"]) for t in trace] == [(s, m) for s in range(STEPS) for m in range(2)]
    for step in range(STEPS):
        window = schedule["windows"][step // WINDOW]
        assert window["first_step"] == step // WINDOW * WINDOW
        rows = [r for t in trace if t["step"] == step for r in t["rows"]]
        assert len(rows) == GROUPS_PER_STEP * GENERATIONS
        assert all(r["prompt_ids"] == [window["prompt_id"]] for r in rows), step
        # the user turn of each scheduled position, filled here from the prepared rows and the pool text
        expected = []
        for position in range(step * GROUPS_PER_STEP, (step + 1) * GROUPS_PER_STEP):
            row = piqa_rows[schedule["order"][position]]
            text = pool[window["prompt_id"]]
            for field in ("goal", "sol1", "sol2"):
                text = text.replace("{" + field + "}", row[field])
            expected.append(text)
        seen = Counter()
        for r in rows:
            # (the trace drops pad tokens; this tokenizer pads with <|im_end|>, so turns end in a bare newline)
            hits = [e for e in expected if f"<|im_start|>user\n{e}\n<|im_start|>assistant" in r["text"]]
            assert len(hits) == 1, r["text"]
            seen[hits[0]] += 1
        assert sorted(seen.values()) == [GENERATIONS] * GROUPS_PER_STEP  # each group: all its completions


def test_rewards_are_logged_and_the_adapter_is_a_normal_lora(trained, tiny_model):
    work, _ = trained
    out = work / "paft"
    state = json.loads((out / "trainer_state.json").read_text())
    logged = [h for h in state["log_history"] if "rewards/correct/mean" in h]
    assert len(logged) == STEPS
    for h in logged:
        assert 0.0 <= h["rewards/correct/mean"] <= h["rewards/answered/mean"] <= 1.0  # correct implies answered
        assert h["reward"] == pytest.approx(h["rewards/correct/mean"])  # weights 1, 0, 0
    assert base_mismatch(out, str(tiny_model)) is None
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["peft_type"] == "LORA"
    from safetensors.torch import load_file

    weights = load_file(out / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in weights.items())  # it learned


def test_resume_continues_the_schedule_and_refuses_another(trained, tiny_model, piqa_lf_data, tiny_pool):
    work, config = trained
    out = work / "paft"
    full = read_trace(out)
    resumed_dir = work / "resumed"
    shutil.copytree(out, resumed_dir, ignore=shutil.ignore_patterns("checkpoint-6"))
    for name in ("adapter_config.json", "adapter_model.safetensors", "paft_rl_run.json"):
        (resumed_dir / name).unlink()
    (resumed_dir / "paft_trace.rank0.jsonl").write_text(
        "".join(json.dumps(t) + "\n" for t in full if t["step"] < 3))  # as if killed after checkpoint-3
    changed = _rl({**config, "output_dir": str(resumed_dir), "paft_window_steps": 3}, work)
    assert changed.returncode != 0 and "PAFT settings changed since" in changed.stderr
    result = _rl({**config, "output_dir": str(resumed_dir)}, work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((resumed_dir / "paft_rl_run.json").read_text())["resumed_from"].endswith("checkpoint-3")
    again = read_trace(resumed_dir)
    assert [t["step"] for t in again] == [t["step"] for t in full]

    def prompts(trace):
        return [sorted(_prompt_part(r["text"]) for r in t["rows"]) for t in trace if t["step"] >= 3]

    assert prompts(again) == prompts(full)
    finished = _rl({**config, "output_dir": str(resumed_dir)}, work)
    assert finished.returncode != 0 and "holds a finished run" in finished.stderr


def test_fixed_prompt_baseline_is_a_one_prompt_pool(tiny_model, piqa_lf_data, tmp_path):
    from paft_ext.tasks import get_task

    result = _rl(_config(tiny_model, piqa_lf_data, "fixed", tmp_path / "fixed", max_samples=4, num_train_epochs=1,
                         paft_window_steps=1), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    schedule = json.loads((tmp_path / "fixed" / "paft_schedule.json").read_text())
    assert schedule["prompts"] == {"user-specified": get_task("piqa").baseline_prompt}
    assert {r["prompt_ids"][0] for t in read_trace(tmp_path / "fixed") for r in t["rows"]} == {"user-specified"}


def test_structure_draws_reach_the_grpo_prompts(tiny_model, piqa_lf_data, tiny_pool, tmp_path, piqa_rows):
    out = tmp_path / "structure"
    result = _rl(_config(tiny_model, piqa_lf_data, str(tiny_pool), out, max_samples=4, num_train_epochs=1,
                         paft_window_steps=1, paft_option_order=True, paft_option_symbols=["12"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    schedule = json.loads((out / "paft_schedule.json").read_text())
    assert {w["order"] for w in schedule["windows"]} <= {"AB", "BA"}
    shown = {w["symbols"] for w in schedule["windows"]}
    assert shown <= {"12", "AB"} and "12" in shown  # AB only for a pool prompt that names no letter
    state = json.loads((out / "trainer_state.json").read_text())
    assert any("rewards/correct/mean" in h for h in state["log_history"])
    for entry in read_trace(out):
        step_window = schedule["windows"][entry["step"]]
        prompt = schedule["prompts"][step_window["prompt_id"]]
        for row in entry["rows"]:
            user = _prompt_part(row["text"]).split("<|im_start|>user\n")[-1]
            if step_window["symbols"] == "12" and "A." in prompt:
                assert "1." in user and "A." not in user  # the labels the schedule records are the ones shown
