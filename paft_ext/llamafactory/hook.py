"""What the PAFT hook does at each LLaMA-Factory call it wraps (the wrapping itself is in :mod:`.patches`).

State flows in one direction: the argument parser wrapper takes the ``paft_*`` keys out, records the parsed
arguments and the run's PAFT datasets, and refuses what PAFT cannot train under; the preprocessing wrapper builds the
schedule and renders the rows; the callback checks the trainer really consumes them in order and writes the
artefacts. What they share is the run's :class:`RunState`, which :mod:`.patches` passes to every function here
(``run``). The wrappers exist only in processes whose run touches PAFT
(:mod:`.patches`), and a later run there without ``paft_*`` keys or PAFT datasets passes through them untouched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from paft_ext.core.artefacts import META_FILE, prompt_id, write_pending_schedule
from paft_ext.core.config import build_config, split_paft_flags, split_paft_keys
from paft_ext.core.log import get_logger
from paft_ext.core.loss_aware import group_variants
from paft_ext.core.run_state import PaftSetupError, RunState
from paft_ext.core.sampling import get_strategy
from paft_ext.core.schedule import Geometry, Schedule, ScheduleSpec, build_schedule
from paft_ext.core.structure import option_layout, warn_letterless, warn_unlisted
from paft_ext.pools.option_symbols import StructureError
from paft_ext.pools.safety import tokenizer_special_tokens
from paft_ext.pools.store import Prompt, load_pool, pool_digest

from .aligned_rows import FIELDS_COLUMN, curriculum_order, render_eval, render_train
from .datasets import run_datasets

logger = get_logger("paft_ext")


def _pick(parsed: tuple, attribute: str) -> Any:
    return next((obj for obj in parsed if hasattr(obj, attribute)), None)


def parse_args(run: RunState, original, parser, args=None, allow_extra_keys: bool = False):
    """Take ``paft_*`` keys out of the YAML/dict/flags, parse the rest with LLaMA-Factory, remember both; refuse
    settings PAFT cannot train under and a ``tokenized_path`` built with other PAFT settings, before any data is
    read."""
    from llamafactory.hparams.parser import read_args

    raw = read_args(args)
    rest, values = split_paft_keys(raw) if isinstance(raw, dict) else split_paft_flags(list(raw))
    config = build_config(values)
    parsed = original(parser, rest, allow_extra_keys)
    training = _pick(parsed, "gradient_accumulation_steps")
    if training is not None:
        data, finetuning = _pick(parsed, "packing"), _pick(parsed, "disable_shuffling")
        run.start(config, {"training": training, "data": data, "finetuning": finetuning}, run_datasets(data))
        if config is not None:
            _guard(run)
            run.meta = _run_meta(run, training)
        _check_tokenized_path(run, data.tokenized_path, training)
    return parsed


def _guard(run: RunState) -> None:
    """Refuse settings under which the rendered row order would not reach the optimizer as scheduled."""
    training, data, finetuning = (run.parsed[k] for k in ("training", "data", "finetuning"))
    problems = []
    if finetuning.stage != "sft":
        problems.append(f"stage is {finetuning.stage!r}; PAFT supports stage: sft only")
    if data.streaming:
        problems.append("streaming has no fixed row order; set streaming: false")
    if data.packing or data.neat_packing:
        problems.append("packing/neat_packing mixes prompt windows inside one row; disable it")
    if not finetuning.disable_shuffling:
        problems.append("a shuffling sampler would scatter the prompt windows; set disable_shuffling: true "
                        "(PAFT shuffles each epoch itself, seeded)")
    if training.auto_find_batch_size:
        problems.append("auto_find_batch_size changes the batch geometry mid-run; set it to false")
    if training.ignore_data_skip:
        problems.append("ignore_data_skip restarts the data but not the step count on resume; set it to false")
    if problems:
        raise PaftSetupError("[paft_ext] " + "; ".join(problems))


def _structure_keys(run: RunState, fields: tuple[str, ...]) -> dict[str, Any]:
    """The schedule keys of structure draws (none when the YAML asks for none); refused naming the key when the
    dataset's task has no options or a symbol set does not fit them."""
    if not run.config.draws_structure:
        return {}
    try:
        return run.config.structure_keys(option_layout(fields)[1])
    except StructureError as err:
        raise PaftSetupError(f"[paft_ext] {err}") from None


def _schedule_spec(run: RunState, dataset, pool: list[Prompt], fields: tuple[str, ...]) -> ScheduleSpec:
    training, config = run.parsed["training"], run.config
    epochs = training.num_train_epochs
    if training.max_steps <= 0 and float(epochs) != int(epochs):
        raise PaftSetupError(f"num_train_epochs must be a whole number T for PAFT, got {epochs}")
    return ScheduleSpec(
        n_rows=len(dataset), epochs=int(epochs), max_steps=training.max_steps,
        geometry=Geometry(training.per_device_train_batch_size, training.gradient_accumulation_steps,
                          training.world_size),
        window=config.window_steps, window_unit=config.window_unit, sampling=config.sampling,
        epoch_reshuffle=config.epoch_reshuffle, pool_size=len(pool), pool_digest=pool_digest(pool),
        seed=training.seed if config.seed is None else config.seed, canonical_ratio=config.canonical_ratio,
        canonical_decay=config.canonical_decay,
        curriculum_order=curriculum_order(dataset, pool) if get_strategy(config.sampling).needs_closeness else (),
        **({"candidates": config.sampling_candidates, "temperature": config.sampling_temperature,
            "floor": config.sampling_floor, "ema": config.sampling_ema} if config.sampling == "loss_aware" else {}),
        **_structure_keys(run, fields),
    )


def preprocess(run: RunState, original, dataset, data_args, training_args, stage, template, tokenizer, processor=None,
               is_eval=False):
    """Render PAFT rows (train: scheduled pool prompts; eval: fixed or validation-pool prompts), then tokenise."""
    columns = getattr(dataset, "column_names", None) or []
    if dataset is None or FIELDS_COLUMN not in columns:
        if run.config is not None and not is_eval and dataset is not None:
            raise PaftSetupError("[paft_ext] paft_* keys are set but the training dataset has no PAFT rows; use a "
                                 "dataset_info entry with \"formatting\": \"paft\" and a \"paft\" block")
        return original(dataset, data_args, training_args, stage, template, tokenizer, processor, is_eval)
    if run.config is None:
        raise PaftSetupError("[paft_ext] the dataset has formatting 'paft' but the YAML sets no paft_pool; add "
                             "paft_pool (and paft_window_steps), or use the fixed-prompt dataset entry")
    fields = tuple(json.loads(dataset[0][FIELDS_COLUMN]))
    map_kwargs = {"num_proc": data_args.preprocessing_num_workers,
                  "load_from_cache_file": (not data_args.overwrite_cache) or training_args.local_process_index != 0}
    config = run.config
    if is_eval:
        eval_pool = None
        if config.eval_prompt != "instruction":
            eval_pool = load_pool(config.eval_prompt[len("pool:"):], fields, tokenizer_special_tokens(tokenizer),
                                  training=True)
            _refuse_test_prompts(eval_pool, Path(config.pool).parent / "test.jsonl", fields)
        dataset = render_eval(dataset, eval_pool, **map_kwargs)
    else:
        pool = config.training_pool(load_pool(config.pool, fields, tokenizer_special_tokens(tokenizer), training=True),
                                    training_args.seed)
        schedule = build_schedule(_schedule_spec(run, dataset, pool, fields))
        options: tuple[str, ...] = ()
        if schedule.structure is not None:
            options = option_layout(fields)[0]
            warn_letterless(schedule.spec.letters, schedule.spec.option_symbols, pool, logger)
            warn_unlisted(options, schedule.spec.letters, schedule.spec.option_prose, pool, logger)
        dataset = render_train(dataset, schedule, pool, options, **map_kwargs)
        run.schedule, run.pool, run.fields = schedule, pool, list(fields)
        if training_args.should_save:
            write_pending_schedule(schedule, pool, training_args.output_dir)
        training_args.num_train_epochs = 1.0  # the T epochs are laid out in the rendered rows (the callback fires
        # epoch-based eval/save at each of their ends)
        logger.info("[PAFT] expanded %d rows x %d epochs into %d rows / %d optimizer steps, %d windows, pool %s "
                    "(%d prompts)", schedule.spec.n_rows, schedule.spec.epochs, len(schedule.order),
                    schedule.total_steps, math.ceil(len(schedule.order) / schedule.window_rows), config.pool,
                    len(pool))
        _warn_truncation(dataset, tokenizer, data_args.cutoff_len, schedule, pool)
    tokenized = original(dataset, data_args, training_args, stage, template, tokenizer, processor, is_eval)
    if not is_eval and run.schedule is not None and run.schedule.candidates is not None:
        return _variants(tokenized, run.schedule, map_kwargs)
    return tokenized


def _variants(tokenized, schedule: Schedule, map_kwargs: dict) -> Any:
    """loss_aware: the C tokenised variants of every position as one row
    (:func:`paft_ext.core.loss_aware.group_variants`)."""
    count = schedule.candidates.shape[1]
    if len(tokenized) != len(schedule.order) * count:
        raise PaftSetupError(f"[paft_ext] loss_aware: LLaMA-Factory's preprocessing returned {len(tokenized)} rows "
                             f"for {len(schedule.order)} positions x {count} candidates (it drops invalid rows); "
                             f"fix the rows it warned about")
    return group_variants(tokenized, count, **map_kwargs)


def _warn_truncation(dataset, tokenizer, cutoff_len: int, schedule: Schedule, pool: list[Prompt],
                     sample: int = 256) -> None:
    """LLaMA-Factory cuts long prompts from the right, which can drop a template's options and answer cue in some
    windows only; count how many of a sample of rendered rows exceed ``cutoff_len``."""
    step = max(1, len(dataset) // sample)
    positions = list(range(0, len(dataset), step))[:sample]
    long = [p for p in positions
            if len(tokenizer(dataset[p]["_prompt"][-1]["content"])["input_ids"]) >= cutoff_len]
    if long:
        example = prompt_id(pool, int(schedule.rendered_rows()[1][long[0]]))
        logger.warning("[PAFT] %d of %d sampled rows have a prompt of >= cutoff_len=%d tokens and will be truncated "
                       "(e.g. row %d with prompt %s); raise cutoff_len", len(long), len(positions), cutoff_len,
                       long[0], example)


def _refuse_test_prompts(eval_pool: list[Prompt], test_file: Path, fields: tuple[str, ...]) -> None:
    """Selecting checkpoints on the test prompts would leak them; refuse an eval pool that shares any with the test
    pool beside the train pool (a structure variant of a test prompt counts as that prompt)."""
    if not test_file.is_file():
        return
    from paft_ext.pools.leakage import structure_key

    try:
        options = option_layout(fields)[0]
    except StructureError:  # a task without options: only the other structure (examples, labels) is folded
        options = ()
    shared = ({structure_key(p.text, options) for p in eval_pool}
              & {structure_key(p.text, options) for p in load_pool(test_file, fields)})
    if shared:
        raise PaftSetupError(f"[paft_ext] paft_eval_prompt shares {len(shared)} prompt(s) with the test pool "
                             f"{test_file}; evaluate during training on the validation pool (valid.jsonl)")


def _run_meta(run: RunState, training_args) -> dict:
    return {"config": json.loads(json.dumps(run.config.__dict__)), "batch": training_args.per_device_train_batch_size,
            "grad_accum": training_args.gradient_accumulation_steps, "world": training_args.world_size,
            "epochs": training_args.num_train_epochs, "max_steps": training_args.max_steps,
            "seed": training_args.seed}


def _check_tokenized_path(run: RunState, path: str | None, training_args) -> None:
    """LLaMA-Factory reuses a ``tokenized_path`` without reading the data again: refuse one built with other PAFT
    settings (or by a run without them), and take the schedule of one built with these."""
    from llamafactory.extras.misc import has_tokenized_data

    if not path or not has_tokenized_data(path):
        return
    stored_file = Path(path) / META_FILE
    stored = json.loads(stored_file.read_text()) if stored_file.is_file() else None
    if (stored or {}).get("run") != run.meta:
        raise PaftSetupError(f"[paft_ext] tokenized_path {path} was built with PAFT meta "
                             f"{(stored or {}).get('run')}, now {run.meta}; delete it or point tokenized_path "
                             f"elsewhere (no PAFT meta: built without PAFT, or by a run stopped before training)")
    if run.meta is not None:
        _restore_schedule(run, stored, training_args)


def _restore_schedule(run: RunState, stored: dict, training_args) -> None:
    """Rebuild the schedule of a cached tokenized dataset (same spec -> same bytes) for the callback and artefacts."""
    spec = ScheduleSpec(**{**stored["spec"], "geometry": Geometry(**stored["spec"]["geometry"]),
                           "curriculum_order": tuple(stored["spec"].get("curriculum_order", ())),
                           "option_symbols": tuple(stored["spec"].get("option_symbols", ()))})
    pool = run.config.training_pool(load_pool(run.config.pool, stored["fields"]), training_args.seed)
    if pool_digest(pool) != spec.pool_digest:
        raise PaftSetupError(f"[paft_ext] {run.config.pool} changed since the tokenized dataset was built; "
                             f"delete the tokenized_path")
    run.schedule, run.pool, run.fields = build_schedule(spec), pool, list(stored["fields"])
    training_args.num_train_epochs = 1.0
    if training_args.should_save:
        write_pending_schedule(run.schedule, pool, training_args.output_dir)
