"""One real OpenCompass run on CPU: 2 benchmarks × 3 prompts × 2 models (a tiny base model and a LoRA adapter
trained here with LLaMA-Factory), then the report, checked against the prediction files."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from lf_helpers import run_cli, train_config, write_pool

from paft_ext.adapters.export import PrepareConfig, prepare
from paft_ext.evaluation.report import find_run, write_report
from paft_ext.pools.store import load_pool
from paft_ext.tasks import get_task
from paft_ext.train.render import identify_prompts

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
POOLS = {
    "piqa": ["Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Which works? {goal} (A) {sol1} (B) {sol2} Letter:",
             "PHYSICAL\n{goal}\n[A] {sol1}\n[B] {sol2}"],
    "winogrande": ["Fill the blank: {prompt}\nA. {only_option1}\nB. {only_option2}\nAnswer:",
                   "Sentence -> {prompt} | A) {only_option1} | B) {only_option2}",
                   "Who is _? {prompt}\nOption A: {only_option1}\nOption B: {only_option2}"],
}


@pytest.fixture(scope="module")
def evaluated(tiny_model, piqa_lf_data, tiny_pool, tmp_path_factory, shared_root):
    work = tmp_path_factory.mktemp("oc")
    result = run_cli(train_config(tiny_model, piqa_lf_data, work / "lora", paft_pool=str(tiny_pool),
                                  paft_window_steps=1, learning_rate=0.05, max_steps=8), work)
    assert result.returncode == 0, result.stderr[-3000:]
    prepare([get_task("piqa"), get_task("winogrande")], work / "data",
            PrepareConfig(train_samples=4, eval_samples=6, seed=2))
    for pool, texts in POOLS.items():
        (work / "pools" / pool).mkdir(parents=True)
        write_pool(work / "pools" / pool / "test.jsonl", texts)
    env = {**os.environ, "PAFT_EVAL_TASKS": "piqa,winogrande", "PAFT_EVAL_MODEL": str(tiny_model),
           "PAFT_EVAL_ADAPTERS": f"lora={work / 'lora'}", "PAFT_EVAL_POOL_ROOT": str(work / "pools"),
           "PAFT_EVAL_MAX_OUT_LEN": "4", "PAFT_EVAL_BATCH_SIZE": "6", "COMPASS_DATA_CACHE": str(work / "data" /
                                                                                              "opencompass"),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(VENV_BIN / "opencompass"), str(ROOT / "opencompass_configs" / "eval_paft.py"), "-w",
                           str(work / "out"), "--dump-eval-details", "False"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = find_run(work / "out")
    report = write_report(run, work / "report", pool_root=work / "pools", tokenizer_path=str(tiny_model))
    return run, report, work


def _predictions(run: Path, model: str, abbr: str) -> list[dict]:
    return list(json.loads((run / "predictions" / model / f"{abbr}.json").read_text()).values())


def test_each_expanded_dataset_used_its_own_prompt(evaluated):
    run, _, work = evaluated
    for model in ("base", "lora"):
        for pool, task in (("piqa", "piqa"), ("winogrande", "winogrande")):
            prompts = load_pool(work / "pools" / pool / "test.jsonl", get_task(task).fields)
            for k, prompt in enumerate(prompts):
                items = _predictions(run, model, f"{task}_p{k:02d}")
                assert len(items) == 6
                for item in items:
                    (turn,) = item["origin_prompt"]  # one HUMAN turn, sent byte-exact (no appended newline)
                    assert turn["role"] == "HUMAN" and identify_prompts(turn["prompt"], prompts) == [prompt.id]
                    assert turn["prompt"].endswith(prompt.text.rsplit("}", 1)[-1])


def test_the_adapter_was_applied(evaluated):
    run, _, _ = evaluated
    base = [i["prediction"] for k in range(3) for i in _predictions(run, "base", f"piqa_p{k:02d}")]
    lora = [i["prediction"] for k in range(3) for i in _predictions(run, "lora", f"piqa_p{k:02d}")]
    assert base != lora


def test_report_equals_numbers_computed_from_the_predictions(evaluated):
    from opencompass.utils.text_postprocessors import first_option_postprocess

    run, report, work = evaluated
    rows = {(r["model"], r["task"]): r for r in report["rows"]}
    for model in ("base", "lora"):
        for task in ("piqa", "winogrande"):
            accs, empty = [], []
            for k in range(3):
                items = _predictions(run, model, f"{task}_p{k:02d}")
                extracted = [first_option_postprocess(i["prediction"], "AB") for i in items]
                accs.append(100 * sum(e == i["gold"] for e, i in zip(extracted, items, strict=True)) / len(items))
                empty.append(100 * sum(e == "" for e in extracted) / len(items))
                oc = json.loads((run / "results" / model / f"{task}_p{k:02d}.json").read_text())["accuracy"]
                assert oc == pytest.approx(accs[-1])
            row = rows[(model, task)]
            assert row["prompts"] == 3 and row["questions"] == 6 and not row["partial"]
            assert row["mean"] == pytest.approx(statistics.fmean(accs))
            assert row["std_pop"] == pytest.approx(statistics.pstdev(accs))
            assert row["std_sample"] == pytest.approx(statistics.stdev(accs))
            assert row["min"] == pytest.approx(min(accs)) and row["max"] == pytest.approx(max(accs))
            threshold = 100 * get_task(task).top_threshold
            assert row["top_pct"] == pytest.approx(100 * sum(a >= threshold for a in accs) / 3)
            assert row["no_answer_pct"] == pytest.approx(statistics.fmean(empty))
            assert 0 < row["output_tokens"] <= 4 and row["seconds"] > 0
    assert (work / "report" / "report.md").read_text().count("| lora |") == 3
    for png in (work / "report" / "plots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((work / "report" / "plots").glob("*.png"))) == 4
