"""One real OpenCompass run on CPU through `paft-ext eval`'s launcher: 3 benchmarks (two stock OpenCompass configs and
SST-2 through the JSON-lines reader) × 4 prompt sets (test, test_indep,
test_llm, seen_probe) × 2 models (a tiny base model and a LoRA adapter trained here with LLaMA-Factory), then the
report, checked against the prediction files: per-set numbers, prompt ids from the files evaluated, the
seen-vs-unseen gap, and refusal of a pool file that no longer matches the rendered prompts."""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
from pathlib import Path

import pytest
from lf_helpers import run_cli, train_config

from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.core.trace import identify_prompts
from paft_ext.evaluation.launch import run_opencompass
from paft_ext.evaluation.report import write_report
from paft_ext.pools.store import load_pool
from paft_ext.tasks import get_task

pytestmark = pytest.mark.slow  # starts llamafactory-cli, OpenCompass or a model server

SETS = {"test": "", "test_indep": "indep", "test_llm": "llm", "seen_probe": "seen"}  # set -> abbreviation infix
TRAIN = {"piqa": ["Seen one: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "Seen two. {goal} A) {sol1} B) {sol2} ->"],
         "winogrande": ["Seen: {prompt}\nA. {only_option1}\nB. {only_option2}\nAnswer:"],
         "sst2": ["Seen review: {sentence}\nA. {A}\nB. {B}\nAnswer:"]}
POOLS = {
    "piqa": {"test": ["Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:",
                      "Which works? {goal} (A) {sol1} (B) {sol2} Letter:", "PHYSICAL\n{goal}\n[A] {sol1}\n[B] {sol2}"],
             "test_indep": ["Hand-written: {goal}\nA) {sol1}\nB) {sol2}", "Pick A or B for {goal}: {sol1} / {sol2}"],
             "test_llm": ["LLM says: {goal}, A: {sol1}, B: {sol2}. Letter?"], "seen_probe": TRAIN["piqa"]},
    "winogrande": {"test": ["Fill the blank: {prompt}\nA. {only_option1}\nB. {only_option2}\nAnswer:",
                            "Sentence -> {prompt} | A) {only_option1} | B) {only_option2}"],
                   "test_indep": ["Who is _? {prompt}\nOption A: {only_option1}\nOption B: {only_option2}"],
                   "test_llm": ["Gap: {prompt} A={only_option1} B={only_option2}"],
                   "seen_probe": TRAIN["winogrande"]},
    "sst2": {"test": ["Tone of '{sentence}'? A: {A} / B: {B}", "{sentence}\n(A) {A} (B) {B}\nLetter:"],
             "test_indep": ["Film quote: {sentence} -- A means {A}, B means {B}."],
             "test_llm": ["Label it, A={A} or B={B}: {sentence}"], "seen_probe": TRAIN["sst2"]},
}


def _write(path: Path, prefix: str, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": f"{prefix}-{i}", "text": t, "source": "handwritten"}) + "\n"
                            for i, t in enumerate(texts)))


@pytest.fixture(scope="module")
def evaluated(tiny_model, piqa_lf_data, tiny_pool, tmp_path_factory, shared_root):
    work = tmp_path_factory.mktemp("oc")
    result = run_cli(train_config(tiny_model, piqa_lf_data, work / "lora", paft_pool=str(tiny_pool),
                                  paft_window_steps=1, learning_rate=0.05, max_steps=8), work)
    assert result.returncode == 0, result.stderr[-3000:]
    prepare([get_task(task) for task in POOLS], work / "data",
            PrepareConfig(train_samples=4, eval_samples=6, seed=2))
    for pool, sets in POOLS.items():
        (work / "pools" / pool).mkdir(parents=True)
        _write(work / "pools" / pool / "train.jsonl", f"{pool}-train", TRAIN[pool])
        for name, texts in sets.items():
            _write(work / "pools" / pool / f"{name}.jsonl", f"{pool}-train" if name == "seen_probe" else
                   f"{pool}-{name}", texts)
    settings = {"tasks": ",".join(POOLS), "model": str(tiny_model), "adapters": f"lora={work / 'lora'}",
                "pool_root": str(work / "pools"), "prompt_sets": ",".join(SETS), "max_out_len": 4,
                "batch_size": 6, "include_base": "1"}
    with (work / "opencompass.log").open("w") as log:
        run = run_opencompass(settings, work / "data" / "opencompass", work / "out", log=log, cwd=work)
    report = write_report(run, work / "report", tokenizer_path=str(tiny_model))  # pool root from paft_eval.json
    return run, report, work


def _abbr(task: str, name: str, k: int) -> str:
    return f"{task}{'_' + SETS[name] if SETS[name] else ''}_p{k:02d}"


def _predictions(run: Path, model: str, abbr: str) -> list[dict]:
    return list(json.loads((run / "predictions" / model / f"{abbr}.json").read_text()).values())


def test_each_expanded_dataset_used_its_own_prompt(evaluated):
    run, _, work = evaluated
    for model in ("base", "lora"):
        for task, sets in POOLS.items():
            for name in sets:
                prompts = load_pool(work / "pools" / task / f"{name}.jsonl", get_task(task).fields)
                for k, prompt in enumerate(prompts):
                    items = _predictions(run, model, _abbr(task, name, k))
                    assert len(items) == 6
                    for item in items:
                        (turn,) = item["origin_prompt"]  # one HUMAN turn, sent byte-exact (no appended newline)
                        assert turn["role"] == "HUMAN" and identify_prompts(turn["prompt"], prompts) == [prompt.id]
                        assert turn["prompt"].endswith(prompt.text.rsplit("}", 1)[-1])


def test_the_run_records_the_files_it_evaluated(evaluated):
    run, _, work = evaluated
    record = json.loads((run / "paft_eval.json").read_text())
    assert record["prompt_sets"] == list(SETS) and Path(record["pool_root"]) == (work / "pools").resolve()
    for task, sets in POOLS.items():
        for name in sets:
            path = work / "pools" / task / f"{name}.jsonl"
            assert record["files"][task][name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_adapter_was_applied(evaluated):
    run, _, _ = evaluated
    base = [i["prediction"] for k in range(3) for i in _predictions(run, "base", f"piqa_p{k:02d}")]
    lora = [i["prediction"] for k in range(3) for i in _predictions(run, "lora", f"piqa_p{k:02d}")]
    assert base != lora


def _letter_token(prediction: str) -> str:
    """The strict reading, written apart from the code's regex: the output, bracket aside, starts with A or B and the
    letter ends there or at a closing bracket, period, colon or space."""
    text = prediction.lstrip()
    text = text[1:] if text[:1] in "([" else text
    if text[:1] in ("A", "B") and (len(text) == 1 or text[1] in ")].: \n\t"):
        return text[0]
    return ""


def test_report_equals_numbers_computed_from_the_predictions(evaluated):
    from opencompass.utils.text_postprocessors import first_option_postprocess

    run, report, work = evaluated
    rows = {(r["model"], r["task"], r["prompt_set"]): r for r in report["rows"]}
    ids = {(r["model"], r["task"], r["prompt_set"], r["prompt_index"]): r["prompt_id"] for r in report["per_prompt"]}
    means, answers = {}, {}
    for model in ("base", "lora"):
        for task, sets in POOLS.items():
            for name, texts in sets.items():
                accs, empty, empty_strict, differ = [], [], [], []
                for k in range(len(texts)):
                    items = _predictions(run, model, _abbr(task, name, k))
                    extracted = [first_option_postprocess(i["prediction"], "AB") for i in items]
                    answers.setdefault((model, task, name), []).append(extracted)
                    accs.append(100 * sum(e == i["gold"] for e, i in zip(extracted, items, strict=True)) / len(items))
                    empty.append(100 * sum(e == "" for e in extracted) / len(items))
                    strict = [_letter_token(i["prediction"]) for i in items]
                    empty_strict.append(100 * sum(e == "" for e in strict) / len(items))
                    differ.append(100 * sum(a != b for a, b in zip(extracted, strict, strict=True)) / len(items))
                    oc = json.loads((run / "results" / model / f"{_abbr(task, name, k)}.json").read_text())
                    assert oc["accuracy"] == pytest.approx(accs[-1])
                    # the report read OpenCompass's own per-item answers (dumped details), equal to re-scoring
                    assert [oc["details"][str(j)]["predictions"] for j in range(len(items))] == extracted
                    # labelled with the id of the file evaluated (seen_probe keeps the train ids)
                    prefix = f"{task}-train" if name == "seen_probe" else f"{task}-{name}"
                    assert ids[(model, task, name, k)] == f"{prefix}-{k}"
                row = rows[(model, task, name)]
                assert row["prompts"] == len(texts) and row["questions"] == 6 and not row["partial"]
                assert row["mean"] == pytest.approx(statistics.fmean(accs))
                assert row["std_pop"] == pytest.approx(statistics.pstdev(accs))
                assert row["min"] == pytest.approx(min(accs)) and row["max"] == pytest.approx(max(accs))
                # 6 questions: above 80 % takes 5 of 6 (83.3 %), above 85 % or 90 % takes 6 of 6
                needed = {0.80: 5, 0.85: 6, 0.90: 6}[get_task(task).top_threshold]
                correct = [round(a * 6 / 100) for a in accs]
                assert row["top_pct"] == pytest.approx(100 * sum(c >= needed for c in correct) / len(accs))
                assert row["no_answer_pct"] == pytest.approx(statistics.fmean(empty))
                assert row["no_answer_strict_pct"] == pytest.approx(statistics.fmean(empty_strict))
                assert row["extractors_disagree_pct"] == pytest.approx(statistics.fmean(differ))
                assert 0 < row["output_tokens"] <= 4 and row["seconds"] > 0
                means[(model, task, name)] = statistics.fmean(accs)
    gaps = {(g["model"], g["task"], g["unseen_set"]): g["gap"] for g in report["gaps"]}
    assert set(gaps) == {(m, t, s) for m in ("base", "lora") for t in POOLS for s in ("test", "test_indep",
                                                                                         "test_llm")}
    for (model, task, name), gap in gaps.items():
        assert gap == pytest.approx(means[(model, task, "seen_probe")] - means[(model, task, name)])
    # consistency: the share of prompts giving each question's most common answer, averaged over questions
    consistency = {(r["model"], r["task"], r["prompt_set"]): r for r in report["consistency"]}
    expected = {key: rows for key, rows in answers.items() if len(rows) >= 2}
    assert set(consistency) == set(expected)
    for key, per_prompt in expected.items():
        columns = list(zip(*per_prompt, strict=True))
        rate = statistics.fmean(max(col.count(v) for v in col) / len(col) for col in columns)
        assert consistency[key]["consistency_rate"] == pytest.approx(100 * rate)
    text = (work / "report" / "report.md").read_text()
    tables, section = text.split("Consistency across prompts")
    # per set: one row per task and an AVERAGE row; one answer-balance row per task and set (all choice tasks); then
    # one gap row per task and unseen set
    assert tables.count("| lora |") == (len(POOLS) + 1) * 4 + len(POOLS) * 4 + len(POOLS) * 3
    assert "Seen-vs-unseen gap" in tables and "Answer balance" in tables
    assert sum(line.startswith("| lora |") for line in section.splitlines()) == len([k for k in expected
                                                                                   if k[0] == "lora"])
    plots = sorted(p.name for p in (work / "report" / "plots").glob("*.png"))
    assert len(plots) == len(POOLS) * 2 * 4
    assert "piqa_distribution.png" in plots and "piqa_test_indep_heatmap.png" in plots
    assert all((work / "report" / "plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


def test_report_refuses_pool_files_that_do_not_match_the_run(evaluated, tmp_path):
    run, _, work = evaluated
    pools = tmp_path / "pools"
    shutil.copytree(work / "pools", pools)
    path = pools / "piqa" / "test_indep.jsonl"
    path.write_text("".join(reversed(path.read_text().splitlines(keepends=True))))  # the prompts in another order
    with pytest.raises(ValueError, match=r"piqa_indep_p00\.json: item 0 was not rendered from prompt"):
        write_report(run, tmp_path / "report", pool_root=pools, plots=False)
