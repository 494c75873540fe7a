"""The GRPO YAMLs (``yaml/<task>/cpu_{paft,fixed}_grpo.yaml``, run by ``paft-ext rl``), generated like the SFT ones.

One recipe, ``cpu``: the embedded SmolLM2-135M-Instruct on CPU from the base model (no SFT first), LoRA r16 on all
linear layers, 16 completions per step (4 prompts × 4 generations), completions of at most 4 tokens (an option
letter; evaluation reads 4 as well), 100 optimizer steps over 400 records (one epoch), K = 4 steps per window.
Learning rate and temperature come from two short pilots scored on SST-2's validation prompts
(``results/rl_grpo_sst2/README.md``): lr 5e-4 at temperature 1.0 collapsed to near-zero entropy (0.005–0.05 by
step 23), lr 1e-4 at 1.2 kept 1.5–4 nats for 36 steps. Neither, nor the 100-step run, learned SST-2 from the base
model (both collapse to one letter; see the results README).
``fixed`` is the same run with a one-prompt pool holding the task's user-specified prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paft_ext import default_model
from paft_ext.benchmark_data.export import lf_dataset_name
from paft_ext.tasks import TaskSpec

from .recipes import DATASET_DIR, pool_path

GRPO_VARIANTS = ("paft", "fixed")


@dataclass(frozen=True)
class GrpoRecipe:
    name: str
    model: str
    lora_rank: int
    lora_alpha: int
    learning_rate: float
    batch_size: int
    num_generations: int
    max_completion_length: int
    train_samples: int
    epochs: int
    window_steps: int
    temperature: float


GRPO_RECIPES = {
    "cpu": GrpoRecipe(name="cpu", model=f".cache/models/{default_model.NAME}", lora_rank=16, lora_alpha=32,
                      learning_rate=1e-4, batch_size=16, num_generations=4, max_completion_length=4,
                      train_samples=400, epochs=1, window_steps=4, temperature=1.2),
}


def grpo_config(task: TaskSpec, recipe: GrpoRecipe, variant: str) -> dict[str, Any]:
    """The ``paft-ext rl`` YAML content for ``task``: ``paft`` (train pool) or ``fixed`` (user-specified prompt)."""
    if variant not in GRPO_VARIANTS:
        raise ValueError(f"unknown GRPO variant {variant!r}; known: {', '.join(GRPO_VARIANTS)}")
    return {
        "model_name_or_path": recipe.model, "stage": "grpo", "dataset_dir": DATASET_DIR,
        "dataset": lf_dataset_name(task, paft=True), "max_samples": recipe.train_samples,
        "output_dir": f"saves/{task.name}/{recipe.name}_{variant}_grpo",
        "finetuning_type": "lora", "lora_rank": recipe.lora_rank, "lora_alpha": recipe.lora_alpha,
        "lora_dropout": 0.0, "lora_target": "all",
        "per_device_train_batch_size": recipe.batch_size, "gradient_accumulation_steps": 1,
        "num_generations": recipe.num_generations, "max_completion_length": recipe.max_completion_length,
        "temperature": recipe.temperature, "beta": 0.0, "loss_type": "dapo", "answer_rule": "strict",
        "format_reward_weight": 0.0, "learning_rate": recipe.learning_rate, "lr_scheduler_type": "constant",
        "num_train_epochs": recipe.epochs, "seed": 42, "logging_steps": 1, "save_steps": 50, "use_cpu": True,
        "bf16": False, "report_to": "none",
        "paft_pool": pool_path(task, "train") if variant == "paft" else "fixed",
        "paft_window_steps": recipe.window_steps, "paft_sampling": "uniform",
    }
