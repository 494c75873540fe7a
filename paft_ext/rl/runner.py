"""``paft-ext rl <yaml>``: GRPO (TRL's ``GRPOTrainer``, LoRA through peft) whose prompt template is drawn from the
PAFT train pool, one template per window of K optimizer steps, new draws every epoch.

The SFT hook's guarantees carry over because the same materialised schedule is used: T seeded permutations of the
rows laid end to end, each position rendered with its window's template before training, and TRL's sampler kept
in order (``shuffle_dataset: false``). TRL's ``RepeatSampler`` turns each position into one group of
``num_generations`` completions, and one optimizer step consumes ``generation batch / num_generations`` positions,
so a window of K steps is a contiguous block of positions and every completion of a group sees the same rendered
prompt. The SFT callback checks the loader, guards resumes against another schedule, writes ``paft_schedule.json``
and ``paft_state.json`` in checkpoints, and with ``paft_trace`` decodes the ``input_ids`` every training forward
receives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paft_ext.core.artefacts import write_pending_schedule
from paft_ext.core.callback import PaftCallback
from paft_ext.core.config import PaftConfig
from paft_ext.core.curriculum import closeness_order
from paft_ext.core.log import get_logger
from paft_ext.core.run_state import RunState
from paft_ext.core.sampling import get_strategy
from paft_ext.core.schedule import Geometry, Schedule, ScheduleSpec, build_schedule
from paft_ext.core.structure import warn_letterless, warn_unlisted
from paft_ext.pools.option_symbols import StructureError
from paft_ext.pools.safety import tokenizer_special_tokens
from paft_ext.pools.store import load_pool, pool_digest

from .config import FIXED_POOL, GrpoRunConfig, RLConfigError, load_run
from .data import dataset_task, fixed_pool, grpo_rows, read_rows
from .rewards import reward_functions, reward_weights

logger = get_logger("paft_ext")
RUN_FILE = "paft_rl_run.json"


def _grpo_args(run: GrpoRunConfig) -> Any:
    from .trl_compat import grpo_classes

    return grpo_classes()[0](
        output_dir=run.output_dir, per_device_train_batch_size=run.per_device_train_batch_size,
        gradient_accumulation_steps=run.gradient_accumulation_steps, learning_rate=run.learning_rate,
        num_train_epochs=1,
        lr_scheduler_type=run.lr_scheduler_type, warmup_ratio=run.warmup_ratio, weight_decay=run.weight_decay,
        max_grad_norm=run.max_grad_norm, seed=run.seed, data_seed=run.seed, logging_steps=run.logging_steps,
        save_steps=run.save_steps, save_total_limit=run.save_total_limit, num_generations=run.num_generations,
        max_completion_length=run.max_completion_length, max_prompt_length=run.max_prompt_length,
        temperature=run.temperature, beta=run.beta, epsilon=run.epsilon, loss_type=run.loss_type,
        scale_rewards=run.scale_rewards, reward_weights=reward_weights(run.format_reward_weight),
        shuffle_dataset=False, use_cpu=run.use_cpu, bf16=run.bf16, report_to=run.report_to,
        dataloader_num_workers=0,
        gradient_checkpointing=False, log_completions=False,
    )


def prompts_per_step(args: Any) -> int:
    """Distinct prompts (groups) one optimizer step consumes; refuses TRL settings under which a step's groups
    would not be one contiguous block of the schedule."""
    if args.steps_per_generation != args.gradient_accumulation_steps or args.num_iterations != 1:
        raise RLConfigError("PAFT GRPO needs one generation per optimizer step (steps_per_generation = "
                            "gradient_accumulation_steps, num_iterations = 1)")
    return args.generation_batch_size // args.num_generations


def output_state(output_dir: str) -> str | None:
    """The checkpoint to resume from (None: a fresh run); a finished run in ``output_dir`` is never overwritten."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(output_dir)
    if (folder / "adapter_config.json").is_file():
        raise RLConfigError(f"output_dir {folder} holds a finished run (adapter_config.json); remove or rename it")
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def build_run(path: str | Path) -> dict[str, Any]:
    """Everything a GRPO run needs that can be checked without loading the model: configs, rows, pool, schedule,
    rendered dataset rows. Every bad input fails here."""
    run, paft = load_run(path)
    task, data_file = dataset_task(run.dataset_dir, run.dataset)
    rows = read_rows(task, data_file, run.max_samples)
    resume = output_state(run.output_dir)
    pool_file = fixed_pool(task, run.output_dir) if paft.pool == FIXED_POOL else Path(paft.pool)
    # placeholders and safety first: a bad pool fails before the model is read
    paft.training_pool(load_pool(pool_file, task.fields, training=True), run.seed)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run.model_name_or_path)
    pool = paft.training_pool(load_pool(pool_file, task.fields, tokenizer_special_tokens(tokenizer), training=True),
                              run.seed)
    args = _grpo_args(run)
    spec = ScheduleSpec(
        n_rows=len(rows), epochs=run.num_train_epochs, max_steps=run.max_steps,
        geometry=Geometry(prompts_per_step(args), 1, 1), window=paft.window_steps, window_unit="step",
        sampling=paft.sampling, epoch_reshuffle=paft.epoch_reshuffle, pool_size=len(pool),
        pool_digest=pool_digest(pool), seed=run.seed if paft.seed is None else paft.seed,
        canonical_ratio=paft.canonical_ratio, canonical_decay=paft.canonical_decay,
        curriculum_order=_curriculum(task, rows, pool, paft.sampling),
        **_structure_keys(task, paft))
    schedule = build_schedule(spec)
    args.max_steps = schedule.total_steps  # the T epochs are laid out in the rendered rows: one pass of them
    args.resume_from_checkpoint = resume  # what the callback's resume guard reads (as under LLaMA-Factory)
    return {"run": run, "paft": paft, "task": task, "pool": pool, "pool_file": pool_file, "schedule": schedule,
            "rows": grpo_rows(task, rows, schedule, pool, run.default_system), "tokenizer": tokenizer,
            "resume": resume, "args": args}


def _structure_keys(task, paft: PaftConfig) -> dict[str, Any]:
    """The schedule keys of structure draws (as under SFT); a task without options or a symbol set that does not
    fit them is refused naming the key."""
    if paft.draws_structure and not task.options:
        raise RLConfigError(f"paft_option_order / paft_option_symbols / paft_max_shots: task {task.name} has no "
                            f"options to reorder or relabel")
    try:
        return paft.structure_keys(task.choices)
    except StructureError as err:
        raise RLConfigError(str(err)) from None


def _curriculum(task, rows: list[dict[str, str]], pool: list, sampling: str) -> tuple[int, ...]:
    """Curriculum order against the task's user-specified prompt (the canonical one of a GRPO run)."""
    if not get_strategy(sampling).needs_closeness:
        return ()
    sample = [{f: r[f] for f in task.fields} for r in rows[:8]]
    return closeness_order(pool, sample, [task.fill(task.baseline_prompt, r) for r in sample])


def _lora(run: GrpoRunConfig) -> Any:
    from peft import LoraConfig

    target = "all-linear" if run.lora_target == "all" else [t.strip() for t in run.lora_target.split(",")]
    return LoraConfig(r=run.lora_rank, lora_alpha=run.lora_alpha, lora_dropout=run.lora_dropout,
                      target_modules=target, task_type="CAUSAL_LM")


def _run_record(plan: dict[str, Any]) -> dict[str, Any]:
    run, paft, schedule = plan["run"], plan["paft"], plan["schedule"]
    return {"config": run.__dict__, "paft": paft.__dict__, "task": plan["task"].name, "pool": str(plan["pool_file"]),
            "pool_size": len(plan["pool"]), "schedule_digest": schedule.spec.digest(),
            "total_steps": schedule.total_steps, "prompts_per_step": schedule.spec.geometry.rows_per_step,
            "completions_per_step": schedule.spec.geometry.rows_per_step * run.num_generations,
            "resumed_from": plan["resume"]}


def train_grpo(path: str | Path) -> Path:
    """Run the GRPO YAML at ``path``; returns the output folder (adapter, schedule, logs)."""
    plan = build_run(path)
    from datasets import Dataset
    from transformers import set_seed

    from .trl_compat import grpo_classes, trainable_model

    GRPOTrainer = grpo_classes()[1]  # noqa: N806 (a class)

    run, args, schedule = plan["run"], plan["args"], plan["schedule"]
    state = RunState(config=plan["paft"], schedule=schedule, pool=plan["pool"], fields=list(plan["task"].fields))
    if args.should_save:
        write_pending_schedule(schedule, plan["pool"], run.output_dir)
    _log_plan(schedule, plan["paft"], len(plan["pool"]))
    warn_letterless(schedule.spec.letters, schedule.spec.option_symbols, plan["pool"], logger)
    warn_unlisted(plan["task"].options, schedule.spec.letters, schedule.spec.option_prose, plan["pool"], logger)
    set_seed(run.seed)  # LoRA weights are created before the trainer seeds anything
    trainer = GRPOTrainer(model=trainable_model(run.model_name_or_path, run.bf16),
                          reward_funcs=reward_functions(plan["task"], run.answer_rule), args=args,
                          train_dataset=Dataset.from_list(plan["rows"]), processing_class=plan["tokenizer"],
                          peft_config=_lora(run), callbacks=[PaftCallback(state)])
    trainer.train(resume_from_checkpoint=plan["resume"])
    trainer.save_model(run.output_dir)
    trainer.save_state()
    if args.should_save:
        (Path(run.output_dir) / RUN_FILE).write_text(json.dumps(_run_record(plan), indent=1, default=str))
    return Path(run.output_dir)


def _log_plan(schedule: Schedule, paft: PaftConfig, pool_size: int) -> None:
    logger.info("[PAFT] GRPO: %d rows x %d epochs -> %d prompt groups, %d optimizer steps of %d groups, window %d "
                "steps, pool %s (%d prompts)", schedule.spec.n_rows, schedule.spec.epochs, len(schedule.order),
                schedule.total_steps, schedule.spec.geometry.rows_per_step, paft.window_steps, paft.pool, pool_size)
