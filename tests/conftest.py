"""Shared fixtures: the real offline data root and the converted default model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from paft_ext.adapters.source import data_root

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def task_registry_restored(monkeypatch):
    """Tasks a test registers (TASKS and PAFT_TASK_FILES) leave with it."""
    import os

    from paft_ext.tasks import TASK_FILES_ENV, TASKS

    before = dict(TASKS)
    monkeypatch.setenv(TASK_FILES_ENV, os.environ.get(TASK_FILES_ENV, ""))
    yield
    TASKS.clear()
    TASKS.update(before)


@pytest.fixture(scope="session")
def shared_root() -> Path:
    root = data_root()
    if root is None:
        pytest.fail("no local data root: put ../shared/data beside the repo or set PAFT_DATA_ROOT")
    return root


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    from paft_ext import default_model

    return default_model.ensure()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, default_model_path) -> Path:
    from lf_helpers import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_llama"), default_model_path)


@pytest.fixture(scope="session")
def piqa_lf_data(tmp_path_factory, shared_root) -> Path:
    """36 PIQA training rows as a LLaMA-Factory dataset_dir (entries piqa_train and piqa_paft)."""
    from paft_ext.adapters.export import PrepareConfig, prepare
    from paft_ext.tasks import get_task

    out = tmp_path_factory.mktemp("piqa_data")
    prepare([get_task("piqa")], out, PrepareConfig(train_samples=36, eval_samples=8, seed=1))
    return out / "llamafactory"


@pytest.fixture(scope="session")
def piqa_rows(piqa_lf_data) -> list[dict]:
    import json

    return [json.loads(line) for line in (piqa_lf_data / "piqa_train.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def tiny_pool(tmp_path_factory) -> Path:
    from lf_helpers import write_pool

    return write_pool(tmp_path_factory.mktemp("pool") / "train.jsonl")


@dataclass
class FakeAPI:
    """An OpenAI-compatible chat endpoint on 127.0.0.1: it answers from ``script`` (content type, body, status,
    headers) while that lasts, then with a good completion whose content is ``answer(request)``."""

    url: str = ""
    script: list = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    answer: Callable[[dict], str] = lambda request: ""


@pytest.fixture()
def fake_api():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    api = FakeAPI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if api.script:
                kind, body, status, headers = api.script.pop(0)
            else:
                message = {"role": "assistant", "content": api.answer(request)}
                body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
                kind, status, headers = "application/json", 200, {}
            api.hits.append(body[:20])
            self.send_response(status)
            self.send_header("content-type", kind)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield api
    server.shutdown()
