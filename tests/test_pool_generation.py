"""The pool generator end to end against a real OpenAI-compatible server on 127.0.0.1: `llamafactory-cli api`
serving the embedded default model (started and stopped here). SmolLM2-135M rarely writes a usable template, so
these tests check the machinery: candidates produced and validated, cache, resume, errors, key hygiene."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import yaml
from paft_ext.pools.generate import Generator
from paft_ext.pools.generation_config import GenerationError, load_generation_config
from paft_ext.pools.validate import validate
from paft_ext.tasks import get_task

pytestmark = pytest.mark.slow  # starts llamafactory-cli, OpenCompass or a model server

SECRET = "sk-paft-test-0123456789abcdef"
VENV_BIN = Path(sys.executable).parent
TOTAL_REQUESTS = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:
            return reply.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def server(default_model_path, tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("api") / "server.log").open("w")
    env = {**os.environ, "API_HOST": "127.0.0.1", "API_PORT": str(port), "API_KEY": SECRET, "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen([str(VENV_BIN / "llamafactory-cli"), "api", "--model_name_or_path",
                             str(default_model_path), "--template", "smollm2", "--infer_backend", "huggingface"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while True:
        try:
            if _get(f"{base}/models", SECRET) == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"llamafactory-cli api did not start; see {log.name}")
        time.sleep(1)
    yield base
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _config(tmp_path: Path, base_url: str, concurrency: int = 2) -> Path:
    config = {"concurrency": concurrency, "max_retries": 2, "backoff_seconds": 0.2, "generators": [
        {"name": "smol-a", "base_url": base_url, "model": "smollm2", "api_key_env": "PAFT_TEST_KEY",
         "requests": {"few_shot": 2, "zero_shot": 1}, "prompts_per_request": 3, "temperature": 0.7,
         "max_tokens": 48, "price_per_1k_input": 0.5, "price_per_1k_output": 1.5},
        {"name": "smol-b", "base_url": base_url, "model": "smollm2", "api_key_env": "PAFT_TEST_KEY",
         "requests": {"few_shot": 1, "zero_shot": 1}, "prompts_per_request": 2, "temperature": 1.0,
         "max_tokens": 48},
    ]}
    path = tmp_path / "generators.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _cli(config: Path, out: Path, cache: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PAFT_TEST_KEY": SECRET}
    return subprocess.Popen([str(VENV_BIN / "paft-ext"), "pools", "generate", "--config", str(config), "--task",
                             "piqa", "--out", str(out), "--cache-dir", str(cache)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _scan_for_secret(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_generate_validate_rerun_and_key_hygiene(server, tmp_path):
    config, out, cache = _config(tmp_path, server), tmp_path / "pool", tmp_path / "cache"
    code, err = _finish(_cli(config, out, cache))
    # A 135M model cannot fill a 71-prompt pool: the build stops with a clear message. The pool folder is not
    # created; everything the failed build wrote is kept beside it for inspection.
    assert code != 0 and "survive validation and de-duplication" in err
    assert f"the failed build's files are in {out}.failed" in err and not out.exists()
    out = out.with_name(out.name + ".failed")
    generation = json.loads((out / "generation.json").read_text())["generation"]
    assert generation["total"]["requests"] == TOTAL_REQUESTS and generation["total"]["from_cache"] == 0
    assert sum(generation["sent_this_run"].values()) == TOTAL_REQUESTS
    assert generation["usage"]["smol-a"]["completion_tokens"] > 0 and generation["usage"]["smol-a"]["cost"] > 0
    candidates = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    keys = {p.stem[:16] for p in cache.glob("*.json")}  # cache files are named by the full request hash
    for cand in candidates:  # provenance: model, strategy, temperature and the hash of the request it came from
        model, strategy, temperature, request, *trimmed = cand["source"].removeprefix("llm:").split("/")
        assert trimmed in ([], ["echo-trimmed"])
        assert model == "smollm2" and strategy in ("few_shot", "zero_shot") and request.split("=")[1] in keys
        assert temperature in ("temperature=0.7", "temperature=1.0")
    assert {r["request"] for r in generation["requests"]} == keys
    assert sum(r["completion_tokens"] for r in generation["requests"]) == generation["total"]["completion_tokens"]
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    rejected_texts = {r["text"] for r in rejects}
    for cand in candidates:
        verdict = validate(cand["text"], get_task("piqa"))
        assert verdict.ok or cand["text"] in rejected_texts
    assert all(r["reasons"] for r in rejects)
    assert len(list(cache.glob("*.json"))) == TOTAL_REQUESTS

    code, _ = _finish(_cli(config, tmp_path / "pool", cache))  # rerun: everything from the cache
    again = json.loads((out / "generation.json").read_text())["generation"]
    assert again["sent_this_run"] == {} and again["total"]["from_cache"] == TOTAL_REQUESTS
    assert [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()] == candidates

    assert _scan_for_secret(out, cache, tmp_path) == []
    assert _get(f"{server}/models", "sk-wrong") == 401  # the server really checked the key we sent


def test_killed_run_resumes_without_repeating_finished_requests(server, tmp_path):
    config, out, cache = _config(tmp_path, server, concurrency=1), tmp_path / "pool", tmp_path / "cache"
    proc = _cli(config, out, cache)
    deadline = time.time() + 300
    while not list(cache.glob("*.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    done = len(list(cache.glob("*.json")))
    assert 1 <= done < TOTAL_REQUESTS
    _finish(_cli(config, out, cache))  # the build fails (too few prompts); its files are kept in pool.failed
    generation = json.loads((tmp_path / "pool.failed" / "generation.json").read_text())["generation"]
    assert sum(generation["sent_this_run"].values()) == TOTAL_REQUESTS - done
    assert generation["total"]["from_cache"] == done and len(list(cache.glob("*.json"))) == TOTAL_REQUESTS


def test_dead_server_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PAFT_TEST_KEY", SECRET)
    config = load_generation_config(_config(tmp_path, f"http://127.0.0.1:{_free_port()}/v1"))
    with pytest.raises(GenerationError, match=r"generator smol-\w at http://127.0.0.1:\d+/v1, request [0-9a-f]{16}: "
                                              r"APIConnectionError: .*\(after 3 attempt\(s\)\)"):
        Generator(config, tmp_path / "cache").run(get_task("piqa"))


def test_config_errors_name_the_problem(tmp_path, monkeypatch):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"generators": [{"name": "x", "base_url": "u", "model": "m",
                                                    "api_key_env": "E", "api_key": "sk-123"}]}))
    with pytest.raises(GenerationError, match=r"generators\[0\]: never put a key in the file"):
        load_generation_config(path)
    path.write_text(yaml.safe_dump({"generators": [{"name": "x", "base_url": "u", "model": "m",
                                                    "api_key_env": "E", "temprature": 1}]}))
    with pytest.raises(GenerationError, match=r"generators\[0\]: unknown key\(s\) temprature"):
        load_generation_config(path)
    path.write_text(yaml.safe_dump({"generators": [{"name": "x", "base_url": "u", "model": "m",
                                                    "api_key_env": "PAFT_UNSET_KEY_VAR"}]}))
    monkeypatch.delenv("PAFT_UNSET_KEY_VAR", raising=False)
    with pytest.raises(GenerationError, match="environment variable PAFT_UNSET_KEY_VAR is not set"):
        Generator(load_generation_config(path), tmp_path / "cache").run(get_task("piqa"))
