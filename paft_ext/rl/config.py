"""The YAML of a PAFT GRPO run: LLaMA-Factory-style keys for model, LoRA and data, TRL's GRPO settings, and the
``paft_*`` keys of SFT, read into one small typed config before anything heavy is imported or loaded.

Every key is checked here (unknown keys, wrong types, values GRPO or PAFT cannot run with), so a bad YAML fails
in a second with the file and key named, never after a model has loaded.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml
from paft_ext.core.config import PaftConfig, PaftConfigError, build_config, split_paft_keys
from paft_ext.core.keys import unknown_keys
from paft_ext.core.sampling import STRATEGIES, get_strategy

FIXED_POOL = "fixed"  # paft_pool value: a one-prompt pool holding the task's user-specified prompt (the baseline)
ANSWER_RULES = ("strict", "opencompass")
# TRL's GRPO loss formulations (GRPOTrainer raises "Unknown loss type" only after the model has loaded); checked
# against the installed TRL by tests/test_rl_units.py
LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
TRL_CHECKED = "0.24.0"
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class RLConfigError(ValueError):
    """A bad key or value in a GRPO YAML; the message names the file and the key."""


@dataclass(frozen=True)
class GrpoRunConfig:
    """Everything but the ``paft_*`` keys. Names follow LLaMA-Factory (model, LoRA, data, trainer) and TRL's
    ``GRPOConfig`` (generation and loss); defaults are TRL's where it has one that runs on a CPU."""

    model_name_or_path: str
    dataset: str
    output_dir: str
    stage: str = "grpo"
    dataset_dir: str = "data"
    max_samples: int | None = None
    finetuning_type: str = "lora"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target: str = "all"
    default_system: str | None = None  # None: the chat template's own default system prompt (as evaluation uses)
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-5
    num_train_epochs: int = 1
    max_steps: int = -1
    lr_scheduler_type: str = "constant"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 42
    logging_steps: int = 1
    save_steps: int = 500
    save_total_limit: int | None = None
    num_generations: int = 4
    max_completion_length: int = 8
    max_prompt_length: int = 1024
    temperature: float = 1.0
    beta: float = 0.0
    epsilon: float = 0.2
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    answer_rule: str = "strict"  # which extraction scores correctness: the option letter as the answer, or OC's
    format_reward_weight: float = 0.0
    use_cpu: bool = False
    bf16: bool = False
    report_to: str = "none"

    def __post_init__(self) -> None:
        problems = []
        if self.stage != "grpo":
            problems.append(f"stage: {self.stage!r}; `paft-ext rl` runs stage grpo (SFT: llamafactory-cli train)")
        if self.finetuning_type != "lora":
            problems.append(f"finetuning_type: {self.finetuning_type!r}; only lora is supported")
        if self.num_generations < 2:
            problems.append(f"num_generations: {self.num_generations}; GRPO needs >= 2 completions per prompt to "
                            f"compute group advantages")
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs",
                     "max_completion_length", "max_prompt_length", "lora_rank", "logging_steps", "save_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: {getattr(self, name)}; must be >= 1")
        if self.max_samples is not None and self.max_samples < 1:
            problems.append(f"max_samples: {self.max_samples}; must be >= 1 (or absent for all rows)")
        if self.answer_rule not in ANSWER_RULES:
            problems.append(f"answer_rule: {self.answer_rule!r}; one of {', '.join(ANSWER_RULES)}")
        if self.format_reward_weight < 0:
            problems.append(f"format_reward_weight: {self.format_reward_weight}; must be >= 0")
        if self.loss_type not in LOSS_TYPES:
            problems.append(f"loss_type: {self.loss_type!r}; TRL {TRL_CHECKED} knows {', '.join(LOSS_TYPES)}")
        for name in ("learning_rate", "temperature"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}: {getattr(self, name)}; must be > 0")
        generation_batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if self.num_generations >= 2 and generation_batch % self.num_generations:
            problems.append(f"per_device_train_batch_size × gradient_accumulation_steps = {generation_batch} must be "
                            f"divisible by num_generations: {self.num_generations} (TRL groups whole prompts)")
        if problems:
            raise RLConfigError("; ".join(problems))


def _check_type(name: str, value: Any, hint: Any) -> Any:
    """``value`` if it has the annotated type, read as LLaMA-Factory's YAMLs are: ints are accepted for floats, a
    whole float for an int (``num_train_epochs: 3.0``), and a number that YAML 1.1 left a string (``1e-4``) for a
    float; bools are never numbers."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind in (str, bool) and isinstance(value, kind):
            return value
    names = " or ".join("null" if k is type(None) else k.__name__ for k in allowed)
    raise RLConfigError(f"{name} must be {names}, got {value!r}")


def parse_run(values: dict[str, Any], where: str = "config") -> tuple[GrpoRunConfig, PaftConfig]:
    """(run settings, PAFT settings) from a YAML mapping; every error names ``where`` and the key."""
    rest, paft_values = split_paft_keys(values)
    hints = typing.get_type_hints(GrpoRunConfig)
    known = {f.name for f in fields(GrpoRunConfig)}
    try:
        problem = unknown_keys(rest, known)
        if problem:
            raise RLConfigError(problem)
        missing = [f.name for f in fields(GrpoRunConfig) if f.name in ("model_name_or_path", "dataset", "output_dir")
                   and f.name not in rest]
        if missing:
            raise RLConfigError(f"missing required key(s) {', '.join(missing)}")
        run = GrpoRunConfig(**{k: _check_type(k, v, hints[k]) for k, v in rest.items()})
        if not paft_values:
            raise RLConfigError(f"paft_pool is required (the train pool, or {FIXED_POOL!r} for the fixed-prompt "
                                f"baseline)")
        paft = build_config(paft_values)
        if paft.window_unit != "step" or paft.eval_prompt != "instruction":
            raise RLConfigError("paft_window_unit and paft_eval_prompt are SFT options; a GRPO window is K optimizer "
                                "steps and the run has no evaluation set")
        if get_strategy(paft.sampling).sft_only:
            usable = ", ".join(name for name, s in STRATEGIES.items() if not s.sft_only)
            raise RLConfigError(f"paft_sampling: {paft.sampling} is an SFT option (it learns from the training "
                                f"loss); use {usable} with GRPO")
    except (RLConfigError, PaftConfigError, TypeError) as err:
        raise RLConfigError(f"{where}: {err}") from None
    return run, paft


def load_run(path: str | Path) -> tuple[GrpoRunConfig, PaftConfig]:
    """The two configs of a GRPO YAML file."""
    path = Path(path)
    if not path.is_file():
        raise RLConfigError(f"{path}: no such file")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise RLConfigError(f"{path}: not readable YAML ({err})") from None
    if not isinstance(values, dict):
        raise RLConfigError(f"{path}: a GRPO YAML is a mapping of keys, got {type(values).__name__}")
    return parse_run(values, str(path))
