"""Trainings side by side (scripts/validation_runs.train_side_by_side): they really overlap, each sees one thread,
the caller's thread setting comes back, finished stages are not rerun, and a failure surfaces after the others end.
(That one-thread trainings give the same adapter as two-thread ones is measured, results/main_job_sst2/README.md.)"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import pytest

from paft_ext.experiments.presets import PRESETS
from paft_ext.experiments.reproduce import Runner

_spec = importlib.util.spec_from_file_location(
    "validation_runs", Path(__file__).resolve().parents[1] / "scripts" / "validation_runs.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
train_side_by_side = _module.train_side_by_side


def _runners(tmp_path: Path, n: int, train) -> list[Runner]:
    runners = []
    for i in range(n):
        runner = Runner(PRESETS["cpu"], tmp_path / f"r{i}", log=lambda _: None)
        runner.train = train  # the stage body: no LLaMA-Factory here
        runners.append(runner)
    return runners


def test_two_trainings_overlap_with_one_thread_each(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    both = threading.Barrier(2, timeout=20)  # one after the other, the first would wait here in vain
    seen = []

    def train(task, method):
        seen.append(os.environ["OMP_NUM_THREADS"])
        both.wait()
        return {"method": method}

    a, b = _runners(tmp_path, 2, train)
    train_side_by_side([(a, "fixed"), (b, "paft")])
    assert seen == ["1", "1"]
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert a.finished("train_sst2_fixed")["method"] == "fixed"
    assert b.finished("train_sst2_paft")["method"] == "paft"


def test_finished_stages_are_skipped_and_an_unset_thread_count_stays_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    calls = []
    a, b, c = _runners(tmp_path, 3, lambda task, method: calls.append(method) or {})
    a._stage("train_sst2_paft", lambda: {"earlier": True})
    train_side_by_side([(a, "paft"), (b, "paft")])
    assert calls == []  # one job left: train_and_read trains it with every thread
    train_side_by_side([(a, "paft"), (b, "paft"), (c, "paft")])
    assert calls == ["paft", "paft"] and "OMP_NUM_THREADS" not in os.environ
    assert a.finished("train_sst2_paft")["earlier"] is True


def test_a_failure_is_raised_after_the_other_training_finished(tmp_path):
    def train(task, method):
        if method == "fixed":
            raise RuntimeError("llamafactory-cli failed")
        return {"ok": True}

    a, b = _runners(tmp_path, 2, train)
    with pytest.raises(RuntimeError, match="llamafactory-cli failed"):
        train_side_by_side([(a, "fixed"), (b, "paft")])
    assert a.finished("train_sst2_fixed") is None
    assert b.finished("train_sst2_paft")["ok"] is True


def test_jobs_train_in_groups_of_width_and_a_lone_one_is_left_to_train_and_read(tmp_path):
    both = threading.Barrier(2, timeout=20)
    calls = []

    def train(task, method):
        both.wait()  # a group of three would break the barrier; a group of one would wait in vain
        calls.append(method)
        return {}

    a, b, c = _runners(tmp_path, 3, train)
    train_side_by_side([(a, "fixed"), (b, "paft"), (c, "structure")], width=2)
    assert sorted(calls) == ["fixed", "paft"] and c.finished("train_sst2_structure") is None
    train_side_by_side([(c, "structure")], width=1)
    assert c.finished("train_sst2_structure") is None
