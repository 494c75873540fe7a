"""A Table 1 work folder is the same run when its effective training settings are, however they were split between
the recipe and the overrides; any other change is refused before a stage runs."""

from __future__ import annotations

import dataclasses
import json

import pytest

from paft_ext.configs.recipes import RECIPES
from paft_ext.experiments.presets import PRESETS
from paft_ext.experiments.reproduce import RunMismatch, Runner

EXTRA = RECIPES["cpu"].extra


def _runner(work, overrides, bf16: bool, **recipe_changes):
    runner = Runner(PRESETS["cpu"], work, train_overrides=overrides)
    runner.recipe = dataclasses.replace(runner.recipe, extra={**EXTRA, "bf16": bf16}, **recipe_changes)
    return runner


def test_a_recipe_default_that_became_the_override_is_the_same_run(tmp_path):
    _runner(tmp_path, {"bf16": True, "seed": 1}, bf16=False).check_or_record(["first"])
    recorded = json.loads((tmp_path / "run.json").read_text())
    assert recorded["recipe_values"]["extra"]["bf16"] is False and recorded["train_overrides"]["bf16"] is True
    # the recipe now trains in bf16 by default: the same effective run, resumable
    _runner(tmp_path, {"bf16": True, "seed": 1}, bf16=True).check_or_record(["later"])
    # another effective value, whichever side it comes from: refused, naming what differs
    with pytest.raises(RunMismatch, match=r"other settings \(training\)"):
        _runner(tmp_path, {"bf16": True, "seed": 2}, bf16=True).check_or_record(["x"])
    with pytest.raises(RunMismatch, match=r"other settings \(training\)"):
        _runner(tmp_path, {"bf16": True, "seed": 1}, bf16=True, learning_rate=5e-4).check_or_record(["x"])
    with pytest.raises(RunMismatch, match=r"other settings \(training\)"):
        _runner(tmp_path, {"seed": 1}, bf16=False).check_or_record(["x"])  # fp32 now
    with pytest.raises(RunMismatch, match="epochs"):
        other = Runner(dataclasses.replace(PRESETS["cpu"], epochs=4), tmp_path, train_overrides={"bf16": True,
                                                                                                 "seed": 1})
        other.check_or_record(["x"])


def _git(repo, *args) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_results_are_committed_alone_in_the_checkout_that_holds_them(tmp_path, monkeypatch):
    """A long run started from a worktree writes its results into another checkout: the commit lands there, holds
    the results folder only, and a call with nothing new commits nothing."""
    from paft_ext.experiments.reproduce import commit_folder

    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "t")
    (repo / "notes.txt").write_text("v1\n")
    _git(repo, "add", "notes.txt")
    _git(repo, "commit", "-q", "-m", "start")
    (repo / "notes.txt").write_text("v2, not this run's\n")
    results = repo / "results" / "grid"
    results.mkdir(parents=True)
    (results / "runs.csv").write_text("setting,mean\nK4,80\n")
    monkeypatch.chdir(tmp_path)  # not inside the checkout, as a run from elsewhere
    commit_folder(results, "grid: K4 read")
    assert _git(repo, "log", "--format=%s").splitlines() == ["grid: K4 read", "start"]
    assert _git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["results/grid/runs.csv"]
    assert _git(repo, "status", "--porcelain").split() == ["M", "notes.txt"]
    commit_folder(results, "grid: nothing new")
    assert len(_git(repo, "log", "--format=%s").splitlines()) == 2
