"""Pool validation, de-duplication, leakage-safe splitting and building on crafted inputs."""

from __future__ import annotations

import json

import pytest

from paft_ext.pools.build import BuildConfig, Candidate, PoolBuildError, build_pool
from paft_ext.pools.dedup import deduplicate, group_split, leakage, similarity
from paft_ext.pools.generate import parse_templates
from paft_ext.pools.store import load_pool
from paft_ext.pools.validate import normalise, validate
from paft_ext.tasks import get_task

PIQA, HS, GSM = get_task("piqa"), get_task("hellaswag"), get_task("gsm8k")


def test_normalise_unescapes_literal_newlines_and_collapses_blanks():
    raw = "  Goal:\\n{goal}  \\n\\n\\n\\nA.\t {sol1}   \r\nB. {sol2}  "
    assert normalise(raw) == "Goal:\n{goal}\n\nA. {sol1}\nB. {sol2}"


@pytest.mark.parametrize(("task", "text", "reason"), [
    (PIQA, "Goal: {goal}\nA. {sol1}\nAnswer with A or B.", "missing placeholder(s) {sol2}"),
    (PIQA, "Goal: {goal} {topic}\nA. {sol1}\nB. {sol2}\nAnswer:", "unknown placeholder(s) {topic}"),
    (PIQA, "Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer in {{braces}}:", "stray brace outside a placeholder"),
    (PIQA, "{goal}{sol1}{sol2}?", "too short: 1 characters besides placeholders (min 12)"),
    (PIQA, "Goal: {goal}\nA. {sol1}\nB. {sol2}\n" + "Think hard. " * 120, "too long"),
    (PIQA, "Goal: {goal}\nOption 1: {sol1}\nOption 2: {sol2}\nAnswer 1 or 2.", "refers to options by number"),
    (PIQA, "Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer with A, B, C or D.", "mentions option letter(s) C, D"),
    (GSM, "{question}\nWrite the final answer in words.", "asks for a non-numeric final answer"),
])
def test_each_rejection_reason(task, text, reason):
    verdict = validate(text, task)
    assert not verdict.ok and any(r.startswith(reason) for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(("task", "text"), [
    (PIQA, "Which works? {goal}\n(A) {sol1}\n(B) {sol2}\nI choose"),
    (HS, "{ctx}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nYou may choose from 'A', 'B', 'C', 'D'.\nAnswer:"),
    (GSM, "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."),
])
def test_good_templates_pass(task, text):
    assert validate(text, task).ok


def test_exact_and_near_duplicates():
    texts = ["Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:",
             "GOAL:  {goal}\nA. {sol1}\nB. {sol2}\nAnswer:",           # exact after case/space folding
             "Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer :",           # near (one character)
             "Pick the better way to do it.\n{goal}\n(A) {sol1} (B) {sol2}"]
    kept, dropped = deduplicate(texts, threshold=0.85)
    assert kept == [0, 3] and dropped == {1: ("exact", 0), 2: ("near", 0)}
    assert similarity(texts)[0, 2] >= 0.85 > similarity(texts)[0, 3]
    kept_strict, _ = deduplicate(texts, threshold=1.01)
    assert kept_strict == [0, 2, 3]


def test_group_split_keeps_similar_prompts_on_one_side():
    family = [f"Goal: {{goal}}\nA. {{sol1}}\nB. {{sol2}}\nAnswer{'!' * k}:" for k in range(4)]
    others = ["Pick the better way.\n{goal}\n(A) {sol1} (B) {sol2}", "Q: {goal} [A] {sol1} [B] {sol2} Letter:",
              "You are an expert. {goal}? Option A: {sol1}. Option B: {sol2}."]
    texts = family + others
    for seed in range(6):
        train, test = group_split(texts, 2, seed, leak_threshold=0.6)
        assert len(test) == 2 and not set(test) & set(train)
        assert leakage([texts[i] for i in train], [texts[i] for i in test]) < 0.6
    with pytest.raises(ValueError, match="too large"):
        group_split(family, 2, 0, leak_threshold=0.6)


def test_parse_templates_splits_on_separators_and_numbers():
    assert parse_templates("A {x}\n---\n`B {y}`\n---\n") == ["A {x}", "B {y}"]
    assert parse_templates("1. first {x}\n2) second {y}\n3. third") == ["first {x}", "second {y}", "third"]
    assert parse_templates("just one") == ["just one"]


def _piqa_candidates(n):
    styles = ["Goal: {goal}", "Q: {goal}", "Task - {goal}", "{goal}", "Help me: {goal}"]
    labels = ["A. {sol1}\nB. {sol2}", "(A) {sol1} (B) {sol2}", "[A] {sol1}\n[B] {sol2}"]
    cues = ["Answer:", "Reply with A or B.", "Letter:", "Which one works, A or B?"]
    out = [Candidate(f"{s}\n{lab}\n{c}", f"crafted/{i}") for i, (s, lab, c) in
           enumerate((s, lab, c) for s in styles for lab in labels for c in cues)]
    return out[:n]


def test_build_pool_writes_splits_rejects_and_manifest(tmp_path):
    candidates = _piqa_candidates(60) + [Candidate("Goal: {goal}\nA. {sol1}", "crafted/bad"),
                                         Candidate("Goal:\\n{goal}\\nA. {sol1}\\nB. {sol2}\\nAnswer:", "dup")]
    manifest = build_pool(PIQA, candidates, tmp_path, BuildConfig(test_size=5, valid_size=3, seed=1))
    train, valid, test = (load_pool(tmp_path / f"{s}.jsonl", PIQA.fields) for s in ("train", "valid", "test"))
    assert (len(valid), len(test)) == (3, 5) and len(train) == manifest["counts"]["train"]
    assert manifest["counts"]["rejected_invalid"] == 1 and manifest["counts"]["duplicates_exact"] == 1
    near = manifest["counts"]["duplicates_near"]
    texts = [p.text for p in train + valid + test]
    assert 0 < near < 30 and len(set(texts)) == len(texts) == 60 - near
    assert test[0].id == "piqa-test-000" and all(p.source.startswith("crafted/") for p in train + valid + test)
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 2 + near and {"crafted/bad", "dup"} <= {r["source"] for r in rejects}
    assert sum(r["reasons"][0].startswith("near duplicate of") for r in rejects) == near
    assert manifest["max_test_train_similarity"] < 0.85
    assert manifest["diversity"]["test"]["prompts"] == 5


def test_build_pool_refuses_too_few_prompts_but_keeps_rejects(tmp_path):
    with pytest.raises(PoolBuildError, match=r"2 prompts survive validation and de-duplication, 71 needed"):
        build_pool(PIQA, _piqa_candidates(2) + [Candidate("nonsense", "x")], tmp_path)
    assert json.loads((tmp_path / "rejects.jsonl").read_text())["reasons"][0].startswith("missing placeholder")
