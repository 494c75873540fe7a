"""The Table 1 runner for real on a tiny Llama: PIQA, 3 test prompts × 4 questions, TopAccuracy over a 10-prompt
train pool, three LoRA trainings through ``llamafactory-cli``, four OpenCompass runs, then resume and the report."""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
from pathlib import Path

import pytest
from lf_helpers import serve_fake_api, write_pool

import yaml
from paft_ext.experiments.presets import PRESETS
from paft_ext.experiments.reproduce import RunMismatch, Runner
from paft_ext.experiments.table1 import read_per_prompt, write_table1
from paft_ext.pools.store import load_pool
from paft_ext.tasks import get_task

pytestmark = pytest.mark.slow  # starts llamafactory-cli, OpenCompass or a model server

TEST_PROMPTS = ["Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Which works? {goal} (A) {sol1} (B) {sol2} Letter:",
                "PHYSICAL\n{goal}\n[A] {sol1}\n[B] {sol2}"]
# A high constant learning rate makes the random tiny model learn to answer with a letter in 6 steps, so the
# trained methods get non-zero, prompt-dependent accuracies.
OVERRIDES = {"learning_rate": 0.05, "lr_scheduler_type": "constant", "warmup_ratio": 0.0}
STAGES = ["prepare", "chat_tokenizer", "select_piqa", "select_zopo_piqa", "select_batprompt_piqa",
          *(f"train_piqa_{m}" for m in ("fixed", "topacc", "zopo", "batprompt", "paft")),
          *(f"eval_piqa_{m}" for m in ("base", "fixed", "topacc", "zopo", "batprompt", "paft"))]
BAT_PROPOSAL = "Goal to reach: {goal}\nOption A: {sol1}\nOption B: {sol2}\nReply with A or B only."


def _llm(request: dict) -> str:
    """The scripted BATprompt LLM: a rewrite adds an aside; every optimisation round proposes one template."""
    message = request["messages"][-1]["content"]
    return message.split("\n\n")[1] + " (by the way)" if "Rewrite the following" in message else BAT_PROPOSAL


@pytest.fixture(scope="module", autouse=True)
def _opencompass_in_process():
    """This module tests the experiment's logic, not OpenCompass's task processes (test_eval_e2e does): run
    OpenCompass's tasks in its own process, which saves ~20 s of imports per evaluation."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAFT_EVAL_IN_PROCESS", "1")
        yield


@pytest.fixture(scope="module")
def table_run(tiny_model, tmp_path_factory, shared_root):
    root = tmp_path_factory.mktemp("table1")
    (root / "pools" / "piqa").mkdir(parents=True)
    write_pool(root / "pools" / "piqa" / "train.jsonl")
    write_pool(root / "pools" / "piqa" / "test.jsonl", TEST_PROMPTS)
    preset = dataclasses.replace(PRESETS["small"], name="tiny", tasks=("piqa",), model=str(tiny_model),
                                 train_samples=12, eval_questions=4, epochs=2, window_steps=1, screen=2, confirm=2,
                                 finalists=3, max_out_len=3, eval_batch_size=4, prompts=3)
    logs: list[str] = []
    with serve_fake_api() as api, pytest.MonkeyPatch.context() as patch:
        api.answer = _llm
        patch.setenv("PAFT_STUB_KEY", "k")
        config = root / "bat.yaml"
        config.write_text(yaml.safe_dump({"concurrency": 1, "generators": [
            {"name": "stub", "base_url": api.url, "model": "stub-model", "api_key_env": "PAFT_STUB_KEY"}]}))
        runner = Runner(preset, root / "work", pool_root=root / "pools", log=logs.append, train_overrides=OVERRIDES,
                        batprompt_config=config)
        runner.run(["test"])
    return preset, runner, root, logs


def test_every_stage_ran_once_and_methods_share_rows_and_steps(table_run):
    preset, runner, root, logs = table_run
    assert [line.split()[1].rstrip(":") for line in logs if line.endswith("running")] == STAGES
    steps = {m: runner.finished(f"train_piqa_{m}")["global_step"] for m in ("fixed", "topacc", "zopo", "batprompt",
                                                                             "paft")}
    assert set(steps.values()) == {6}  # 12 rows / batch 4 × 2 epochs, every method
    schedules = {m: json.loads((runner.adapter(get_task("piqa"), m) / "paft_schedule.json").read_text())
                 for m in ("fixed", "topacc", "paft")}
    orders = {m: s["order"] for m, s in schedules.items()}
    assert orders["fixed"] == orders["topacc"] == orders["paft"]
    used = {m: {w["prompt_id"] for w in s["windows"]} for m, s in schedules.items()}
    assert len(used["paft"]) > 1 and used["fixed"] == {"user-specified"}


def test_topaccuracy_trains_on_the_best_scored_prompt(table_run):
    preset, runner, root, _ = table_run
    chosen = runner.finished("select_piqa")
    scores = (root / "work" / "select" / "piqa_scores.csv").read_text().splitlines()[1:]
    rows = [dict(zip(("index", "id", "records", "correct", "no_answer", "accuracy", "rounds", "chosen"),
                     line.split(","), strict=True)) for line in scores]
    assert len(rows) == 10 and sum(int(r["records"]) for r in rows) == 10 * 2 + 3 * 2
    best = max(float(r["accuracy"]) for r in rows if int(r["records"]) == 4)
    assert chosen["accuracy"] == pytest.approx(best)
    trained = load_pool(root / "work" / "pools" / "piqa" / "topacc.jsonl", get_task("piqa").fields)
    assert [p.id for p in trained] == [chosen["prompt_id"]]
    assert trained[0].text == load_pool(root / "pools" / "piqa" / "train.jsonl", ("goal", "sol1", "sol2"))[
        int(next(r["index"] for r in rows if r["id"] == chosen["prompt_id"]))].text
    fixed = load_pool(root / "work" / "pools" / "piqa" / "fixed.jsonl", get_task("piqa").fields)
    assert fixed[0].text == get_task("piqa").baseline_prompt


def test_zopo_spends_a_quarter_of_topaccuracys_generations_and_trains_its_choice(table_run):
    preset, runner, root, _ = table_run
    chosen = runner.finished("select_zopo_piqa")
    top_accuracy = 10 * 2 + 3 * 2  # every prompt on screen = 2 records, 3 finalists on confirm = 2 more
    assert chosen["budget"] == top_accuracy // 4 == 6
    assert chosen["generations"] <= chosen["budget"] and chosen["generations"] % 4 == 0  # queries of 2 + 2 records
    trained = load_pool(root / "work" / "pools" / "piqa" / "zopo.jsonl", get_task("piqa").fields)
    assert [p.id for p in trained] == [chosen["prompt_id"]] and trained[0].source.startswith("ZOPO of ")
    scores = (root / "work" / "select" / "piqa_zopo_scores.csv").read_text().splitlines()[1:]
    assert len(scores) == chosen["scored_prompts"] and scores[0].split(",")[1] == chosen["prompt_id"]


def test_batprompt_trains_the_prompt_its_llm_proposed_and_the_base_model_scored(table_run):
    preset, runner, root, _ = table_run
    chosen = runner.finished("select_batprompt_piqa")
    proposals = json.loads((root / "work" / "select" / "piqa_batprompt.json").read_text())
    scored = [p for p in proposals if p["accuracy"] is not None]
    assert [p["text"] for p in scored] == [get_task("piqa").baseline_prompt, BAT_PROPOSAL]  # round 2 repeats it
    best = max(scored, key=lambda p: (p["accuracy"], -p["no_answer"], -p["round"]))
    assert (chosen["text"], chosen["accuracy"]) == (best["text"], best["accuracy"])
    assert chosen["attacked"] == 16 and chosen["llm_requests"] == 16 + 2 and chosen["generations"] == 2 * 16
    trained = load_pool(root / "work" / "pools" / "piqa" / "batprompt.jsonl", get_task("piqa").fields)
    assert [p.text for p in trained] == [chosen["text"]] and "16/16 inputs rewritten adversarially" in \
        trained[0].source
    schedule = json.loads((runner.adapter(get_task("piqa"), "batprompt") / "paft_schedule.json").read_text())
    assert list(schedule["prompts"].values()) == [chosen["text"]]


def test_resume_skips_finished_stages_and_reruns_a_missing_one(table_run):
    preset, runner, root, _ = table_run
    marker = runner.stage_file("eval_piqa_paft")
    before = {s: runner.stage_file(s).stat().st_mtime_ns for s in STAGES}
    marker.unlink()
    logs: list[str] = []
    Runner(preset, root / "work", pool_root=root / "pools", log=logs.append, train_overrides=OVERRIDES,
           batprompt_config=root / "bat.yaml").run(["test"])  # its finished selection asks the LLM nothing
    assert [line.split()[1].rstrip(":") for line in logs if line.endswith("running")] == ["eval_piqa_paft"]
    assert sum("skipped" in line for line in logs) == len(STAGES) - 1
    after = {s: runner.stage_file(s).stat().st_mtime_ns for s in STAGES}
    assert {s for s in STAGES if before[s] != after[s]} == {"eval_piqa_paft"}
    other = dataclasses.replace(preset, epochs=3)
    with pytest.raises(RunMismatch, match="epochs"):
        Runner(other, root / "work", pool_root=root / "pools", train_overrides=OVERRIDES).run(["test"])
    with pytest.raises(RunMismatch, match="training"):
        Runner(preset, root / "work", pool_root=root / "pools").run(["test"])


def test_table_matches_the_per_prompt_csv(table_run):
    preset, runner, root, _ = table_run
    out = root / "results"
    write_table1(root / "work", out, preset, pool_root=root / "pools", tokenizer_path=str(runner.work /
                                                                                          "chat_tokenizer"))
    results = read_per_prompt(out / "per_prompt.csv")
    assert len(results) == 6 * 3 and all(r.questions == 4 for r in results)
    assert all(r.opencompass_accuracy == pytest.approx(r.accuracy) for r in results)
    trained = [r.accuracy for r in results if r.model != "base"]
    assert 0 < max(trained) and len(set(trained)) > 1  # a degenerate all-zero table would prove nothing
    table = (out / "table1.md").read_text()
    titles = {"base": "Base model", "fixed": "User-specified", "topacc": "TopAccuracy", "zopo": "ZOPO",
              "batprompt": "BATprompt", "paft": "PAFT (K=1, T=2)"}
    for method, title in titles.items():
        accs = [r.accuracy for r in sorted(results, key=lambda r: r.prompt_index) if r.model == method]
        top = 100 * accs.count(100.0) / len(accs)  # 4 questions: only 4 of 4 lies above 85 % (3 of 4 is 75 %)
        cell = f"{statistics.fmean(accs):.2f} / {statistics.pstdev(accs):.2f} / {top:.0f}%"
        line = next(line for line in table.splitlines() if line.startswith(f"| {title} |"))
        assert line == f"| {title} | {cell} | {cell} |", line  # one task: the average is the task's cell
    timing = re.findall(r"\| (\w[\w -]*?) \| PIQA \| (\S+) \| (\S+) \|", table.split("## Timing")[1])
    assert {(t, s) for t, _, s in timing if t != "Base model"} == {(titles[m].split(" (")[0], "6")
                                                                  for m in ("fixed", "topacc", "zopo", "batprompt",
                                                                            "paft")}
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["piqa_distribution.png", "piqa_heatmap.png"]


def test_followups_use_the_runs_adapters_and_train_a_variant_on_the_same_rows(table_run):
    import importlib.util

    preset, runner, root, _ = table_run
    spec = importlib.util.spec_from_file_location("followups", Path(__file__).parents[1] / "scripts" /
                                                  "table1_followups.py")
    followups = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(followups)
    write_pool(root / "pools" / "piqa" / "valid.jsonl", ["Validation. {goal}\nA) {sol1}\nB) {sol2}\nLetter:",
                                                         "Pick A or B for: {goal} | A {sol1} | B {sol2}"])
    run = followups.Followups(preset, root / "work", ["test"], pool_root=root / "pools", train_overrides=OVERRIDES)
    own = run.own_prompts()
    chosen = runner.finished("select_piqa")["prompt_id"]
    assert sorted((r["run"], r["prompt_set"]) for r in own) == sorted(
        (m, f"own: {p}") for m in ("User-specified", "TopAccuracy") for p in ("user-specified", chosen))
    valid = run.valid([followups.parse_variant("k2:window_steps=2")])
    assert [(r["run"], r["prompts"], r["questions"]) for r in valid] == [
        ("User-specified", 2, 4), ("PAFT", 2, 4), ("PAFT k2", 2, 4)]
    for method in ("fixed", "paft"):  # the run's own adapters, not retrained
        evaluated = json.loads(next((root / "work_followups" / "valid" / "eval" / "piqa" / method).rglob(
            "paft_eval.json")).read_text())
        assert Path(evaluated["settings"]["adapters"][method]).resolve() == runner.adapter(get_task("piqa"), method)
    assert not list((root / "work_followups" / "valid" / "stages").glob("train_*"))
    main = json.loads((runner.adapter(get_task("piqa"), "paft") / "paft_schedule.json").read_text())
    variant = json.loads((root / "work_followups" / "k2" / "train" / "piqa" / "paft" / "paft_schedule.json")
                         .read_text())
    assert variant["order"] == main["order"] and variant["total_steps"] == main["total_steps"] == 6
    assert [w["first_step"] for w in variant["windows"]] == [0, 2, 4]


def test_a_second_seed_shares_data_selections_and_base_and_the_seed_report_averages(table_run, tmp_path):
    from paft_ext.experiments.table1_seeds import write_seeds_report

    preset, runner, root, _ = table_run
    logs: list[str] = []
    second = Runner(preset, root / "work_seed7", pool_root=root / "pools", log=logs.append,
                    train_overrides={**OVERRIDES, "seed": 7, "paft_seed": 7}, shared_from=root / "work",
                    batprompt_config=runner.batprompt_config)
    second.run(["test"])
    trained = ("fixed", "topacc", "zopo", "batprompt", "paft")
    ran = [line.split()[1].rstrip(":") for line in logs if line.endswith("running")]
    assert ran == [*(f"train_piqa_{m}" for m in trained), *(f"eval_piqa_{m}" for m in trained)]  # no base, no select
    assert not (root / "work_seed7" / "data").exists()  # the first seed's records and questions
    for method in ("topacc", "zopo", "batprompt"):  # the first seed's selections, trained again under seed 7
        first_pool, second_pool = (load_pool(w / "pools" / "piqa" / f"{method}.jsonl", get_task("piqa").fields)
                                   for w in (root / "work", root / "work_seed7"))
        assert [p.text for p in first_pool] == [p.text for p in second_pool]
    schedules = [json.loads((r.adapter(get_task("piqa"), "paft") / "paft_schedule.json").read_text())
                 for r in (runner, second)]
    assert schedules[0]["order"] != schedules[1]["order"]  # another data order: the seed is the unit
    assert sorted(schedules[0]["order"]) == sorted(schedules[1]["order"])  # ... of the same rows

    per_seed_rows, per_prompt = {}, {}
    for seed, work in ((0, root / "work"), (7, root / "work_seed7")):
        per_seed_rows[seed] = write_table1(work, tmp_path / f"seed{seed}", preset, pool_root=root / "pools",
                                           shared=root / "work")
        per_prompt[seed] = read_per_prompt(tmp_path / f"seed{seed}" / "per_prompt.csv")
    assert "base" not in {r.model for r in per_prompt[7]}
    write_seeds_report(per_seed_rows, per_prompt, ("piqa",), ["test"], tmp_path, ["# seeds"])
    text = (tmp_path / "table1_seeds.md").read_text()
    # the PAFT row's mean over seeds, recomputed from the two per-prompt CSVs
    means = [statistics.fmean(r.accuracy for r in per_prompt[s] if r.model == "paft") for s in (0, 7)]
    paft_line = next(line for line in text.splitlines() if line.startswith("| test | PAFT"))
    cells = [c.strip() for c in paft_line.split("|")]
    assert cells[3] == "2" and cells[4] == f"{means[0]:.2f} / {means[1]:.2f}"
    assert cells[5] == f"{statistics.fmean(means):.2f} ± {statistics.stdev(means):.2f}"
    base_line = next(line for line in text.splitlines() if line.startswith("| test | Base"))
    assert base_line.split("|")[3].strip() == "1"  # evaluated once
    assert "| piqa | test | mean |" in text  # the claims, on seed averages
