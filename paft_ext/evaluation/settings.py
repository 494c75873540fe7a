"""What an evaluation run covers, read from ``PAFT_EVAL_*`` environment variables or one small YAML settings file
(``PAFT_EVAL_SETTINGS=path``; environment variables win). OpenCompass configs stay plain files that read these."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from paft_ext import default_model
from paft_ext.core.keys import unknown_keys
from paft_ext.data_files import read_yaml
from paft_ext.paths import SHIPPED_POOLS
from paft_ext.tasks import TASKS

from .prompt_sets import parse_prompt_sets

MC_TASKS = ("hellaswag", "piqa", "winogrande", "race_middle", "race_high")
BACKENDS = ("hf", "vllm", "lmdeploy")  # model configs: run_config.py (hf), backends.py (the GPU engines)
# Model names become OpenCompass abbreviations: folder names under the work dir and text that mmengine expands
# (``{{$VAR}}`` reads the environment), so only plain names pass.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def adapter_problem(backend: str, adapters: dict[str, str]) -> str | None:
    """Why ``backend`` cannot evaluate these adapters (None: it can)."""
    if backend != "lmdeploy" or not adapters:
        return None
    abbr, adapter = next(iter(adapters.items()))
    return (f"the lmdeploy backend cannot apply the LoRA adapter {abbr}={adapter} (OpenCompass's "
            f"TurboMindModelwithChatTemplate takes no adapter); merge it first (`llamafactory-cli export` with "
            f"adapter_name_or_path and export_dir) and evaluate the merged folder with --model, or use --backend "
            f"vllm or hf")


@dataclass(frozen=True)
class EvalSettings:
    tasks: tuple[str, ...] = MC_TASKS
    prompts: int | None = None  # the first N test prompts of each pool (None: all)
    questions: int | None = None  # the first N questions of the prepared file (same for every prompt/model)
    pool_root: str = str(SHIPPED_POOLS)
    prompt_sets: tuple[str, ...] = ("test",)  # test | test_indep | test_llm | seen_probe | <path>.jsonl
    model: str = str(default_model.model_dir())
    model_type: str = "chat"  # chat (chat template) | base (raw prompt, the paper's protocol) | api
    backend: str = "hf"  # hf (transformers, CPU or GPU) | vllm (GPU, LoRA adapters) | lmdeploy (GPU, no adapters)
    dtype: str | None = None  # hf weights: None = float32 on CPU, the checkpoint's on GPUs; float32 | bfloat16
    model_abbr: str = "base"
    tokenizer: str | None = None  # chat template for the base model (default: the first adapter's, else the model's)
    include_base: bool = True
    adapters: dict[str, str] = field(default_factory=dict)  # abbr -> LLaMA-Factory LoRA folder
    allow_base_mismatch: bool = False  # evaluate an adapter whose recorded base model is not `model` anyway
    api_base_url: str = "http://127.0.0.1:8000/v1"
    api_tokenizer: str = str(default_model.model_dir())  # local tokenizer to count API tokens (no tiktoken download)
    max_out_len: int = 256
    batch_size: int = 8
    eval_details: bool = True  # OpenCompass --dump-eval-details: the report reads its per-question verdicts
    length_sorted: bool = False  # hf: micro-batches of similar prompt length (evaluation.sorted_batches)
    merge_adapters: bool = True  # hf: merge each LoRA adapter into the weights (in float32) before generating
    max_seq_len: int = 2048
    num_gpus: int = 0
    workers: int = 1
    eval_workers: int = 1

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"PAFT_EVAL_TASKS: unknown task(s) {unknown}; known: {', '.join(TASKS)}")
        if self.model_type not in ("chat", "base", "api"):
            raise ValueError(f"PAFT_EVAL_MODEL_TYPE must be chat, base or api, got {self.model_type!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"PAFT_EVAL_BACKEND must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend != "hf" and self.model_type != "chat":
            raise ValueError(f"PAFT_EVAL_BACKEND={self.backend} serves chat models only (model_type chat), got "
                             f"{self.model_type!r}")
        if self.dtype not in (None, "float32", "bfloat16"):
            raise ValueError(f"PAFT_EVAL_DTYPE must be float32 or bfloat16, got {self.dtype!r}")
        if self.length_sorted and (self.backend != "hf" or self.model_type == "api"):
            raise ValueError("PAFT_EVAL_LENGTH_SORTED: sorts the hf backend's batches; vllm and lmdeploy schedule "
                             "requests themselves and an API model gets one request per question")
        names = [("PAFT_EVAL_MODEL_ABBR", self.model_abbr)] + [("PAFT_EVAL_ADAPTERS", a) for a in self.adapters]
        for key, name in names:
            if not MODEL_NAME.fullmatch(name):
                raise ValueError(f"{key}: model name {name!r} must be letters, digits, '_' or '-' (at most 64, no "
                                 "path separators or braces): it names folders and OpenCompass expands braces")
        problem = adapter_problem(self.backend, self.adapters)
        if problem:
            raise ValueError(f"PAFT_EVAL_BACKEND: {problem}")
        parse_prompt_sets(self.prompt_sets)  # raises, naming the bad entry
        if not self.include_base and not self.adapters and self.model_type != "api":
            raise ValueError("nothing to evaluate: PAFT_EVAL_INCLUDE_BASE=0 and no PAFT_EVAL_ADAPTERS")


def _parse(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return tuple(value) if name in ("tasks", "prompt_sets") else value
    if name in ("tasks", "prompt_sets"):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if name == "adapters":  # "paft=saves/x,baseline=saves/y"
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"PAFT_EVAL_ADAPTERS must be abbr=path[,abbr=path], got {value!r}")
        return {abbr.strip(): path.strip() for abbr, path in pairs}
    if name in ("include_base", "allow_base_mismatch", "length_sorted", "eval_details", "merge_adapters"):
        return value.strip().lower() in ("1", "true", "yes")
    if name in ("prompts", "questions", "max_out_len", "batch_size", "max_seq_len", "num_gpus", "workers",
                "eval_workers"):
        return int(value) if value.strip() not in ("", "none", "all") else None
    return value


def load_settings(env: dict[str, str] | None = None) -> EvalSettings:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if env.get("PAFT_EVAL_SETTINGS"):
        path = Path(env["PAFT_EVAL_SETTINGS"])
        if not path.is_file():
            raise ValueError(f"PAFT_EVAL_SETTINGS={path}: file not found")
        raw = read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
        problem = unknown_keys(raw, (f.name for f in fields(EvalSettings)))
        if problem:
            raise ValueError(f"{path}: {problem}")
        values.update({k: _parse(k, v) for k, v in raw.items()})
    for f in fields(EvalSettings):
        key = f"PAFT_EVAL_{f.name.upper()}"
        if key in env:
            values[f.name] = _parse(f.name, env[key])
    return EvalSettings(**values)
