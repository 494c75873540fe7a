"""`paft-ext pools generate` when the model writes usable templates (a scripted OpenAI-compatible endpoint): the
pool is built, split as asked, and every shipped prompt is one the endpoint wrote, named by the request it came from.
The failure path against a real model server is in test_pool_generation.py."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import yaml

VENV_BIN = Path(sys.executable).parent
REQUESTS = 30


def _templates(count: int, frame: bool = False) -> list[str]:
    """Distinct SST-2 templates made of seeded nonsense words, every line its own (no sentence shared between two
    templates); ``frame``: all share one answer line, as many LLM-written templates do."""
    rng = np.random.default_rng(7)

    def words(n: int) -> str:
        return " ".join("".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), size=3)) + rng.choice(list("aeiou"))
                        for _ in range(n))

    last = "Reply with A or B." if frame else None
    return [f"{words(8)}.\n{words(2)}: {{sentence}}\n{words(1)} [A] {{A}} [B] {{B}}\n{last or words(3) + ', A or B?'}"
            for _ in range(count)]


def _generate(tmp_path: Path, fake_api, served: list[str], test_size: int,
              extra: tuple[str, ...] = (), cache: str = "cache") -> tuple[subprocess.CompletedProcess, Path]:
    counter = itertools.count()
    fake_api.answer = lambda request: served[next(counter)]
    config = tmp_path / "generators.yaml"
    config.write_text(yaml.safe_dump({"concurrency": 1, "generators": [
        {"name": "stub", "base_url": fake_api.url, "model": "stub-model", "api_key_env": "PAFT_STUB_KEY",
         "requests": {"zero_shot": len(served)}, "prompts_per_request": 1, "temperature": 0.7}]}))
    out = tmp_path / "pool"
    result = subprocess.run([str(VENV_BIN / "paft-ext"), "pools", "generate", "--config", str(config), "--task",
                             "sst2", "--out", str(out), "--cache-dir", str(tmp_path / cache), "--test-size",
                             str(test_size), "--valid-size", "2", *extra], env={**os.environ, "PAFT_STUB_KEY": "k"},
                            capture_output=True, text=True, timeout=300)
    return result, out


def test_generate_builds_a_pool_from_what_the_endpoint_wrote(tmp_path, fake_api):
    served = _templates(REQUESTS)
    result, out = _generate(tmp_path, fake_api, served, test_size=4)
    cache = tmp_path / "cache"
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(fake_api.hits) == REQUESTS
    sets = {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
            for name in ("train", "valid", "test")}
    assert {name: len(rows) for name, rows in sets.items()} == {"train": 24, "valid": 2, "test": 4}
    shipped = [row for rows in sets.values() for row in rows]
    assert sorted(row["text"] for row in shipped) == sorted(served)  # all of them, each once, unchanged
    requests = {p.stem[:16] for p in cache.glob("*.json")}
    assert len(requests) == REQUESTS
    for row in shipped:
        model, strategy, temperature, request = row["source"].removeprefix("llm:").split("/")
        assert (model, strategy, temperature) == ("stub-model", "zero_shot", "temperature=0.7")
        assert request.removeprefix("request=") in requests
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["test"] == 4 and manifest["counts"]["train"] == 24


def test_templates_that_all_share_a_sentence_cannot_give_an_unseen_test_set(tmp_path, fake_api):
    result, out = _generate(tmp_path, fake_api, _templates(12, frame=True), test_size=4)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "paft-ext: error: sst2: clusters at similarity 0.5 are too large to form a test set of 4" in result.stderr
    assert "generate more diverse candidates or lower --test-size" in result.stderr
    assert not out.exists() and (out.parent / "pool.failed" / "candidates.jsonl").is_file()


def test_generate_adds_a_test_set_to_a_built_pool(tmp_path, fake_api):
    """--test-set writes its candidates beside the pool; they must not be read back as a test set of their own."""
    first, out = _generate(tmp_path, fake_api, _templates(REQUESTS), test_size=4)
    assert first.returncode == 0, first.stderr[-3000:]
    fresh = _templates(REQUESTS + 8)[REQUESTS:]  # 8 more of the same seeded family, none served before
    result, _ = _generate(tmp_path, fake_api, fresh, test_size=3, extra=("--test-set", "test_llm"),
                          cache="cache2")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "test_llm.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {r["text"] for r in rows} <= set(fresh)
    check = subprocess.run([str(VENV_BIN / "paft-ext"), "pools", "check", str(out), "--task", "sst2"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "test_llm" in check.stdout and "candidates" not in json.loads((out / "manifest.json").read_text())[
        "test_sets"]
