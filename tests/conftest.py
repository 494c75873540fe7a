"""Shared fixtures: the real offline data root and the converted default model."""

from __future__ import annotations

from pathlib import Path

import pytest

from paft_ext.benchmark_data.source import data_root

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
    from paft_ext.benchmark_data.export import PrepareConfig, prepare
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


@pytest.fixture()
def fake_api():
    from lf_helpers import serve_fake_api

    with serve_fake_api() as api:
        yield api
