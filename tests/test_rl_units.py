"""PAFT GRPO without training: rewards on known completions, YAML and data errors before any model loads, the
rendered GRPO rows against the schedule, and the TRL compatibility shim."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import yaml
from paft_ext.core.schedule import Geometry, ScheduleSpec, build_schedule
from paft_ext.pools.store import PoolError
from paft_ext.rl.config import RLConfigError, load_run, parse_run
from paft_ext.rl.data import dataset_task, grpo_rows, read_rows
from paft_ext.rl.rewards import reward_functions, reward_weights
from paft_ext.rl.runner import build_run
from paft_ext.tasks import get_task

MISSING_MODEL = "/nonexistent/model"  # any error raised before the model loads never reaches this path


def _conversational(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_choice_rewards_on_known_completions():
    correct, fmt, answered = reward_functions(get_task("piqa"), "strict")
    completions = [_conversational(t) for t in ("B", "A. because", "(B) it works", "Both are bad", "I think so", "")]
    gold = ["B", "B", "B", "B", "A", "A"]
    assert correct(completions=completions, answer=gold) == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert fmt(completions=completions) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    # OpenCompass's rule takes the capital letter of "Both" (B) and the "I" is no option: answered, not correct
    assert answered(completions=completions) == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    lenient = reward_functions(get_task("piqa"), "opencompass")[0]
    assert lenient(completions=completions, answer=gold) == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_number_rewards_on_known_completions():
    correct, fmt, answered = reward_functions(get_task("gsm8k"), "strict")
    texts = ["3 + 4 = 7. The answer is 7.", "#### 1,200", "so 12 apples", "\\boxed{-3.50}", "no idea"]
    completions = [_conversational(t) for t in texts]
    assert correct(completions=completions, answer=["7", "1200", "13", "-3.5", "0"]) == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert fmt(completions=completions) == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert answered(completions=completions) == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert reward_weights(0.5) == [1.0, 0.5, 0.0]  # correctness optimised, format weighted, answered logged only


def _yaml(tmp_path: Path, **values) -> Path:
    base = {"model_name_or_path": MISSING_MODEL, "dataset": "piqa_paft", "output_dir": str(tmp_path / "out"),
            "paft_pool": "fixed"}
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump({**base, **values}))
    return path


@pytest.mark.parametrize(("values", "message"), [
    ({"num_generations": 1}, "num_generations: 1; GRPO needs >= 2"),
    ({"stage": "sft"}, "runs stage grpo"),
    ({"lora_rnk": 8}, "unknown key(s) lora_rnk"),
    ({"learning_rate": "fast"}, "learning_rate must be float"),
    ({"num_generations": True}, "num_generations must be int"),
    ({"paft_window_steps": 0}, "paft_window_steps must be a positive integer"),
    ({"paft_window_unit": "example"}, "SFT options"),
    ({"paft_pool": None, "paft_seed": 3}, "paft_pool must be a non-empty string"),
    ({"finetuning_type": "full"}, "only lora"),
    ({"answer_rule": "loose"}, "answer_rule"),
    ({"loss_type": "nonsense"}, "loss_type: 'nonsense'; TRL"),
    ({"temperature": 0}, "temperature: 0.0; must be > 0"),
    ({"learning_rate": -1}, "learning_rate: -1.0; must be > 0"),
    ({"per_device_train_batch_size": 3, "num_generations": 2}, "= 3 must be divisible by num_generations: 2"),
    ({"num_train_epochs": 2.5}, "num_train_epochs must be int"),
])
def test_bad_yaml_is_refused_naming_file_and_key(tmp_path, values, message):
    path = _yaml(tmp_path, **values)
    with pytest.raises(RLConfigError) as err:
        load_run(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_values_written_as_llamafactory_yamls_write_them_are_read(tmp_path):
    path = tmp_path / "rl.yaml"
    path.write_text(f"model_name_or_path: {MISSING_MODEL}\ndataset: piqa_paft\noutput_dir: out\npaft_pool: fixed\n"
                    "learning_rate: 1e-4\nnum_train_epochs: 3.0\n")
    run, _ = load_run(path)  # YAML 1.1 reads 1e-4 as a string; LLaMA-Factory writes epochs as 3.0
    assert (run.learning_rate, run.num_train_epochs) == (1e-4, 3)
    assert type(run.num_train_epochs) is int


def test_loss_types_are_the_installed_trls():
    """Fails when TRL adds or drops a GRPO loss formulation: update LOSS_TYPES (checked before the model loads)."""
    import importlib.util
    import re

    from paft_ext.rl.config import LOSS_TYPES

    source = Path(importlib.util.find_spec("trl").submodule_search_locations[0], "trainer", "grpo_trainer.py")
    found = set(re.findall(r'self\.loss_type == "(\w+)"', source.read_text()))
    assert found == set(LOSS_TYPES)


def test_missing_keys_and_missing_pool_are_refused():
    with pytest.raises(RLConfigError, match="missing required key.*output_dir"):
        parse_run({"model_name_or_path": "m", "dataset": "d", "paft_pool": "fixed"})
    with pytest.raises(RLConfigError, match="paft_pool is required"):
        parse_run({"model_name_or_path": "m", "dataset": "d", "output_dir": "o"})


def _info(tmp_path: Path, entries: dict) -> Path:
    (tmp_path / "dataset_info.json").write_text(json.dumps(entries))
    return tmp_path


@pytest.mark.parametrize(("entry", "message"), [
    ({"file_name": "x.json", "formatting": "sharegpt"}, "not an SFT-style dataset"),
    ({"file_name": "x.json", "ranking": True}, "not an SFT-style dataset"),
    ({"file_name": "x.jsonl", "formatting": "alpaca"}, "fixed-prompt entry without a 'paft' block"),
    ({"file_name": "x.jsonl", "formatting": "paft", "paft": {"fields": ["goal"]}}, "names fields but no task"),
    ({"file_name": "x.jsonl", "formatting": "paft", "paft": {"task": "piqa2"}}, "unknown task 'piqa2'"),
])
def test_datasets_grpo_cannot_score_are_refused(tmp_path, entry, message):
    with pytest.raises(RLConfigError, match=message):
        dataset_task(str(_info(tmp_path, {"d": entry})), "d")
    with pytest.raises(RLConfigError, match="no dataset 'other'"):
        dataset_task(str(tmp_path), "other")


def test_rows_without_fields_or_with_a_bad_answer_name_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    good = {"goal": "g", "sol1": "a", "sol2": "b", "answer": "A"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "answer": "C"}) + "\n")
    with pytest.raises(RLConfigError, match=rf"{path}:2: answer 'C' is not one of AB"):
        read_rows(get_task("piqa"), path, None)
    path.write_text(json.dumps(good) + "\n" + json.dumps({"goal": "g", "answer": "A"}) + "\n")
    with pytest.raises(RLConfigError, match=rf"{path}:2: row lacks string field\(s\) sol1, sol2"):
        read_rows(get_task("piqa"), path, None)
    assert read_rows(get_task("piqa"), path, 1) == [good]  # max_samples stops before the bad line


def test_a_pool_without_the_task_fields_fails_before_the_model_loads(tmp_path, piqa_lf_data):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"id": "w", "text": "Sentence: {prompt}\nA. {sol1}\nB. {sol2}"}) + "\n")
    path = _yaml(tmp_path, dataset_dir=str(piqa_lf_data), paft_pool=str(pool))
    with pytest.raises(PoolError, match=rf"{pool}:1: prompt 'w': missing placeholder\(s\) {{goal}}"):
        build_run(path)  # the model path does not exist: reaching it would raise OSError instead


def test_grpo_rows_follow_the_schedule(piqa_rows):
    task = get_task("piqa")
    rows = [{k: r[k] for k in (*task.fields, "answer")} for r in piqa_rows[:6]]
    from paft_ext.pools.store import Prompt

    pool = [Prompt("p0", "{goal} | {sol1} | {sol2}", "test"), Prompt("p1", "Q {goal}? A {sol1} B {sol2}", "test")]
    spec = ScheduleSpec(n_rows=6, epochs=2, max_steps=-1, geometry=Geometry(2, 1, 1), window=2, window_unit="step",
                        sampling="cycle", epoch_reshuffle=True, pool_size=2, pool_digest="d", seed=5)
    schedule = build_schedule(spec)
    out = grpo_rows(task, rows, schedule, pool, system="Be brief.")
    assert len(out) == 12 and [r["paft_position"] for r in out] == list(range(12))
    # expected from the documented seeding alone (seed 5 with the order / prompt streams), not from the schedule:
    # T = 2 seeded permutations of the 6 rows; 3 windows of 2 steps x 2 rows; cycle = shuffled passes over the pool
    from paft_ext.core import schedule as streams

    order_rng = np.random.default_rng([5, streams._ORDER_STREAM])
    order = np.concatenate([order_rng.permutation(6), order_rng.permutation(6)])
    prompt_rng = np.random.default_rng([5, streams._PROMPT_STREAM])
    window_prompts = np.concatenate([prompt_rng.permutation(2), prompt_rng.permutation(2)])[:3]
    for position, row in enumerate(out):
        source = rows[order[position]]
        window = position // 4  # 2 groups per step x 2 steps per window
        prompt = pool[window_prompts[window]]
        assert row["paft_prompt_id"] == prompt.id
        expected = (f"{source['goal']} | {source['sol1']} | {source['sol2']}" if prompt.id == "p0" else
                    f"Q {source['goal']}? A {source['sol1']} B {source['sol2']}")
        assert row["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": expected}]
        assert row["answer"] == source["answer"]
    assert sorted(schedule.order[:6].tolist()) == list(range(6))  # every row once per epoch
    assert {r["paft_prompt_id"] for r in out} == {"p0", "p1"}  # cycle: both prompts before any repeats


def test_trl_shim_is_still_needed_and_still_sufficient():
    """Fails when TRL or transformers change so that the shim is unnecessary (drop it) or not enough (fix it)."""
    probe = ("import trl.import_utils as u, transformers\n"
             "print(type(u._mergekit_available).__name__)\n"
             "try:\n    from trl import GRPOTrainer\n    print('imports')\n"
             "except Exception as e:\n    print('fails', type(e).__name__)\n"
             "from paft_ext.rl.trl_compat import grpo_classes, fix_availability_flags\n"
             "print(grpo_classes()[1].__name__, type(u._mergekit_available).__name__)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["tuple", "fails", "RuntimeError", "GRPOTrainer", "bool"]
    import inspect

    from transformers import LlamaConfig, LlamaForCausalLM

    from paft_ext.rl.trl_compat import grpo_classes

    grpo_classes()
    from trl.trainer import grpo_trainer

    assert "model.warnings_issued[" in inspect.getsource(grpo_trainer.GRPOTrainer.__init__)
    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=8, hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                                        num_attention_heads=1))
    assert not hasattr(tiny, "warnings_issued")


def test_the_cli_exits_non_zero_naming_the_key(tmp_path):
    path = _yaml(tmp_path, num_generations=1)
    done = subprocess.run([str(Path(sys.executable).parent / "paft-ext"), "rl", str(path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"paft-ext: error: {path}: num_generations: 1")
    assert not (tmp_path / "out").exists()  # nothing written for a refused run
