"""Typed training recipes and the YAMLs generated from them (one per task × recipe × variant, never hand-copied).

Two recipes:
* ``cpu`` — the embedded SmolLM2-135M-Instruct on CPU: 400 records × T=3 at batch 4 = 300 optimizer steps, 10–20
  minutes per run on 2 cores. The paper's LoRA (r8 on q/v, lr 1e-4) teaches this small model the answer format but
  not the task (``../shared/design/default_model.md``), so it uses r16 on all linear layers at lr 2e-3, and the
  ≥ 300 steps the learnability pilot (``scripts/pilot_learnability.py``) trains with.
* ``paper`` — the paper's GPU setting for Meta-Llama-3-8B: LoRA r8/α16 on q_proj,v_proj, lr 1e-4 cosine, warmup 0.1,
  cutoff 1024, 20,000 samples, batch 1 × grad-accum 8, T=3 epochs (K=4 for PAFT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paft_ext import default_model
from paft_ext.benchmark_data.export import lf_dataset_name
from paft_ext.tasks import TaskSpec

# Where `paft-ext prepare` writes LLaMA-Factory files by default (relative to the repository root, git-ignored).
DATASET_DIR = ".cache/data/llamafactory"
# baseline: the fixed prompt; paft: prompts drawn from the train pool; structure: paft plus option order, option
# symbols and in-context examples drawn per window (paft_ext.core.structure; choice tasks only)
VARIANTS = ("baseline", "paft", "structure")


def variants_for(task: TaskSpec, pool: bool = True) -> tuple[str, ...]:
    """The variants generated for ``task``: ``paft`` needs a pool (``pool``), ``structure`` also options."""
    return tuple(v for v in VARIANTS if v == "baseline" or (pool and (v == "paft" or task.options)))


def structure_keys(task: TaskSpec) -> dict[str, Any]:
    """The structure draws of the ``structure`` variant: any option order, the options labelled by the task's
    letters, digits or lower-case letters, and 0–2 solved training records before each row."""
    n = len(task.choices)
    return {"paft_option_order": True, "paft_option_symbols": [task.choices, "123456789"[:n], task.choices.lower()],
            "paft_max_shots": 2}


def structure_training_keys(task: TaskSpec, recipe: Recipe) -> dict[str, Any]:
    """Everything the ``structure`` variant adds to the PAFT YAML under ``recipe``: the draws and the recipe's
    :attr:`Recipe.structure_extra`."""
    return {**structure_keys(task), **recipe.structure_extra}


@dataclass(frozen=True)
class Recipe:
    """Everything a training YAML needs besides the task and the prompt keys."""

    name: str
    model: str
    template: str
    lora_rank: int
    lora_alpha: int
    lora_target: str
    learning_rate: float
    batch_size: int
    grad_accum: int
    epochs: int
    window_steps: int
    train_samples: int | None
    cutoff_len: int = 1024
    warmup_ratio: float = 0.1
    extra: dict[str, Any] = field(default_factory=dict)
    # keys the ``structure`` variant trains with beside its draws (and over ``extra``): what a model needs to learn
    # the task under the draws at all
    structure_extra: dict[str, Any] = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {
    "cpu": Recipe(
        name="cpu",
        model=f".cache/models/{default_model.NAME}",
        template=default_model.LLAMAFACTORY_TEMPLATE,
        lora_rank=16,
        lora_alpha=32,
        lora_target="all",
        # the best setting measured by scripts/select_cpu_recipe.py (results/recipe_cpu, 3 seeds each): lr 1e-3 with
        # bf16 training (below) — no collapse, sd over seeds fixed 0.53 / PAFT 1.88, within the 1.5 bound once the
        # 100-question noise floor is removed; 2e-3 and 5e-4 collapsed a seed, fp32 at 1e-3 spread fixed by 3.4
        learning_rate=1e-3,
        batch_size=4,
        grad_accum=1,
        epochs=3,
        window_steps=4,
        train_samples=400,
        extra={
            # LLaMA-Factory's smollm2 default system ends in '.', the tokenizer's chat template does not; use the
            # tokenizer's so training and OpenCompass (chat template) evaluation see byte-identical framing.
            "default_system": "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
            "use_cpu": True,
            "bf16": True,  # 16 % faster per step on this CPU (AVX512-BF16), and the steadier setting over seeds
            "disable_gradient_checkpointing": True,
            "logging_steps": 5,
            "save_steps": 1000,
            "dataloader_num_workers": 0,
        },
        # The structure pilots (results/structure/sst2/pilot.md, seed 0): with every window drawing structure the
        # model stays at chance in 300 steps and in 900; with half the windows on the fixed prompt and shipped
        # structure it learns in 900 steps (shipped 78.8, option order 74.8) but not in 300 (72.0 / 29.6), and
        # pool prompts in those windows instead of the fixed one stay at chance. Spread over training those windows
        # left seed 1 answering by letter position and seed 2 half-trained (results/structure/sst2/README.md); placed
        # early (paft_canonical_decay) all three seeds read the options on validation prompts (pilot_valid.md)
        structure_extra={"num_train_epochs": 9.0, "paft_canonical_ratio": 0.5, "paft_canonical_decay": True},
    ),
    "paper": Recipe(
        name="paper",
        model="meta-llama/Meta-Llama-3-8B",
        # A base model: plain "Human: …\nAssistant:" framing with an EOS after the answer (the authors' template is
        # unknown); OpenCompass evaluation must use the same framing.
        template="default",
        lora_rank=8,
        lora_alpha=16,
        lora_target="q_proj,v_proj",
        learning_rate=1e-4,
        batch_size=1,
        grad_accum=8,
        epochs=3,
        window_steps=4,
        train_samples=20000,
        extra={"fp16": True, "logging_steps": 10, "save_steps": 500, "val_size": 0.1, "eval_strategy": "steps",
               "eval_steps": 500, "per_device_eval_batch_size": 1},
    ),
}


def training_config(task: TaskSpec, recipe: Recipe, variant: str) -> dict[str, Any]:
    """The LLaMA-Factory YAML content for ``task`` under ``recipe``; ``variant`` is ``baseline`` (the fixed
    user-specified prompt), ``paft`` (prompts drawn from the train pool) or ``structure`` (``paft`` with structure
    draws).

    A task with a pool trains its baseline through the PAFT hook too, every window keeping the dataset's own fixed
    prompt (``paft_canonical_ratio: 1.0``): the rows are byte-identical to the stock ``<task>_train`` entry's
    (tests/test_data_paths.py), and the row order, steps and seed are the PAFT YAML's, so the two trainings differ in
    the prompts alone. Without a pool the baseline is the stock entry with LLaMA-Factory's own sampler."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    config: dict[str, Any] = {
        "model_name_or_path": recipe.model,
        "trust_remote_code": False,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": recipe.lora_rank,
        "lora_alpha": recipe.lora_alpha,
        "lora_dropout": 0.0,
        "lora_target": recipe.lora_target,
        "dataset_dir": DATASET_DIR,
        "dataset": lf_dataset_name(task, paft=variant != "baseline" or task.pool_shipped),
        "template": recipe.template,
        "cutoff_len": recipe.cutoff_len,
        # The prepared train file is in seeded random order, so the first N rows are a seeded random subset.
        "max_samples": recipe.train_samples,
        "overwrite_cache": True,
        "preprocessing_num_workers": 1,
        "output_dir": f"saves/{task.name}/{recipe.name}_{variant}",
        # Resume-safe: a rerun continues from the last checkpoint in output_dir and LLaMA-Factory keeps its trainer
        # logs (with true it deletes them); a finished run's folder must be removed or renamed before training anew.
        "overwrite_output_dir": False,
        "plot_loss": True,
        "report_to": "none",
        "per_device_train_batch_size": recipe.batch_size,
        "gradient_accumulation_steps": recipe.grad_accum,
        "learning_rate": recipe.learning_rate,
        "num_train_epochs": float(recipe.epochs),
        "lr_scheduler_type": "cosine",
        "warmup_ratio": recipe.warmup_ratio,
        "seed": 42,
    }
    config.update(recipe.extra)
    if variant != "baseline" or task.pool_shipped:
        # PAFT shuffles every epoch itself (seeded, per window); the trainer must keep its order.
        config.update({"disable_shuffling": True, "paft_pool": pool_path(task, "train"),
                       "paft_window_steps": recipe.window_steps, "paft_sampling": "uniform",
                       "paft_eval_prompt": "instruction"})
    if variant == "baseline" and task.pool_shipped:
        config["paft_canonical_ratio"] = 1.0  # every window: the fixed prompt, in the PAFT YAML's order
    if variant == "structure":
        if not task.options:
            raise ValueError(f"task {task.name} has no options: no structure variant")
        config.update(structure_training_keys(task, recipe))
    return config


def pool_path(task: TaskSpec, split: str) -> str:
    """The pool file of ``task``: shipped ones relative to the repository root, a task file's own where it is."""
    return f"{task.pool_dir}/{split}.jsonl" if task.pool_dir else f"data/prompts/{task.pool}/{split}.jsonl"
