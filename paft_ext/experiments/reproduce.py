"""The Table 1 experiment as resumable stages: base model, LoRA with the user-specified prompt, LoRA with the
TopAccuracy prompt, and PAFT — same records, optimizer steps, LoRA settings and seed — each evaluated on every
unseen test prompt.

All three trained methods go through the PAFT hook inside stock ``llamafactory-cli train``: the two baselines with a
one-prompt pool, PAFT with the train pool. So their rows, data order (the schedule's seeded permutations) and
step count are identical by construction, and only the prompts differ.

Stages (``<work>/stages/<stage>.json`` marks one as finished; a rerun skips it): ``prepare``, ``chat_tokenizer``,
``select_<task>``, ``train_<task>_<method>``, ``eval_<task>_<method>``. The report (``table1.md``, timing, per-prompt
CSV, plots) is rebuilt from the finished evaluations every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from paft_ext.benchmark_data.export import PrepareConfig, prepare
from paft_ext.configs.recipes import RECIPES, Recipe, training_config
from paft_ext.data_files import write_lines
from paft_ext.paths import REPO_ROOT, SHIPPED_POOLS
from paft_ext.pools.store import Prompt, write_pool
from paft_ext.tasks import TaskSpec, get_task

from .presets import METHODS, NEEDS_ENDPOINT, TRAINED, Preset
from .select_stages import SelectionStages
from .top_accuracy import Generate, opencompass_generator

GeneratorFactory = Callable[[str, str], Generate]  # (model, tokenizer) -> generate
REPORT_ONLY = {"reachable_top"}  # preset fields that change only the report: a resumed run may differ in them


class RunMismatch(SystemExit):
    """A work folder holds a run of different settings; resuming it would mix two experiments."""


class Runner(SelectionStages):
    """One Table 1 run in ``work`` (heavy outputs: data, adapters, OpenCompass folders)."""

    def __init__(self, preset: Preset, work: Path, *, pool_root: Path = SHIPPED_POOLS,
                 generator_factory: GeneratorFactory | None = None, train_overrides: dict[str, Any] | None = None,
                 log: Callable[[str], None] = print, strict_sizes: bool = False,
                 batprompt_config: Path | None = None, shared_from: Path | None = None,
                 after_stage: Callable[[str], None] | None = None) -> None:
        self.preset, self.work, self.pool_root, self.log = preset, work.resolve(), pool_root.resolve(), log
        # another seed of a multi-seed run: the data, chat tokenizer, prompt selections and the base model's
        # evaluation are that run's (they do not depend on the training seed); only the trainings are this run's
        self.shared = shared_from.resolve() if shared_from is not None else self.work
        self.after_stage = after_stage  # called with a stage's name once it is finished (e.g. to commit results)
        self.batprompt_config = batprompt_config  # None: BATprompt is not run (it needs an LLM endpoint)
        self.train_overrides = dict(train_overrides or {})  # extra LLaMA-Factory keys for all three trainings
        self.strict_sizes = strict_sizes  # refuse a data root smaller than the preset asks (else: warn, record)
        self.generator_factory = generator_factory or self._opencompass_generator
        self.recipe = RECIPES[preset.recipe]
        self.tasks = [get_task(name) for name in preset.tasks]

    # -- bookkeeping -------------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        if self.preset.model:
            return self.preset.model
        if self.recipe.name == "cpu":
            from paft_ext import default_model

            return str(default_model.ensure())
        return self.recipe.model

    def stage_file(self, stage: str) -> Path:
        return stage_file(self.work, stage)

    def finished(self, stage: str) -> dict[str, Any] | None:
        return stage_record(self.shared if shared_stage(stage) else self.work, stage)

    def _stage(self, stage: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        done = self.finished(stage)
        if done is not None:
            self.log(f"[table1] {stage}: finished earlier ({done['seconds']:.0f} s), skipped")
            return done
        self.log(f"[table1] {stage}: running")
        start = time.perf_counter()
        info = body()
        info["seconds"] = round(time.perf_counter() - start, 2)
        info["commit"] = git_commit()  # a resumed run can span commits: each stage says which code produced it
        write_lines(self.stage_file(stage), [json.dumps(info, indent=1)])
        self.log(f"[table1] {stage}: done in {info['seconds']:.0f} s")
        if self.after_stage is not None:
            self.after_stage(stage)
        return info

    def check_or_record(self, command: list[str]) -> None:
        """Write ``run.json``, or refuse to resume a work folder made with other settings: other preset values, or
        other effective training settings (the recipe's YAML keys with the run's overrides on top, so a recipe whose
        default later became what a run overrode is the same run). A ``run.json`` without recipe values predates
        their check and is compared on its overrides alone."""
        path = self.work / "run.json"
        mine = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.preset).items()}
        recipe_values = json.loads(json.dumps(asdict(self.recipe)))
        if path.is_file():
            recorded = json.loads(path.read_text())
            theirs = dict(recorded["preset"])
            overrides = recorded.get("train_overrides", {})
            if "recipe_values" in recorded:
                mine["training"] = self.effective_training(recipe_values, self.train_overrides)
                theirs["training"] = self.effective_training(recorded["recipe_values"], overrides)
            else:
                mine["training"], theirs["training"] = self.train_overrides, overrides
            differ = sorted(k for k in (set(mine) | set(theirs)) - REPORT_ONLY if mine.get(k) != theirs.get(k))
            if differ:
                raise RunMismatch(f"{path}: this work folder holds a run with other settings ({', '.join(differ)}); "
                                  "use another --work-dir or --fresh")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_lines(path, [json.dumps({"preset": mine, "train_overrides": self.train_overrides,
                                       "recipe_values": recipe_values, "command": command,
                                       "commit": git_commit(), "started": time.strftime("%Y-%m-%d %H:%M:%S")},
                                      indent=1)])

    def effective_training(self, recipe_values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        """Per task, the LLaMA-Factory keys a recipe (as recorded) and overrides train with (paths left out)."""
        recipe = Recipe(**recipe_values)
        out = {}
        for task in self.tasks:
            config = {k: v for k, v in training_config(task, recipe, "paft").items()
                      if k not in ("model_name_or_path", "dataset_dir", "output_dir", "paft_pool")}
            out[task.name] = {**config, **overrides}
        return out

    def methods(self, names: tuple[str, ...] = METHODS) -> tuple[str, ...]:
        """The methods of ``names`` this run can run: BATprompt only with an endpoint config; the base model only in
        the run that owns the shared stages."""
        return tuple(m for m in names if (m not in NEEDS_ENDPOINT or self.batprompt_config is not None)
                     and (m != "base" or self.shared == self.work))

    # -- stages ------------------------------------------------------------------------------------------------
    def run(self, command: list[str]) -> None:
        self.check_or_record(command)
        if self.shared != self.work:
            missing = [s for s in self.shared_stages() if self.finished(s) is None]
            if missing:
                raise RunMismatch(f"{self.shared}: the first seed's run has not finished {', '.join(missing)}; run "
                                  f"it first (its data, selections and base evaluation are shared)")
        self._stage("prepare", self.prepare)
        self._stage("chat_tokenizer", self.chat_tokenizer)
        for task in self.tasks:
            self._stage(f"select_{task.name}", lambda task=task: self.select(task))
            self._stage(f"select_zopo_{task.name}", lambda task=task: self.select_zopo(task))
            if self.batprompt_config is not None:
                self._stage(f"select_batprompt_{task.name}", lambda task=task: self.select_batprompt(task))
        for task in self.tasks:
            for method in self.methods(TRAINED):
                self._stage(f"train_{task.name}_{method}", lambda task=task, method=method: self.train(task, method))
        for task in self.tasks:
            for method in self.methods():
                self._stage(f"eval_{task.name}_{method}", lambda task=task, method=method: self.evaluate(task, method))

    def shared_stages(self) -> list[str]:
        """The stages every seed of a run shares (finished by the first seed's runner)."""
        stages = ["prepare", "chat_tokenizer"]
        for task in self.tasks:
            stages += [f"select_{task.name}", f"select_zopo_{task.name}"]
            if self.batprompt_config is not None:
                stages.append(f"select_batprompt_{task.name}")
        return stages

    def prepare(self) -> dict[str, Any]:
        p = self.preset
        manifest = prepare(self.tasks, self.shared / "data",
                           PrepareConfig(p.train_samples, p.eval_questions, p.seed, strict_sizes=self.strict_sizes))
        for short in manifest["short"]:
            self.log(f"[table1] warning: the data root holds less than the preset asks: {short}")
        return manifest

    def chat_tokenizer(self) -> dict[str, Any]:
        """The tokenizer with the chat template LLaMA-Factory trains with (and saves into every adapter), so the
        TopAccuracy scoring and the base model see the framing the adapters were trained and are evaluated with."""
        from llamafactory.data import get_template_and_fix_tokenizer
        from llamafactory.hparams import get_infer_args
        from llamafactory.model import load_tokenizer

        args = {"model_name_or_path": self.model, "template": self.recipe.template}
        if "default_system" in self.recipe.extra:
            args["default_system"] = self.recipe.extra["default_system"]
        model_args, data_args, _, _ = get_infer_args(args)
        tokenizer = load_tokenizer(model_args)["tokenizer"]
        get_template_and_fix_tokenizer(tokenizer, data_args)
        tokenizer.save_pretrained(self.shared / "chat_tokenizer")
        return {"template": self.recipe.template, "path": str(self.shared / "chat_tokenizer")}

    def _opencompass_generator(self, model: str, tokenizer: str) -> Generate:
        return opencompass_generator(model, tokenizer, max_out_len=self.preset.max_out_len,
                                     num_gpus=self.preset.num_gpus)

    def pool(self, task: TaskSpec, split: str = "train") -> Path:
        return self.pool_root / task.pool / f"{split}.jsonl"

    def training_pool(self, task: TaskSpec, method: str) -> Path:
        if method == "paft":
            return self.pool(task)
        if method == "fixed":
            prompt = Prompt("user-specified", task.baseline_prompt, f"the task's user-specified prompt ({task.name})")
        else:
            stage, title = {"topacc": (f"select_{task.name}", "TopAccuracy"),
                            "zopo": (f"select_zopo_{task.name}", "ZOPO"),
                            "batprompt": (f"select_batprompt_{task.name}", "BATprompt")}[method]
            chosen = self.finished(stage)
            if chosen is None:
                raise RuntimeError(f"{title} prompt of {task.name} not selected yet")
            origin = chosen.get("source", f"{title} of {self.pool(task)}")
            prompt = Prompt(chosen["prompt_id"], chosen["text"],
                            f"{origin} ({chosen['accuracy']:.1f}% on {chosen['records']} training records, base "
                            f"model)")
        path = self.work / "pools" / task.name / f"{method}.jsonl"
        write_pool(path, [prompt])
        return path

    def training_yaml(self, task: TaskSpec, method: str) -> dict[str, Any]:
        p = self.preset
        config = training_config(task, self.recipe, "paft")
        config.update({"model_name_or_path": self.model, "dataset_dir": str(self.shared / "data" / "llamafactory"),
                       "max_samples": p.train_samples, "output_dir": str(self.adapter(task, method)),
                       "num_train_epochs": float(p.epochs), "seed": p.seed, "paft_seed": p.seed,
                       "paft_pool": str(self.training_pool(task, method)), "paft_window_steps": p.window_steps,
                       "overwrite_output_dir": True})  # a stage reruns its training from the start
        config.update(self.train_overrides)
        return config

    def adapter(self, task: TaskSpec, method: str) -> Path:
        return self.work / "train" / task.name / method

    def train(self, task: TaskSpec, method: str) -> dict[str, Any]:
        config = self.training_yaml(task, method)
        path = self.work / "yaml" / f"{task.name}_{method}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        cli = Path(sys.executable).parent / "llamafactory-cli"
        with self._log_file(f"train_{task.name}_{method}") as log:
            subprocess.run([str(cli), "train", str(path)], cwd=REPO_ROOT, check=True, stdout=log,
                           stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        out = self.adapter(task, method)
        results = json.loads((out / "train_results.json").read_text())
        state = json.loads((out / "trainer_state.json").read_text())
        return {"yaml": str(path), "train_runtime": results["train_runtime"], "train_loss": results["train_loss"],
                "global_step": state["global_step"]}

    def eval_settings(self, task: TaskSpec, method: str) -> dict[str, Any]:
        """The ``PAFT_EVAL_*`` settings (by lower-case name) of one method's OpenCompass run."""
        p = self.preset
        settings: dict[str, Any] = {"tasks": task.name, "model": self.model, "max_out_len": p.max_out_len,
                                    "batch_size": p.eval_batch_size, "num_gpus": p.num_gpus, "model_type": "chat",
                                    "pool_root": str(self.pool_root), "prompts": p.prompts or "",
                                    "prompt_sets": ",".join(p.prompt_sets)}
        if p.eval_dtype:
            settings["dtype"] = p.eval_dtype
        if method == "base":
            settings.update({"include_base": "1", "adapters": "", "tokenizer": str(self.shared / "chat_tokenizer")})
        else:
            settings.update({"include_base": "0", "adapters": f"{method}={self.adapter(task, method)}"})
        return settings

    def evaluate(self, task: TaskSpec, method: str) -> dict[str, Any]:
        import shutil

        from paft_ext.evaluation.launch import run_opencompass

        settings = self.eval_settings(task, method)
        work_dir = self.work / "eval" / task.name / method
        shutil.rmtree(work_dir, ignore_errors=True)  # an interrupted run's partial folder is not resumed
        with self._log_file(f"eval_{task.name}_{method}") as log:
            run = run_opencompass(settings, self.shared / "data" / "opencompass", work_dir, log=log)
        return {"opencompass_run": str(run)}

    def _log_file(self, name: str):
        path = self.work / "logs" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w")


def shared_stage(stage: str) -> bool:
    """Whether ``stage`` is one every seed of a run shares (see :attr:`Runner.shared`)."""
    return stage in ("prepare", "chat_tokenizer") or stage.startswith("select_")


def stage_file(work: Path, stage: str) -> Path:
    """Where a finished stage's record lives; its presence is what marks the stage finished."""
    return work / "stages" / f"{stage}.json"


def stage_record(work: Path, stage: str) -> dict[str, Any] | None:
    """The record of a finished stage of the run in ``work`` (None while unfinished)."""
    path = stage_file(work, stage)
    return json.loads(path.read_text()) if path.is_file() else None


def commit_folder(folder: Path, message: str) -> None:
    """Commit ``folder`` alone, in the git checkout that holds it (other changes in that tree stay uncommitted), so
    a run started from a worktree can write and commit its results in the main checkout; nothing staged, nothing
    committed. A stopped long run then loses at most its current stage."""
    folder = Path(folder).resolve()
    subprocess.run(["git", "add", "--", str(folder)], cwd=folder, check=True)
    if subprocess.run(["git", "diff", "--cached", "--quiet", "--", str(folder)], cwd=folder).returncode:
        subprocess.run(["git", "commit", "-q", "-m", message, "--", str(folder)], cwd=folder, check=True)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
