"""The report's per-question answers and verdicts come from OpenCompass's dumped details when a run has them (its
evaluator's word wins over a string comparison), and from re-scoring when it has none."""

from __future__ import annotations

import json

import pytest

from paft_ext.evaluation.eval_details import scored_items
from paft_ext.evaluation.prompt_sets import PromptSetError
from paft_ext.evaluation.report import collect
from paft_ext.evaluation.settings import EvalSettings


def test_answers_and_verdicts_are_read_in_item_order(tmp_path):
    result = {"accuracy": 50.0, "details": {"type": "GEN", "1": {"predictions": "", "references": "A"},
                                             "0": {"predictions": "B", "references": "B"},
                                             "2": {"predictions": "12", "references": "12.0", "correct": True}}}
    assert scored_items(result, 3, tmp_path / "r.json") == (["B", "", "12"], [True, False, True])
    assert scored_items({"accuracy": 50.0}, 3, tmp_path / "r.json") is None
    with pytest.raises(PromptSetError, match=r"r\.json: 3 scored items in OpenCompass's details, 4 predictions"):
        scored_items(result, 4, tmp_path / "r.json")


def _run(tmp_path, details: dict | None) -> list:
    """A one-prompt SST-2 run folder: two predictions, OpenCompass's result with or without details."""
    run = tmp_path / "run"
    (run / "predictions" / "base").mkdir(parents=True)
    (run / "results" / "base").mkdir(parents=True)
    pool = tmp_path / "pools" / "sst2"
    pool.mkdir(parents=True)
    template = "R: {sentence}\nA. {A}\nB. {B}"
    (pool / "test.jsonl").write_text(json.dumps({"id": "s-0", "text": template, "source": "handwritten"}) + "\n")
    items = {str(k): {"origin_prompt": [{"role": "HUMAN", "prompt": f"R: r{k}\nA. negative\nB. positive"}],
                      "prediction": pred, "gold": gold} for k, (pred, gold) in enumerate((("B", "B"), ("Both", "A")))}
    (run / "predictions" / "base" / "sst2_p00.json").write_text(json.dumps(items))
    (run / "results" / "base" / "sst2_p00.json").write_text(json.dumps({"accuracy": 50.0, **(
        {"details": details} if details is not None else {})}))
    (run / "paft_eval.json").write_text(json.dumps({"pool_root": str(tmp_path / "pools"), "prompt_sets": ["test"],
                                                    "settings": vars(EvalSettings(tasks=("sst2",)))}, default=str))
    return collect(run)


def test_the_report_takes_opencompass_verdicts_and_re_scores_without_details(tmp_path):
    # OpenCompass's evaluator calls item 1 correct (say a custom evaluator): the report follows it
    (with_details,) = _run(tmp_path, {"type": "GEN", "0": {"predictions": "B", "references": "B"},
                                      "1": {"predictions": "B", "references": "A", "correct": True}})
    assert (with_details.item_correct, with_details.item_answers, with_details.accuracy) == ("11", "B|B", 100.0)
    # no details: re-scored with first_option_postprocess ("Both" -> B, gold A)
    (re_scored,) = _run(tmp_path / "plain", None)
    assert (re_scored.item_correct, re_scored.item_answers, re_scored.accuracy) == ("10", "B|B", 50.0)


def test_a_run_read_in_a_removed_checkout_is_collected_from_the_same_file_here(tmp_path, monkeypatch):
    """A reading made in a worktree records its prompt file by that worktree's absolute path; once the worktree is
    gone the file is found under this checkout by its path's tail — and still checked against every prediction, so a
    file that differs there is refused."""
    from paft_ext import paths

    here, gone = tmp_path / "checkout", tmp_path / "removed_worktree"
    monkeypatch.setattr(paths, "REPO_ROOT", here)
    variants = here / "outputs" / "structure" / "variants"
    variants.mkdir(parents=True)
    template = "R: {sentence}\nA. {A}\nB. {B}"
    (variants / "unseen_x.jsonl").write_text(json.dumps({"id": "s-0", "text": template, "source": "h"}) + "\n")
    run = here / "outputs" / "run"
    (run / "predictions" / "base").mkdir(parents=True)
    items = {str(k): {"origin_prompt": [{"role": "HUMAN", "prompt": f"R: r{k}\nA. negative\nB. positive"}],
                      "prediction": pred, "gold": "B"} for k, pred in enumerate(("B", "A"))}
    (run / "predictions" / "base" / "sst2_unseenx_p00.json").write_text(json.dumps(items))
    recorded = str(gone / "outputs" / "structure" / "variants" / "unseen_x.jsonl")
    (run / "paft_eval.json").write_text(json.dumps({"pool_root": str(tmp_path), "prompt_sets": [recorded],
                                                    "settings": vars(EvalSettings(tasks=("sst2",)))}, default=str))
    (result,) = collect(run)
    assert (result.prompt_id, result.item_correct, result.accuracy) == ("s-0", "10", 50.0)
    (variants / "unseen_x.jsonl").write_text(json.dumps({"id": "s-0", "text": "Other: {sentence}\nA. {A}\nB. {B}",
                                                         "source": "h"}) + "\n")
    with pytest.raises(PromptSetError):
        collect(run)


def test_a_removed_checkouts_pool_root_and_pool_placeholder_paths_are_found_here(tmp_path, monkeypatch):
    """The ablation grid records its validation set as ``<checkout>/data/prompts/{pool}/valid.jsonl`` and the pool
    root of its checkout: once that worktree is gone, both a placeholder path and a shipped set name resolve to the
    same files under this checkout (the placeholder filled in first); a file missing here still fails, naming it."""
    from paft_ext import paths
    from paft_ext.pools.store import PoolError

    here, gone = tmp_path / "checkout", tmp_path / "removed_worktree"
    monkeypatch.setattr(paths, "REPO_ROOT", here)
    pool = here / "data" / "prompts" / "sst2"
    pool.mkdir(parents=True)
    for name, text in (("valid", "V: {sentence}\nA. {A}\nB. {B}"), ("test_indep", "T: {sentence}\nA. {A}\nB. {B}")):
        (pool / f"{name}.jsonl").write_text(json.dumps({"id": f"{name}-0", "text": text, "source": "h"}) + "\n")
    run = here / "outputs" / "run"
    (run / "predictions" / "base").mkdir(parents=True)
    for abbr, head, preds in (("sst2_valid_p00", "V", ("B", "B")), ("sst2_indep_p00", "T", ("A", "A"))):
        items = {str(k): {"origin_prompt": [{"role": "HUMAN", "prompt": f"{head}: r{k}\nA. negative\nB. positive"}],
                          "prediction": pred, "gold": "B"} for k, pred in enumerate(preds)}
        (run / "predictions" / "base" / f"{abbr}.json").write_text(json.dumps(items))
    recorded_root = gone / "data" / "prompts"
    (run / "paft_eval.json").write_text(json.dumps({
        "pool_root": str(recorded_root), "prompt_sets": [str(recorded_root / "{pool}" / "valid.jsonl"), "test_indep"],
        "settings": vars(EvalSettings(tasks=("sst2",)))}, default=str))
    found = {r.prompt_id: r.accuracy for r in collect(run)}
    assert found == {"valid-0": 100.0, "test_indep-0": 0.0}
    (pool / "valid.jsonl").unlink()
    with pytest.raises(PoolError, match="removed_worktree/data/prompts/sst2/valid.jsonl"):
        collect(run)
