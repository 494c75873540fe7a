"""Starting one OpenCompass run of ``opencompass_configs/eval_paft.py`` — shared by ``paft-ext eval`` and the
Table 1 runner, so both validate settings the same way and pass them the same way (``PAFT_EVAL_*`` variables)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO

from paft_ext.default_model import sha256_file
from paft_ext.paths import REPO_ROOT
from paft_ext.tasks import get_task

from .completeness import IncompleteRun, describe_missing, missing_predictions
from .prompt_sets import parse_prompt_sets
from .report import RUN_MANIFEST
from .settings import EvalSettings, load_settings


def run_opencompass(settings: dict[str, str], data: Path, work_dir: Path, *, workers: int = 1,
                    log: IO[str] | None = None, cwd: Path | None = None) -> Path:
    """Run OpenCompass with ``settings`` (``PAFT_EVAL_<NAME>`` values by lower-case name) on the prepared data
    ``data`` (``paft-ext prepare --out``/opencompass); returns the timestamped run folder. OpenCompass caches dataset
    sizes in ``<cwd>/.cache``; ``cwd`` keeps throw-away runs from sharing that cache."""
    env = opencompass_env(settings, data, workers, os.environ)
    resolved = load_settings(env)  # fail here, not inside OpenCompass, on bad settings
    check_backend(resolved)
    check_adapters(resolved)
    check_prompt_files(resolved)
    if not (Path(data) / "data").is_dir():
        raise SystemExit(f"paft-ext: error: {data}/data does not exist; run `paft-ext prepare` first")
    # The venv's entry point, found also when the venv is not activated.
    config = REPO_ROOT / "opencompass_configs" / "eval_paft.py"
    earlier = _runs(Path(work_dir))  # a run of this call must be a new folder, never an older run's predictions
    command = [str(Path(sys.executable).parent / "opencompass"), str(config), "-w", str(work_dir),
               "--dump-eval-details", str(resolved.eval_details)]
    if env.get("PAFT_EVAL_IN_PROCESS") == "1":
        # OpenCompass's --debug runs its inference and scoring tasks inside its own process instead of one freshly
        # imported subprocess each (~10 s apiece on 2 cores): same configs and results, for tests and debugging
        command.append("--debug")
    run_in_group(command, env=env, stdout=log, stderr=subprocess.STDOUT if log else None, cwd=cwd)
    new = [r for r in _runs(Path(work_dir)) if r not in earlier and (r / "predictions").is_dir()]
    if not new:
        raise IncompleteRun(f"paft-ext: error: {work_dir}: OpenCompass wrote no predictions in this run; see its "
                            f"logs under the newest folder of {work_dir}")
    run = new[-1]
    record_run(run, resolved)
    missing = missing_predictions(run, resolved)
    if missing:
        raise IncompleteRun(f"paft-ext: error: {describe_missing(run, missing)}")
    return run


def run_in_group(command: list[str], **kwargs) -> None:
    """Run ``command`` in a process group of its own and take the group down when this process is told to stop
    (SIGTERM, Ctrl-C): OpenCompass starts a worker of its own, and both would otherwise run on as orphans, writing
    into a run folder nobody reads. Raises CalledProcessError on a non-zero exit, SystemExit when stopped."""
    process = subprocess.Popen(command, start_new_session=True, **kwargs)

    def stop(signum: int, _frame) -> None:
        _stop_group(process)
        raise SystemExit(f"paft-ext: error: stopped by signal {signum}; OpenCompass and its workers were stopped too, "
                         f"and the run folder is incomplete")

    handled = (signal.SIGTERM, signal.SIGINT) if threading.current_thread() is threading.main_thread() else ()
    previous = {s: signal.signal(s, stop) for s in handled}
    try:
        code = process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if process.poll() is None:
            _stop_group(process)
    if code:
        raise subprocess.CalledProcessError(code, command)


def _stop_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _runs(work_dir: Path) -> list[Path]:
    """The timestamped run folders in ``work_dir``, oldest first."""
    return sorted(p for p in work_dir.iterdir() if p.is_dir()) if work_dir.is_dir() else []


def opencompass_env(settings: dict[str, str], data: Path, workers: int, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the OpenCompass process: the user's own (Hub access, thread count, offline mode are theirs
    to set), plus the run's settings and data folder; a thread count is only filled in when the user set none."""
    env = {**base, **{f"PAFT_EVAL_{k.upper()}": str(v) for k, v in settings.items()},
           "PAFT_EVAL_WORKERS": str(workers), "COMPASS_DATA_CACHE": str(Path(data).resolve())}
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    return env


def check_backend(settings: EvalSettings) -> None:
    """vLLM and LMDeploy need their package and a GPU; without them OpenCompass fails with a bare assertion."""
    if settings.backend == "hf":
        return
    import importlib.util

    import torch

    if importlib.util.find_spec(settings.backend) is None:
        raise SystemExit(f"paft-ext: error: --backend {settings.backend} needs the {settings.backend} package on a GPU "
                         f"machine (`pip install {settings.backend}`); on a CPU use --backend hf")
    if not torch.cuda.is_available():
        raise SystemExit(f"paft-ext: error: --backend {settings.backend} needs a GPU and torch sees none; on a CPU "
                         "use --backend hf")


def check_prompt_files(settings: EvalSettings) -> None:
    """Every prompt file of the run exists, loads, and holds option orders and symbols of its task's letters —
    checked here, in one line, instead of as a traceback inside OpenCompass's config."""
    from paft_ext.pools.option_order import check_variant
    from paft_ext.pools.store import load_pool

    for name in settings.tasks:
        task = get_task(name)
        for prompt_set in parse_prompt_sets(settings.prompt_sets):
            path = prompt_set.file(settings.pool_root, task)
            if not path.is_file():
                raise SystemExit(f"paft-ext: error: prompt set {prompt_set.name!r} of {name}: {path} does not exist")
            for prompt in load_pool(path, task.fields):
                if prompt.option_order or prompt.symbols:
                    check_variant(prompt, task.choices, f"{path}: prompt {prompt.id!r}")


def check_adapters(settings: EvalSettings) -> None:
    """Refuse (before OpenCompass starts) an adapter trained on another base model, unless allowed."""
    from .adapter_check import base_mismatch

    for abbr, adapter in settings.adapters.items():
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise SystemExit(f"paft-ext: error: adapter {abbr}={adapter} has no adapter_config.json")
        why = base_mismatch(adapter, settings.model)
        if why and not settings.allow_base_mismatch:
            raise SystemExit(f"paft-ext: error: adapter {abbr}={adapter} does not belong on {settings.model}: {why}. "
                             "Pass --model with its base model, or --allow-base-mismatch to evaluate it anyway")
        if why:
            print(f"paft-ext: warning: adapter {abbr}: {why} (evaluated anyway: --allow-base-mismatch)")


def record_run(run: Path, settings: EvalSettings) -> None:
    """``<run>/paft_eval.json``: the settings and the exact prompt files (with sha256) the run evaluated, so the
    report labels prompts from those files and not from whatever the shipped pools hold later."""
    files = {task: {name: {"path": str(path), "sha256": sha256_file(path)}
                    for name, path in ((s.name, s.file(settings.pool_root, get_task(task)))
                                       for s in parse_prompt_sets(settings.prompt_sets))}
             for task in settings.tasks}
    record = {"pool_root": str(Path(settings.pool_root).resolve()), "prompt_sets": list(settings.prompt_sets),
              "prompts": settings.prompts, "files": files, "settings": asdict(settings),
              # what every dataset of the run was generated with (expand sets the inferencer's length per dataset)
              "generation": {"max_out_len": settings.max_out_len, "batch_size": settings.batch_size,
                             "length_sorted": settings.length_sorted, "merge_adapters": settings.merge_adapters,
                             "do_sample": False, "max_seq_len": settings.max_seq_len}}
    (run / RUN_MANIFEST).write_text(json.dumps(record, indent=1, default=str) + "\n")
