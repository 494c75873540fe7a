"""Table 1 report pieces on crafted per-prompt results: the CSV round trip keeps every value (the table is computed
from the file), and the question bootstrap pairs methods question by question."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from paft_ext.evaluation.prompt_results import PromptResult
from paft_ext.experiments.presets import PRESETS
from paft_ext.experiments.table1 import (
    bootstrap_markdown,
    bootstraps,
    read_per_prompt,
    table_markdown,
    table_rows,
    write_per_prompt,
)

PRESET = dataclasses.replace(PRESETS["small"], tasks=("piqa",), prompts=2)


def _result(model: str, index: int, items: str, tokens: float | None = 1.0) -> PromptResult:
    accuracy = 100 * items.count("1") / len(items)
    return PromptResult(model, "piqa", index, f"q{index}", accuracy, len(items), 0.0, tokens, None, accuracy, items)


def test_per_prompt_csv_round_trip(tmp_path):
    results = [_result("base", 0, "0101", None), _result("paft", 1, "0011")]
    write_per_prompt(results, tmp_path / "per_prompt.csv")
    assert read_per_prompt(tmp_path / "per_prompt.csv") == results


def _paft_minus_fixed(results: list[PromptResult]) -> str:
    text = bootstrap_markdown(bootstraps(results, PRESET, resamples=500))
    return next(line for line in text.splitlines() if "| User-specified |" in line).split("|")[5].strip()


def test_bootstrap_is_paired_over_questions():
    # PAFT is right exactly where the baseline is wrong: every resample moves them in opposite directions, and the
    # difference interval stays narrow only because the resample is shared.
    results = [_result("fixed", i, "1100") for i in range(2)] + [_result("paft", i, "0011") for i in range(2)]
    low, high = (float(x) for x in _paft_minus_fixed(results).split("[")[1].rstrip("]").split(", "))
    assert -100 <= low < 0 < high <= 100
    same = [_result("fixed", i, "1100") for i in range(2)] + [_result("paft", i, "1100") for i in range(2)]
    assert _paft_minus_fixed(same) == "0.00 [0.00, 0.00]"


def test_the_bootstrap_interval_is_the_paired_one():
    """PAFT is right on the fixed model's 10 questions and 2 more. Paired, a resample's difference is 100 x (how many
    of those 2 it drew) / 20, never negative: Binomial(20, 0.1) puts its 2.5 % quantile at 0 and its 97.5 % quantile
    at 4 or 5 questions (P(X <= 4) = 0.957, P(X <= 5) = 0.989), i.e. [0, 20–25]. Unpaired resamples of the two
    models would reach far below 0."""
    fixed, paft = "1" * 10 + "0" * 10, "1" * 12 + "0" * 8
    results = [_result("fixed", i, fixed) for i in range(2)] + [_result("paft", i, paft) for i in range(2)]
    estimate, interval = _paft_minus_fixed(results).split(" [")
    low, high = (float(x) for x in interval.rstrip("]").split(", "))
    assert float(estimate) == 10.0 and low == 0.0 and 20.0 <= high <= 25.0


def test_table_cells_and_partial_marking():
    results = [_result("paft", 0, "1111"), _result("paft", 1, "1110"), _result("base", 0, "0000")]
    # PRESET.prompts says how many prompts to expect, so the pool folder is not read
    table = table_markdown(table_rows(results, PRESET, Path("/nonexistent")), PRESET)
    assert "| PAFT (K=4, T=3) | 87.50 / 12.50 / 50% | 87.50 / 12.50 / 50% |" in table
    assert "| Base model | 0.00 / 0.00 / 0% (partial) | 0.00 / 0.00 / 0% (partial) |" in table



def test_a_preset_eval_dtype_reaches_the_evaluation_settings(tmp_path):
    from paft_ext.evaluation.launch import opencompass_env
    from paft_ext.evaluation.settings import load_settings
    from paft_ext.experiments.reproduce import Runner
    from paft_ext.tasks import get_task

    def resolved(preset):
        settings = Runner(preset, tmp_path / "work").eval_settings(get_task("piqa"), "paft")
        return load_settings(opencompass_env(settings, tmp_path, 1, {}))

    assert resolved(PRESET).dtype is None  # the evaluation's own default (float32 on CPU)
    assert resolved(dataclasses.replace(PRESET, eval_dtype="bfloat16")).dtype == "bfloat16"
    with pytest.raises(ValueError, match="eval_dtype must be float32 or bfloat16, got 'fp16'"):
        dataclasses.replace(PRESET, eval_dtype="fp16")


def test_the_report_after_the_first_stage_needs_no_tokenizer_yet(tmp_path):
    """A seed run rebuilds its report after every stage, also after ``prepare``, before the chat tokenizer exists:
    with no finished evaluation there is nothing to report and the missing tokenizer folder must not be loaded."""
    from paft_ext.experiments.table1 import write_table1

    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "prepare.json").write_text('{"seconds": 0}')
    assert write_table1(tmp_path, tmp_path / "out", PRESET, tokenizer_path=str(tmp_path / "chat_tokenizer")) == []


def test_publish_keeps_every_selection_record_beside_the_report(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "reproduce_table1", Path(__file__).resolve().parents[1] / "scripts" / "reproduce_table1.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    calls = []
    monkeypatch.setattr(script, "write_table1", lambda *args, **kwargs: calls.append(args) or [])
    work, shared, out = tmp_path / "seed1", tmp_path / "seed0", tmp_path / "results"
    work.mkdir()
    (work / "run.json").write_text("{}")
    (shared / "select").mkdir(parents=True)
    files = {"piqa_scores.csv": "prompt,accuracy\n", "piqa_zopo_scores.csv": "z\n",
             "piqa_batprompt.json": '[{"round": 1, "problems": ["missing placeholder(s) {A}"]}]'}
    for name, text in {**files, "piqa_batprompt.partial": "x", "notes.txt": "y"}.items():
        (shared / "select" / name).write_text(text)
    script.publish(work, out, PRESET, shared)
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, "run.json"])
    assert all((out / name).read_text() == text for name, text in files.items())
    assert calls == [(work, out, PRESET)]
