"""Trainings of Table 1 ``cpu``'s rows read on prompts that decide nothing in Table 1: the 20 validation prompts of
the SST-2 pool and the user-specified prompt (100 questions each, bf16 evaluation) — or, for the settings a study
keeps, the unseen test sets. Shared by ``select_cpu_recipe.py`` and ``ablation_grid.py``: one resumable work
folder per setting and seed (``<work>/<setting>_s<seed>``), stages as in the Table 1 runner.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import yaml
from paft_ext.default_model import sha256_file
from paft_ext.evaluation.report import collect, summarise
from paft_ext.experiments.presets import PRESETS, Preset
from paft_ext.experiments.reproduce import RunMismatch, Runner, stage_record
from paft_ext.pools.store import Prompt, load_pool, pool_digest, write_pool

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = "{pool}/valid.jsonl"
READING_COLUMNS = ("valid_mean", "valid_std", "valid_min", "balanced_accuracy", "accuracy_per_gold", "answer_share",
                   "gold_share", "collapse", "own_prompt")


def validation_runner(study: str, name: str, overrides: dict, seed: int, work: Path, command: list[str],
                      prompt_sets: Sequence[str] | None = None, folder: str | None = None,
                      task: str = "sst2") -> Runner:
    """The runner of one setting and seed of a study, its data prepared (the preset's seeded rows and questions, the
    same for every setting). ``prompt_sets``: what it reads (default: the validation prompts and the user-specified
    one); ``folder``: its work folder under ``work`` (default ``<name>_s<seed>``); ``task``: what it trains and reads
    (the ``cpu`` preset's row and question counts, any task with a shipped pool)."""
    preset = dataclasses.replace(PRESETS["cpu"], tasks=(task,))
    own = work / "prompts" / "own.jsonl"
    if not own.is_file():
        write_pool(own, [Prompt("user-specified", Runner(preset, work).tasks[0].baseline_prompt,
                                "the fixed baseline's training prompt")])
    sets = prompt_sets or (str(ROOT / "data" / "prompts" / VALIDATION), str(own))
    runner = Runner(study_preset(preset, study, name, sets), work / (folder or f"{name}_s{seed}"),
                    train_overrides={**overrides, "seed": seed, "paft_seed": seed})
    runner.check_or_record(command)
    runner._stage("prepare", runner.prepare)
    return runner


def study_preset(preset: Preset, study: str, name: str, prompt_sets: Sequence[str]) -> Preset:
    """``preset`` as one setting of a study reads it: its own name, these prompt sets, bf16 evaluation."""
    return dataclasses.replace(preset, name=f"cpu_{study}_{name}", prompts=None, prompt_sets=tuple(prompt_sets),
                               eval_dtype="bfloat16")


def _train_stage(runner: Runner, method: str) -> str:
    return f"train_{runner.tasks[0].name}_{method}"


def _train(runner: Runner, method: str) -> None:
    runner._stage(_train_stage(runner, method), partial(runner.train, runner.tasks[0], method))


def train_and_read(runner: Runner, method: str) -> None:
    """Train ``method`` and read it (finished stages are skipped)."""
    task = runner.tasks[0]
    _train(runner, method)
    runner._stage(f"eval_{task.name}_{method}", lambda: runner.evaluate(task, method))


def train_side_by_side(jobs: Sequence[tuple[Runner, str]], width: int = 2) -> None:
    """Train the (runner, method) jobs not finished yet ``width`` at a time, one thread each. On these 2 cores two
    300-step trainings side by side took 778 s where one after the other (both threads each) took 892 s, and gave
    bit-identical adapters (``results/main_job_sst2/README.md``). A group of one, or ``width`` 1, is left to
    :func:`train_and_read` (every thread). Each group waits for all its trainings, then raises the first failure."""
    pending = [(r, m) for r, m in jobs if r.finished(_train_stage(r, m)) is None]
    width = max(1, width)
    for start in range(0, len(pending), width):
        group = pending[start:start + width]
        if len(group) > 1:
            _train_at_once(group)


def _train_at_once(group: Sequence[tuple[Runner, str]]) -> None:
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # read by every training subprocess (Runner.train passes os.environ)
    try:
        with ThreadPoolExecutor(len(group)) as pool:
            futures = [pool.submit(_train, r, m) for r, m in group]
        errors = [f.exception() for f in futures if f.exception() is not None]
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    if errors:
        raise errors[0]


def reading(folder: Path, method: str, task: str = "sst2", with_questions: bool = False) -> dict | None:
    """One finished validation reading: mean, spread, worst, balance and collapse over the validation prompts, the
    user-specified prompt's accuracy, and the training's loss and seconds (None: not finished). ``with_questions``:
    also ``per_question``, per question (file order) the share of validation prompts answered right — what the
    seed-spread decomposition compares between seeds."""
    trained, done = (stage_record(folder, f"{stage}_{task}_{method}") for stage in ("train", "eval"))
    if trained is None or done is None:
        return None
    results = collect(Path(done["opencompass_run"]))
    summary = {r["prompt_set"]: r for r in summarise(results) if r["task"] != "AVERAGE"}
    valid = next(r for s, r in summary.items() if s.endswith("valid.jsonl"))
    own = next(r for s, r in summary.items() if s.endswith("own.jsonl"))
    found = {"valid_mean": valid["mean"], "valid_std": valid["std_pop"], "valid_min": valid["min"],
             **{k: valid[k] for k in ("balanced_accuracy", "accuracy_per_gold", "answer_share", "gold_share",
                                      "collapse")},
             "own_prompt": own["mean"], "train_loss": trained["train_loss"], "train_s": trained["train_runtime"]}
    if with_questions:
        rows = [r for r in results if r.prompt_set.endswith("valid.jsonl")]
        found["per_question"] = [sum(r.item_correct[i] == "1" for r in rows) / len(rows)
                                 for i in range(len(rows[0].item_correct))]
    return found


def setting_folders(work: Path) -> list[tuple[str, int, Path, dict]]:
    """(setting, seed, folder, LLaMA-Factory changes) of every ``<setting>_s<seed>`` work folder under ``work``."""
    found = []
    for folder in work.glob("*_s*"):
        name, _, seed = folder.name.rpartition("_s")
        if seed.isdigit() and (folder / "run.json").is_file():
            recorded = json.loads((folder / "run.json").read_text())["train_overrides"]
            found.append((name, int(seed), folder, {k: v for k, v in recorded.items()
                                                    if k not in ("seed", "paft_seed")}))
    return sorted(found, key=lambda f: (f[0], f[1]))


PATH_KEYS = ("model_name_or_path", "dataset_dir", "paft_pool")  # compared by content: two runs name them apart


def adopt_training(runner: Runner, method: str, source: Path) -> None:
    """Make ``source``'s finished training of ``method`` this runner's (stage ``train_<task>_<method>``) instead of
    training it again, when it is the same training: every key of the two YAMLs equal except ``output_dir``, and
    the files the path keys name byte-identical (the model, the prepared data, the pool). So a pilot's setting can
    become an arm of an evidence run without its hour of CPU; anything else is refused, naming the keys."""
    task = runner.tasks[0]
    stage = _train_stage(runner, method)
    if runner.finished(stage) is not None:
        return
    trained = stage_record(source, stage)
    if trained is None:
        raise RunMismatch(f"{source}: no finished {stage} to adopt")

    theirs = yaml.safe_load(Path(trained["yaml"]).read_text())
    mine = runner.training_yaml(task, method)

    def same(key: str) -> bool:
        if key in PATH_KEYS and key in mine and key in theirs:
            if not Path(theirs[key]).exists():  # trained in a checkout since removed (a worktree)
                return _same_as_removed(key, Path(mine[key]), Path(theirs[key]), Path(theirs["output_dir"]), task)
            return _same_content(Path(mine[key]), Path(theirs[key]))
        return mine.get(key) == theirs.get(key)

    differ = sorted(k for k in (set(mine) | set(theirs)) - {"output_dir"} if not same(k))
    if differ:
        raise RunMismatch(f"{source}: its {stage} is another training ({', '.join(differ)} differ); not adopted")

    def copy() -> dict:
        target = runner.adapter(task, method)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(theirs["output_dir"]), target)
        return {**{k: v for k, v in trained.items() if k not in ("seconds", "commit")},
                "adopted_from": str(source.resolve()), "trained_seconds": trained["seconds"],
                "trained_commit": trained["commit"]}

    runner._stage(stage, copy)


def _same_as_removed(key: str, mine: Path, theirs: Path, adapter: Path, task) -> bool:
    """Whether a path a training recorded in a checkout that no longer exists held what ``mine`` holds: the pool by
    the digest its ``paft_schedule.json`` records (the prompts' ids and texts); the model by name under
    ``.cache/models`` (setup converts the default model the same way in every checkout, and a worktree links its
    cache to the main checkout's). Anything else cannot be compared and counts as different."""
    if key == "paft_pool":
        recorded = json.loads((adapter / "paft_schedule.json").read_text())["spec"]["pool_digest"]
        return recorded == pool_digest(load_pool(mine, task.fields))
    if key == "model_name_or_path":
        return theirs.name == mine.name and theirs.parent.parts[-2:] == (".cache", "models") == mine.parent.parts[-2:]
    return False


def _same_content(a: Path, b: Path) -> bool:
    """Whether two paths hold the same bytes: one file, or every file of a folder under the same relative name. The
    same place (the model through a worktree's symlinked cache) is not read at all."""
    if a.resolve() == b.resolve():
        return True

    def content(path: Path) -> str | dict[str, str]:
        if path.is_dir():
            return {str(f.relative_to(path)): sha256_file(f) for f in sorted(path.rglob("*")) if f.is_file()}
        return sha256_file(path)

    return content(a) == content(b)
