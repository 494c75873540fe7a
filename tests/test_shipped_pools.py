"""The pools shipped under data/prompts/: valid, disjoint, sized as promised, and reproducible by the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paft_ext.pools.dedup import leakage
from paft_ext.pools.store import load_pool, text_hash
from paft_ext.pools.validate import validate
from paft_ext.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
POOLS = {"hellaswag": "hellaswag", "piqa": "piqa", "winogrande": "winogrande", "race": "race_middle",
         "gsm8k": "gsm8k"}


@pytest.mark.parametrize("pool", list(POOLS))
def test_shipped_pool_passes_the_validator(pool):
    task = TASKS[POOLS[pool]]
    folder = ROOT / "data" / "prompts" / pool
    splits = {s: load_pool(folder / f"{s}.jsonl", task.fields) for s in ("train", "valid", "test")}
    assert len(splits["train"]) >= 400 and len(splits["test"]) == 50 and len(splits["valid"]) == 20
    rows = [json.loads(line) for s in splits for line in (folder / f"{s}.jsonl").read_text().splitlines()]
    for row in rows:
        assert validate(row["text"], task).ok and validate(row["text"], task).text == row["text"]
        assert row["hash"] == text_hash(row["text"]) and row["source"].startswith("composed:handwritten-parts/")
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts) and len({r["id"] for r in rows}) == len(rows)
    train_texts = [p.text for p in splits["train"] + splits["valid"]]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert leakage(train_texts, [p.text for p in splits["test"]]) < manifest["build"]["leak_threshold"]
    assert manifest["counts"]["train"] == len(splits["train"])
    if task.answer_kind == "choice":
        assert all("\\n" not in t for t in texts)  # no literal backslash-n escapes survive


def test_race_pool_serves_both_race_tasks():
    assert TASKS["race_middle"].pool == TASKS["race_high"].pool == "race"
    load_pool(ROOT / "data" / "prompts" / "race" / "test.jsonl", TASKS["race_high"].fields)


def test_pools_are_reproducible_from_the_script(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_shipped_pools.py")], cwd=tmp_path, check=True,
                   capture_output=True)
    for pool in POOLS:
        for name in ("train.jsonl", "valid.jsonl", "test.jsonl", "manifest.json"):
            assert (tmp_path / "data" / "prompts" / pool / name).read_bytes() == \
                   (ROOT / "data" / "prompts" / pool / name).read_bytes(), f"{pool}/{name}"
