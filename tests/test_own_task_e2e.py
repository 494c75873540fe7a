"""The worked example `examples/own_task` end to end on the tiny model, the way a user runs it: `paft-ext prepare
--task-file` → the generated `cpu_paft.yaml` through the stock `llamafactory-cli train` (without PAFT_TASK_FILES:
the dataset entry carries the fields) → one OpenCompass run over the example pool's unseen test prompts (the task
reaches OpenCompass's own process through PAFT_TASK_FILES) → `paft-ext report`. Checked against the raw SST-2 file,
the trainer's real batches and OpenCompass's own scores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from lf_helpers import read_trace, run_cli

import yaml
from paft_ext import cli
from paft_ext.core.trace import identify_prompts
from paft_ext.evaluation.launch import run_opencompass
from paft_ext.pools.store import load_pool
from paft_ext.tasks import TASK_FILES_ENV, TASKS

pytestmark = pytest.mark.slow  # starts llamafactory-cli and OpenCompass

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_task"
PROMPTS, QUESTIONS = 3, 6


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory, shared_root):
    work = tmp_path_factory.mktemp("own_task")
    saved_env, saved_tasks = os.environ.get(TASK_FILES_ENV), dict(TASKS)
    try:
        cli.main(["prepare", "--task-file", str(EXAMPLE / "task.yaml"), "--out", str(work / "data"),
                  "--train-samples", "24", "--eval-samples", str(QUESTIONS), "--seed", "3"])
        config = yaml.safe_load((work / "data" / "yaml" / "movie_reviews" / "cpu_paft.yaml").read_text())
        config.update(model_name_or_path=str(tiny_model), output_dir=str(work / "lora"), max_steps=8,
                      per_device_train_batch_size=3, lora_rank=4, paft_trace=True, logging_steps=1,
                      save_strategy="no", overwrite_output_dir=True)
        trained = run_cli(config, work, env={TASK_FILES_ENV: ""})
        assert trained.returncode == 0, trained.stderr[-3000:]
        cli.main(["pools", "perturb", "--task-file", str(EXAMPLE / "task.yaml"), "--task", "movie_reviews",
                  "--from", str(EXAMPLE / "prompts" / "valid.jsonl"), "--out", str(work / "circ.jsonl"), "--circular"])
        lines = (work / "circ.jsonl").read_text().splitlines()[:2]  # one source prompt, both rotations
        (work / "circ.jsonl").write_text("\n".join(lines) + "\n")
        for kind in ("symbols", "kshot"):  # one structure variant each of the first validation prompt
            cli.main(["pools", "perturb", "--task-file", str(EXAMPLE / "task.yaml"), "--task", "movie_reviews",
                      "--from", str(EXAMPLE / "prompts" / "valid.jsonl"), "--out", str(work / f"{kind}.jsonl"),
                      "--kinds", kind, "--seed", "1"])
        (work / "struct.jsonl").write_text("".join((work / f"{kind}.jsonl").read_text().splitlines(True)[0]
                                                   for kind in ("symbols", "kshot")))
        settings = {"tasks": "movie_reviews", "model": str(tiny_model), "adapters": f"paft={work / 'lora'}",
                    "prompts": PROMPTS, "max_out_len": 4, "batch_size": QUESTIONS, "include_base": "1",
                    "prompt_sets": f"test,{work / 'circ.jsonl'},{work / 'struct.jsonl'}"}
        os.environ["PAFT_EVAL_IN_PROCESS"] = "1"
        with (work / "opencompass.log").open("w") as log:
            run_dir = run_opencompass(settings, work / "data" / "opencompass", work / "eval", log=log, cwd=work)
        cli.main(["report", str(run_dir), "--task-file", str(EXAMPLE / "task.yaml"), "--no-plots"])
        yield work, config, run_dir, json.loads((run_dir / "paft_report" / "report.json").read_text())
    finally:
        os.environ.pop("PAFT_EVAL_IN_PROCESS", None)
        os.environ.pop(TASK_FILES_ENV, None) if saved_env is None else os.environ.update({TASK_FILES_ENV: saved_env})
        TASKS.clear()
        TASKS.update(saved_tasks)


def _raw_labels(shared_root) -> dict[str, int]:
    rows = [json.loads(line) for line in (shared_root / "sst2" / "validation.jsonl").read_text().splitlines()]
    return {r["sentence"].strip(): r["label"] for r in rows}


def test_prepared_rows_carry_the_raw_labels_as_letters(run, shared_root):
    work, config, _, _ = run
    labels = _raw_labels(shared_root)
    rows = [json.loads(line) for line in (work / "data" / "llamafactory" / "movie_reviews_train.jsonl").open()]
    assert len(rows) == 24 and config["dataset"] == "movie_reviews_paft"
    for row in rows:
        assert row["output"] == "AB"[labels[row["review"]]] and (row["A"], row["B"]) == ("negative", "positive")


def test_training_drew_the_example_pool_one_prompt_per_window(run):
    work, config, _, _ = run
    pool = load_pool(config["paft_pool"], ("review", "A", "B"))
    assert Path(config["paft_pool"]) == EXAMPLE / "prompts" / "train.jsonl"
    trace = read_trace(work / "lora")
    windows: dict[int, set[str]] = {}
    for entry in trace:
        for row in entry["rows"]:
            ids = set(identify_prompts(row["text"], pool))
            assert ids, row["text"]  # every trained row holds an example pool prompt
            window = entry["step"] // config["paft_window_steps"]
            windows[window] = windows.get(window, ids) & ids  # one prompt shared by the whole window
    assert config["paft_window_steps"] == 4 and sorted(windows) == [0, 1] and all(windows.values())
    assert windows[0] != windows[1]


def test_opencompass_scored_the_unseen_example_prompts_with_the_raw_golds(run, shared_root):
    work, _, run_dir, _ = run
    labels = _raw_labels(shared_root)
    test = load_pool(EXAMPLE / "prompts" / "test.jsonl", ("review", "A", "B"))
    scored = [json.loads(line) for line in (work / "data" / "opencompass" / "data" / "movie_reviews" / "test.jsonl")
              .open()]
    assert len(scored) == QUESTIONS
    for model in ("base", "paft"):
        for k in range(PROMPTS):
            items = json.loads((run_dir / "predictions" / model / f"movie_reviews_p{k:02d}.json").read_text())
            assert len(items) == QUESTIONS
            for index, record in enumerate(scored):
                item = items[str(index)]
                (turn,) = item["origin_prompt"]
                assert identify_prompts(turn["prompt"], test) == [test[k].id] and record["review"] in turn["prompt"]
                assert item["gold"] == "AB"[labels[record["review"]]]


def test_report_rows_equal_opencompass_scores(run):
    _, _, run_dir, report = run
    rows = {r["model"]: r for r in report["rows"] if r["task"] == "movie_reviews" and r["prompt_set"] == "test"}
    assert set(rows) == {"base", "paft"}
    per_prompt = [r for r in report["per_prompt"] if r["task"] == "movie_reviews" and r["prompt_set"] == "test"]
    for model, row in rows.items():
        accs = [json.loads((run_dir / "results" / model / f"movie_reviews_p{k:02d}.json").read_text())["accuracy"]
                for k in range(PROMPTS)]
        assert row["prompts"] == PROMPTS and row["questions"] == QUESTIONS
        assert row["mean"] == pytest.approx(sum(accs) / PROMPTS)
        assert row["top_pct"] == pytest.approx(100 * sum(a > 85 for a in accs) / PROMPTS)  # the file's top_threshold
        ids = sorted(r["prompt_id"] for r in per_prompt if r["model"] == model)
        assert ids == [f"movie_reviews-test-{k:03d}" for k in range(PROMPTS)]
    assert "| movie_reviews | test | base |" in (run_dir / "paft_report" / "report.md").read_text()


def test_circular_eval_maps_rotated_answers_back_and_counts_every_rotation(run):
    from opencompass.utils.text_postprocessors import first_option_postprocess

    work, _, run_dir, report = run
    golds = [json.loads(line)["answer"] for line in (work / "data" / "opencompass" / "data" / "movie_reviews" /
                                                      "test.jsonl").open()]
    for model in ("base", "paft"):
        correct = []
        for k, swap in ((0, {"A": "A", "B": "B", "": ""}), (1, {"A": "B", "B": "A", "": ""})):
            items = json.loads((run_dir / "predictions" / model / f"movie_reviews_circ_p{k:02d}.json").read_text())
            details = json.loads((run_dir / "results" / model / f"movie_reviews_circ_p{k:02d}.json").read_text())
            # rotation 1 shows the options swapped: a letter read off it names the other original option
            answers = [swap[first_option_postprocess(items[str(q)]["prediction"], "AB")] for q in range(QUESTIONS)]
            assert [details["details"][str(q)]["predictions"] for q in range(QUESTIONS)] == answers
            correct.append([a == g for a, g in zip(answers, golds, strict=True)])
        (row,) = [r for r in report["circular"] if r["model"] == model]
        assert row["plain_accuracy"] == pytest.approx(100 * sum(correct[0]) / QUESTIONS)
        both = sum(a and b for a, b in zip(correct[0], correct[1], strict=True))
        assert row["circular_accuracy"] == pytest.approx(100 * both / QUESTIONS)


def test_structure_variants_are_scored_against_the_original_options(run, shared_root):
    from opencompass.utils.text_postprocessors import first_option_postprocess

    work, _, run_dir, report = run
    golds = [json.loads(line)["answer"] for line in (work / "data" / "opencompass" / "data" / "movie_reviews" /
                                                      "test.jsonl").open()]
    labels = _raw_labels(shared_root)
    scored = {json.loads(line)["review"] for line in (work / "data" / "opencompass" / "data" / "movie_reviews" /
                                                      "test.jsonl").open()}
    symbols_variant, kshot_variant = (json.loads(line) for line in (work / "struct.jsonl").open())
    assert symbols_variant["symbols"] in ("12", "ab") and "kshot" in kshot_variant["id"]
    shown = symbols_variant["symbols"]
    assert f"{shown[0]}) {{A}}" in symbols_variant["text"] and "A) {A}" not in symbols_variant["text"]
    per_prompt = {(r["model"], r["prompt_index"]): r for r in report["per_prompt"]
                  if r["prompt_set"].endswith("struct.jsonl")}
    for model in ("base", "paft"):
        items = json.loads((run_dir / "predictions" / model / "movie_reviews_struct_p00.json").read_text())
        details = json.loads((run_dir / "results" / model / "movie_reviews_struct_p00.json").read_text())
        # the symbol variant's answers are read over its symbols and named by the letter of the same slot
        back = {shown[0]: "A", shown[1]: "B", "": ""}
        answers = [back[first_option_postprocess(items[str(q)]["prediction"], shown)] for q in range(QUESTIONS)]
        assert [details["details"][str(q)]["predictions"] for q in range(QUESTIONS)] == answers
        hits = sum(a == g for a, g in zip(answers, golds, strict=True))
        assert per_prompt[(model, 0)]["accuracy"] == pytest.approx(100 * hits / QUESTIONS)
        shots = json.loads((run_dir / "predictions" / model / "movie_reviews_struct_p01.json").read_text())
        (turn,) = shots["0"]["origin_prompt"]
        blocks = turn["prompt"].split("\n\n")
        assert len(blocks) == 3  # two solved training reviews, then the question
        for block in blocks[:2]:
            review = block.split("\n")[0].removeprefix("Sentence: ")
            # a review of the raw file that is no scored question, solved with its own raw label
            assert review not in scored and block.rsplit("\n", 1)[1] == "AB"[labels[review]]
