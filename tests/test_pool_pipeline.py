"""Pool validation, de-duplication, leakage-safe splitting and building on crafted inputs."""

from __future__ import annotations

import json
import re

import pytest

from paft_ext.pools.build import BuildConfig, Candidate, PoolBuildError, build_pool
from paft_ext.pools.dedup import deduplicate, group_split, similarity
from paft_ext.pools.replies import parse_templates
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
    (PIQA, "{goal} = the goal\n{sol1} = solution A\n{sol2} = solution B\nWhich one?", "defines placeholder(s) {goal}"),
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
        assert similarity([texts[i] for i in test], [texts[i] for i in train]).max() < 0.6
    with pytest.raises(ValueError, match="too large"):
        group_split(family, 2, 0, leak_threshold=0.6)


def test_parse_templates_splits_on_separators_and_numbers():
    assert parse_templates("A {x}\n---\n`B {y}`\n---\n") == ["A {x}", "B {y}"]
    assert parse_templates("**Prompt Template:**\n{goal} A. {sol1}") == ["{goal} A. {sol1}"]  # heading dropped
    assert parse_templates("Sure! Here's the prompt template you asked for:\nHelp: {goal}") == ["Help: {goal}"]
    assert parse_templates("Read the prompt: {prompt}\nA. x") == ["Read the prompt: {prompt}\nA. x"]  # kept
    assert parse_templates("1. first {x}\n2) second {y}\n3. third") == ["first {x}", "second {y}", "third"]
    assert parse_templates("just one") == ["just one"]


def _piqa_candidates(n):
    styles = ["Goal: {goal}", "Q: {goal}", "Task - {goal}", "{goal}", "Help me: {goal}"]
    labels = ["A. {sol1}\nB. {sol2}", "(A) {sol1} (B) {sol2}", "[A] {sol1}\n[B] {sol2}"]
    cues = ["Answer:", "Reply with A or B.", "Letter:", "Which one works, A or B?"]
    out = [Candidate(f"{s}\n{lab}\n{c}", f"crafted/{i}") for i, (s, lab, c) in
           enumerate((s, lab, c) for s in styles for lab in labels for c in cues)]
    return out[:n]


SOLO = ["Tell me which works: {goal} | {sol1} (A) | {sol2} (B)", "PHYSICS QUIZ\n{goal}\nA) {sol1}\nB) {sol2}",
        "Be honest, would you rather {sol1} (A) or {sol2} (B) to {goal}", "<aim>{goal}</aim> A={sol1} B={sol2}",
        "My mother says {sol1}, my father says {sol2}. Goal is {goal}. Who wins, A or B?",
        "Imagine this goal right now: {goal}\n=> A {sol1}\n=> B {sol2}", "{sol1} (A) versus {sol2} (B), for {goal}",
        "Only letters please.\nObjective is {goal}\nA) {sol1}  B) {sol2}",
        "Examiner's item. To {goal}, should one {sol1} (A) or {sol2} (B)?",
        "Practical wisdom test:\n{goal}\n~A~ {sol1}\n~B~ {sol2}\nYour verdict, in one letter"]


def _wording_lines(prompts) -> set[str]:
    """Lines with at least three letters outside placeholders (bare field lines such as "A. {sol1}" are layout)."""
    return {line.lower() for p in prompts for line in p.text.split("\n")
            if sum(c.isalpha() for c in re.sub(r"\{\w+\}", "", line)) >= 3}


def test_build_pool_writes_splits_rejects_and_manifest(tmp_path):
    candidates = _piqa_candidates(60) + [Candidate("Goal: {goal}\nA. {sol1}", "crafted/bad"),
                                         Candidate("Goal:\\n{goal}\\nA. {sol1}\\nB. {sol2}\\nAnswer:", "dup")]
    candidates += [Candidate(text, f"solo/{i}") for i, text in enumerate(SOLO)]
    manifest = build_pool(PIQA, candidates, tmp_path, BuildConfig(test_size=5, valid_size=3, seed=1))
    train, valid, test = (load_pool(tmp_path / f"{s}.jsonl", PIQA.fields) for s in ("train", "valid", "test"))
    assert (len(valid), len(test)) == (3, 5) and len(train) == manifest["counts"]["train"]
    assert manifest["counts"]["rejected_invalid"] == 1 and manifest["counts"]["duplicates_exact"] == 1
    near = manifest["counts"]["duplicates_near"]
    texts = [p.text for p in train + valid + test]
    assert 0 < near < 30 and len(set(texts)) == len(texts) == 70 - near
    # The 60 crafted prompts share answer lines ("Answer:") and context lines, so they are one cluster that must stay
    # on the train side; only the stand-alone prompts can be unseen test prompts.
    assert test[0].id == "piqa-test-000" and all(p.source.startswith("solo/") for p in test)
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 2 + near and {"crafted/bad", "dup"} <= {r["source"] for r in rejects}
    assert sum(r["reasons"][0].startswith("near duplicate of") for r in rejects) == near
    assert manifest["unseen"]["test"]["nearest_train_jaccard"]["max"] <= 0.5
    assert not _wording_lines(test) & _wording_lines(train + valid)  # no shared line of wording
    assert manifest["diversity"]["test"]["prompts"] == 5
    seen = load_pool(tmp_path / "seen_probe.jsonl", PIQA.fields)
    assert len(seen) == min(10, len(train)) and {(p.id, p.text) for p in seen} <= {(p.id, p.text) for p in train}


def test_build_pool_refuses_too_few_prompts_but_keeps_rejects(tmp_path):
    with pytest.raises(PoolBuildError, match=r"2 prompts survive validation and de-duplication.*71 needed"):
        build_pool(PIQA, _piqa_candidates(2) + [Candidate("nonsense", "x")], tmp_path)
    assert json.loads((tmp_path / "rejects.jsonl").read_text())["reasons"][0].startswith("missing placeholder")


def test_templates_that_echo_the_meta_prompt_are_recognised():
    from paft_ext.pools.generate import plan_requests
    from paft_ext.pools.generation_config import GenerationConfig, GeneratorSpec
    from paft_ext.pools.replies import echoes_meta_prompt, trim_echoes

    config = GenerationConfig(generators=(GeneratorSpec(name="g", base_url="http://127.0.0.1:1/v1", model="m",
                                                        api_key_env="K", requests={"zero_shot": 1}),))
    meta = plan_requests(PIQA, config)[0].messages[0]["content"]
    assert "ask for the letter of the right one" in meta
    assert echoes_meta_prompt("Goal {goal}: {sol1} or {sol2}? Label the options A, B and ask for the letter of the "
                              "right one.", meta)
    assert not echoes_meta_prompt("Goal {goal}: {sol1} (A) or {sol2} (B)? Reply with the letter of the correct "
                                  "solution.", meta)
    # an echoed sentence without a placeholder is cut out; one holding a placeholder drops the template
    template = "Pick for {goal}: A. {sol1} B. {sol2}. Use no other curly braces.\nYour letter:"
    assert trim_echoes(template, meta) == "Pick for {goal}: A. {sol1} B. {sol2}.\nYour letter:"
    echo = "Use the placeholders {goal} (the goal), {sol1} (solution A), {sol2} (solution B)."
    assert trim_echoes(echo, meta) is None


@pytest.mark.parametrize("command", [["report"], ["eval"], ["prepare"], ["pools", "check"], ["pools", "compose"],
                                     ["pools", "generate"], ["pools", "add-test-set"]])
def test_every_command_prints_its_help(command, capsys):
    from paft_ext.cli import build_parser

    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0 and "usage: paft-ext" in capsys.readouterr().out


def test_a_candidate_file_without_provenance_is_refused(tmp_path):
    from paft_ext.cli import main

    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"text": "Which works? {goal} (A) {sol1} (B) {sol2}", "source": "handwritten:me"})
                    + "\n" + json.dumps({"text": "Pick: {goal} A) {sol1} B) {sol2}"}) + "\n")
    with pytest.raises(SystemExit, match=r"mine\.jsonl:2: a candidate line needs string 'text' and 'source'"):
        main(["pools", "add-test-set", "--task", "piqa", "--name", "test_mine", "--from", str(path), "--out",
              str(tmp_path / "pool")])


def test_generators_see_readable_placeholder_names_and_templates_come_back_with_the_task_fields(tmp_path, fake_api,
                                                                                               monkeypatch):
    from paft_ext.pools.generate import Generator
    from paft_ext.pools.generation_config import GenerationConfig, GeneratorSpec

    seen = []

    def answer(request):
        seen.append(request["messages"][-1]["content"])
        return "Fill the gap in {sentence} with {option_a} (A) or {option_b} (B); keep {other}. Letter?"

    fake_api.answer = answer
    monkeypatch.setenv("K", "key")
    config = GenerationConfig(concurrency=1, generators=(GeneratorSpec(
        name="g", base_url=fake_api.url, model="m", api_key_env="K", requests={"zero_shot": 1, "few_shot": 1}),))
    candidates, provenance = Generator(config, tmp_path).run(get_task("winogrande"))
    assert len(seen) == 2
    for meta in seen:  # both strategies (few-shot examples included) show only the readable names
        assert "{sentence}" in meta and "{option_a}" in meta and "{option_b}" in meta
        assert not re.search(r"\{(prompt|only_option1|only_option2)\}", meta)
    assert [c.text for c in candidates] == [
        "Fill the gap in {prompt} with {only_option1} (A) or {only_option2} (B); keep {other}. Letter?"] * 2
    assert provenance["generation"]["placeholder_names_shown"] == {
        "prompt": "sentence", "only_option1": "option_a", "only_option2": "option_b"}


def test_generation_names_must_rename_known_fields_to_distinct_names():
    import dataclasses

    task = get_task("winogrande")
    with pytest.raises(ValueError, match="generation_names must rename known fields to distinct names"):
        dataclasses.replace(task, generation_names={"prompt": "x", "only_option1": "x"})
    with pytest.raises(ValueError, match="generation_names"):
        dataclasses.replace(task, generation_names={"sentence": "s"})
