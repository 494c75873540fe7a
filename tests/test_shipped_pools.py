"""The pools shipped under data/prompts/: valid, sized as promised, reproducible by the script, and — the point of
the test sets — unseen: no test prompt shares a part, a line of wording or much of its text with a train prompt.

The unseen checks here are written independently of paft_ext.pools.leakage (own sentence splitting, own character
5-gram Jaccard with Python sets), so a bug there cannot hide a leak here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paft_ext.pools.build import Candidate, PoolBuildError, add_test_set
from paft_ext.pools.store import load_pool, text_hash
from paft_ext.pools.validate import validate
from paft_ext.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
POOLS = {"hellaswag": "hellaswag", "piqa": "piqa", "winogrande": "winogrande", "race": "race_middle",
         "gsm8k": "gsm8k", "sst2": "sst2", "sciq": "sciq"}
LLM_POOLS = ("piqa", "winogrande")  # test_llm is shipped for these at least
SIZES = {"valid": 20, "test": 50, "test_indep": 50, "seen_probe": 10}


def _rows(folder: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{name}.jsonl").read_text().splitlines()]


def _test_sets(folder: Path) -> list[str]:
    return [s for s in ("test", "test_indep", "test_llm") if (folder / f"{s}.jsonl").is_file()]


def _sentences(text: str) -> set[str]:
    out = set()
    for line in text.lower().split("\n"):
        for piece in re.split(r"(?<=[.!?]) ", " ".join(line.split())):
            if len(re.findall(r"[^\W\d_]", re.sub(r"\{\w+\}", "", piece))) >= 3:
                out.add(piece.strip())
    return out


def _jaccard(a: str, b: str) -> float:
    folded = (" ".join(a.lower().split()), " ".join(b.lower().split()))
    grams = [{t[i:i + 5] for i in range(len(t) - 4)} for t in folded]
    return len(grams[0] & grams[1]) / len(grams[0] | grams[1])


@pytest.mark.parametrize("pool", list(POOLS))
def test_every_shipped_prompt_passes_the_validator_and_sets_are_sized(pool):
    task, folder = TASKS[POOLS[pool]], ROOT / "data" / "prompts" / pool
    names = ["train", "valid", "seen_probe", *_test_sets(folder)]
    if pool in LLM_POOLS:
        assert "test_llm" in names
    for name in names:
        prompts = load_pool(folder / f"{name}.jsonl", task.fields)
        want = {"train": 400, "test_llm": 50}.get(name)
        assert len(prompts) >= want if want else len(prompts) == SIZES[name], name
        for row in _rows(folder, name):
            assert validate(row["text"], task).ok and validate(row["text"], task).text == row["text"]
            assert row["hash"] == text_hash(row["text"]) and "\\n" not in row["text"]
    texts = [r["text"] for s in ("train", "valid", *_test_sets(folder)) for r in _rows(folder, s)]
    assert len(set(texts)) == len(texts)
    assert {r["source"] for r in _rows(folder, "test_indep")} == {"handwritten:independent"}
    if "test_llm" in names:
        for row in _rows(folder, "test_llm"):  # model, strategy, temperature and request hash
            assert re.fullmatch(r"llm:Qwen2\.5-Coder-1\.5B-Instruct/zero_shot/temperature=[\d.]+/"
                                r"request=[0-9a-f]{16}(/echo-trimmed)?", row["source"]), row["source"]


@pytest.mark.parametrize("pool", list(POOLS))
def test_test_prompts_are_composed_from_test_only_parts(pool):
    folder = ROOT / "data" / "prompts" / pool
    parts = {s: {p for r in _rows(folder, s) for p in r["source"].split("/", 1)[1].split("+")}
             for s in ("train", "valid", "test")}
    assert all(r["source"].startswith("composed:handwritten-parts/") for s in parts for r in _rows(folder, s))
    train_parts = (parts["train"] | parts["valid"]) - {"answer.none"}
    test_parts = parts["test"] - {"answer.none"}
    assert all(".train." in p for p in train_parts) and all(".test." in p for p in test_parts)
    assert not train_parts & test_parts
    families = {p.split(".")[0] for p in test_parts}
    assert families >= {"instruction", "context", "answer", "layout"}  # every family has test-side members used
    manifest = json.loads((folder / "manifest.json").read_text())
    assert all(side["test"] > 0 and side["train"] > 0 for side in manifest["parts"].values())


@pytest.mark.parametrize("pool", list(POOLS))
def test_no_test_prompt_shares_a_sentence_or_much_text_with_train(pool):
    folder = ROOT / "data" / "prompts" / pool
    held_out = [f.stem for f in folder.glob("valid_*.jsonl")]  # validation written apart: seen side for the tests
    train = [r["text"] for s in ("train", "valid", *held_out) for r in _rows(folder, s)]
    train_sentences = set().union(*map(_sentences, train))
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in _test_sets(folder):
        nearest = []
        for row in _rows(folder, name):
            assert not _sentences(row["text"]) & train_sentences, (name, row["id"])
            nearest.append(max(_jaccard(row["text"], t) for t in train))
        assert max(nearest) <= 0.50 and sum(nearest) / len(nearest) <= 0.35, name
        recorded = manifest["unseen"][name]["nearest_train_jaccard"]
        assert recorded["max"] == pytest.approx(max(nearest), abs=1e-4)
        assert recorded["mean"] == pytest.approx(sum(nearest) / len(nearest), abs=1e-4)


def test_held_out_validation_prompts_share_nothing_with_train_or_test():
    """SST-2's ``valid_indep`` (settings are chosen on it where the composed ``valid`` prompts cannot show a failure)
    says no sentence that a train or test prompt says, and its 5-gram similarity to train stays as low as a test
    set's, so that choosing on it reads unseen prompts without reading the test prompts."""
    folder = ROOT / "data" / "prompts" / "sst2"
    rows = _rows(folder, "valid_indep")
    assert len(rows) == 12 and all(r["source"] == "handwritten:independent" for r in rows)
    train = [r["text"] for s in ("train", "valid") for r in _rows(folder, s)]
    others = set().union(*(_sentences(r["text"]) for s in (*_test_sets(folder), "train", "valid")
                           for r in _rows(folder, s)))
    nearest = []
    for row in rows:
        assert not _sentences(row["text"]) & others, row["id"]
        nearest.append(max(_jaccard(row["text"], t) for t in train))
    assert max(nearest) <= 0.50 and sum(nearest) / len(nearest) <= 0.35
    recorded = json.loads((folder / "manifest.json").read_text())["unseen"]["valid_indep"]["nearest_train_jaccard"]
    assert recorded["mean"] == pytest.approx(sum(nearest) / len(nearest), abs=1e-4)


@pytest.mark.parametrize("pool", list(POOLS))
def test_seen_probe_is_a_sample_of_train(pool):
    folder = ROOT / "data" / "prompts" / pool
    train = {r["id"]: r["text"] for r in _rows(folder, "train")}
    probe = _rows(folder, "seen_probe")
    assert len({r["id"] for r in probe}) == 10 and all(train[r["id"]] == r["text"] for r in probe)


def test_race_pool_serves_both_race_tasks():
    assert TASKS["race_middle"].pool == TASKS["race_high"].pool == "race"
    load_pool(ROOT / "data" / "prompts" / "race" / "test_indep.jsonl", TASKS["race_high"].fields)


def _check(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "paft-ext"), "pools", "check", str(folder)], capture_output=True,
                          text=True)


def test_pools_check_passes_on_shipped_pools_and_names_a_leak(tmp_path):
    for pool in POOLS:
        done = _check(ROOT / "data" / "prompts" / pool)
        assert done.returncode == 0 and "every test set is unseen" in done.stdout, done.stderr
    leaky = tmp_path / "piqa"
    shutil.copytree(ROOT / "data" / "prompts" / "piqa", leaky)
    rows = _rows(leaky, "test")
    instruction = "Choose the solution that best achieves the goal."
    assert any(instruction in r["text"] for r in _rows(leaky, "train"))
    rows[7]["text"] = instruction + "\n" + rows[7]["text"]
    (leaky / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _check(leaky)
    assert done.returncode != 0
    assert f"test/{rows[7]['id']}: sentence: shares the sentence {instruction.lower()!r}" in done.stderr


def test_build_refuses_a_hand_written_test_set_with_a_leaked_sentence(tmp_path):
    task, folder = TASKS["winogrande"], tmp_path / "winogrande"
    shutil.copytree(ROOT / "data" / "prompts" / "winogrande", folder)
    leaked = "Fill in the blank."  # a train-side instruction
    good = "Gap in this line: {prompt}\n[A] {only_option1}\n[B] {only_option2}\nWhich letter fits the gap?"
    bad = leaked + "\n~ {prompt}\n(A) {only_option1}\n(B) {only_option2}"
    with pytest.raises(PoolBuildError, match=r"(?s)1 hand-written prompt\(s\) refused.*'fill in the blank\.'"):
        add_test_set(task, folder, "test_mine", [Candidate(good, "handwritten:x"), Candidate(bad, "handwritten:x")])
    assert not (folder / "test_mine.jsonl").exists()
    manifest = add_test_set(task, folder, "test_mine", [Candidate(good, "handwritten:x")])
    assert manifest["unseen"]["test_mine"]["prompts"] == 1 and _rows(folder, "test_mine")[0]["id"] == \
        "winogrande-mine-000"


def test_a_held_out_validation_set_shares_nothing_with_the_test_sets_either_way(tmp_path):
    """``valid_<name>``: refused when it says a test prompt's sentence; once added, a test prompt that says one of
    its sentences is a leak in ``pools check``; a validation prompt that says a train sentence is one too."""
    from paft_ext.pools.leakage import check_pool

    task, folder = TASKS["sst2"], tmp_path / "sst2"
    shutil.copytree(ROOT / "data" / "prompts" / "sst2", folder)
    (folder / "valid_indep.jsonl").unlink()
    test_sentence = _rows(folder, "test_indep")[4]["text"].split("\n")[1]  # "Is the feeling here A) {A} or B) {B}?"
    good = "Critic line, verbatim: {sentence}\nLetter A marks it {A}, letter B marks it {B}. Reply in one character."
    with pytest.raises(PoolBuildError, match=r"(?s)refused.*shares the sentence"):
        add_test_set(task, folder, "valid_mine", [Candidate(good, "handwritten:x"),
                                                  Candidate("{sentence}\n" + test_sentence, "handwritten:x")])
    manifest = add_test_set(task, folder, "valid_mine", [Candidate(good, "handwritten:x")])
    assert manifest["valid_sets"]["valid_mine"]["written"] == 1 and "valid_mine" not in manifest["test_sets"]
    assert _rows(folder, "valid_mine")[0]["id"] == "sst2-validmine-000"
    rows = _rows(folder, "test_indep")
    rows[0]["text"] = rows[0]["text"] + "\nLetter A marks it {A}, letter B marks it {B}."
    (folder / "test_indep.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = [str(p) for p in check_pool(folder, task)[1]]
    assert problems == [f"test_indep/{rows[0]['id']}: sentence: shares the sentence 'letter a marks it {{a}}, letter "
                        f"b marks it {{b}}.' with train prompt sst2-validmine-000"]
    train_instruction = _rows(folder, "train")[0]["text"].split("\n")[0]
    mine = _rows(folder, "valid_mine")
    mine[0]["text"] = train_instruction + "\n" + mine[0]["text"]
    (folder / "valid_mine.jsonl").write_text(json.dumps(mine[0]) + "\n")
    assert any(p.startswith("valid_mine/sst2-validmine-000: sentence:") for p in map(str, check_pool(folder, task)[1]))


def test_pools_are_reproducible_from_the_script(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_shipped_pools.py")], cwd=tmp_path, check=True,
                   capture_output=True)
    for pool in POOLS:
        shipped = sorted(p.name for p in (ROOT / "data" / "prompts" / pool).iterdir()
                         if not p.name.startswith("llm_"))
        assert sorted(p.name for p in (tmp_path / "data" / "prompts" / pool).iterdir()) == shipped
        for name in shipped:
            assert (tmp_path / "data" / "prompts" / pool / name).read_bytes() == \
                   (ROOT / "data" / "prompts" / pool / name).read_bytes(), f"{pool}/{name}"


DUP = "TELL ME, {goal}: IS IT {sol1} (A) OR {sol2} (B)?"  # the first fresh prompt up to case


def test_a_generated_test_set_keeps_only_valid_distinct_unseen_prompts(tmp_path):
    task, folder = TASKS["piqa"], tmp_path / "piqa"
    shutil.copytree(ROOT / "data" / "prompts" / "piqa", folder)
    train_text = _rows(folder, "train")[0]["text"]
    fresh = ["Tell me, {goal}: is it {sol1} (A) or {sol2} (B)?", "Aim >> {goal}\nA >> {sol1}\nB >> {sol2}\nLetter >>",
             "Which of these really works for {goal} - A: {sol1}, B: {sol2}?"]
    candidates = [Candidate(t, f"llm:m/zero_shot/temperature=1.0/request={i:016x}") for i, t in enumerate(
        fresh + [train_text, "Aim >> {goal}\nA >> {sol1}", DUP])]
    manifest = add_test_set(task, folder, "test_gen", candidates, size=2, strict=False, seed=3)
    kept = _rows(folder, "test_gen")
    assert len(kept) == 2 and {r["text"] for r in kept} < set(fresh) and kept[1]["id"] == "piqa-gen-001"
    rejects = {r["text"]: r["reasons"] for r in _rows(folder, "test_gen_rejects")}
    assert set(rejects) == {train_text, "Aim >> {goal}\nA >> {sol1}", DUP}
    assert rejects["Aim >> {goal}\nA >> {sol1}"] == ["missing placeholder(s) {sol2}"]
    assert rejects[DUP][0].startswith("exact duplicate of")
    assert any("nearest-train 5-gram Jaccard 1.000" in why for why in rejects[train_text])
    assert manifest["test_sets"]["test_gen"]["rejected"] == 3 and manifest["unseen"]["test_gen"]["prompts"] == 2
    with pytest.raises(PoolBuildError, match=r"3 candidates are valid, distinct and unseen, 4 needed"):
        add_test_set(task, folder, "test_gen", candidates, size=4, strict=False)
