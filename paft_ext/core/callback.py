"""The trainer-side half of PAFT: check the rendered rows are consumed in order, guard resumes, write artefacts.

* ``on_train_begin`` refuses a shuffling sampler anywhere in the data loader chain, a data loader whose length does
  not match the schedule (e.g. sequence/tensor parallelism changing the data-parallel size), and a resume from a
  checkpoint written under another schedule.
* ``on_step_end`` fires epoch-based logging/evaluation/saving at every PAFT epoch end (the trainer sees one pass).
* ``on_save`` writes ``paft_state.json`` into each checkpoint.
* with ``paft_trace: true``, every micro-batch's real ``input_ids`` (as the model's forward receives them) are
  decoded and the pool prompt found in them is written to ``paft_trace.rank<r>.jsonl`` — proof of what was trained
  on, not of what was planned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from .artefacts import accept_schedule, prompt_id, write_tokenized_meta
from .log import get_logger
from .loss_aware import LossAwareSampler
from .run_state import PaftSetupError, RunState
from .structure import option_layout
from .trace import identify_prompts

logger = get_logger("paft_ext")
STATE_FILE = "paft_state.json"


def sampler_chain(loader: Any) -> list[str]:
    """Class names of the data loader and every sampler it wraps (accelerate nests them)."""
    names, seen, todo = [], set(), [loader]
    while todo:
        obj = todo.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        names.append(type(obj).__name__)
        todo += [getattr(obj, attribute, None) for attribute in ("base_dataloader", "batch_sampler", "sampler")]
    return names


IGNORE_INDEX = -100  # the label transformers' causal-LM loss skips (prompt tokens, padding)


class PaftCallback(TrainerCallback):
    def __init__(self, state: RunState) -> None:
        self.state = state
        self.window = None
        self.trace: _Trace | None = None
        self.epoch_ends: set[int] = set()
        self.loss_aware: LossAwareSampler | None = None
        self.loss_hook = None

    def _schedule_state(self) -> dict:
        schedule = self.state.schedule
        return {"digest": schedule.spec.digest(), "total_steps": schedule.total_steps,
                **({"loss_aware": self.loss_aware.state()} if self.loss_aware is not None else {})}

    def on_train_end(self, args, state, control, **kwargs):
        if self.loss_aware is not None and args.should_save:
            self.loss_aware.write_schedule()
        if self.trace is not None:
            self.trace.remove()
            self.trace = None
        if self.loss_hook is not None:
            self.loss_hook.remove()
            self.loss_hook = None

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        schedule = self.state.schedule
        if schedule is None:
            raise PaftSetupError("[paft_ext] paft_* keys are set but no PAFT schedule was built for this run")
        if train_dataloader is None:
            raise PaftSetupError("[paft_ext] the trainer passed no train_dataloader to callbacks, so the PAFT order "
                                 "cannot be verified; this transformers version is not supported")
        chain = sampler_chain(train_dataloader)
        shuffling = [n for n in chain if "Random" in n or "LengthGrouped" in n]
        if shuffling:
            raise PaftSetupError(f"[paft_ext] the train sampler shuffles ({chain}); set disable_shuffling: true")
        expected = schedule.total_steps * args.gradient_accumulation_steps
        if len(train_dataloader) != expected:
            raise PaftSetupError(
                f"[paft_ext] the data loader yields {len(train_dataloader)} micro-batches per rank, the schedule "
                f"expects {expected}; a parallelism mode changes the data-parallel size, which PAFT does not support")
        saved = None
        if args.resume_from_checkpoint:
            saved_file = Path(args.resume_from_checkpoint) / STATE_FILE
            if not saved_file.is_file():
                raise PaftSetupError(f"[paft_ext] cannot resume from {args.resume_from_checkpoint}: it has no "
                                     f"{STATE_FILE}, so it was not written by this PAFT schedule")
            saved = json.loads(saved_file.read_text())
            changed = (schedule.candidates is not None) != ("loss_aware" in saved)
            if saved["digest"] != schedule.spec.digest() or changed:
                raise PaftSetupError(
                    f"[paft_ext] batch geometry or PAFT settings changed since {args.resume_from_checkpoint} was "
                    f"written (schedule {saved['digest'][:12]} there, {schedule.spec.digest()[:12]} now); resume "
                    f"with the same batch size, grad-accum, world size, K, seed, epochs and pool")
        if args.should_save:
            accept_schedule(args.output_dir)
            write_tokenized_meta(getattr(self.state.parsed.get("data"), "tokenized_path", None), self.state.meta,
                                 schedule, self.state.fields)
        self.epoch_ends = set(schedule.epoch_end_steps())
        if schedule.candidates is not None:
            self._start_loss_aware(args, train_dataloader, kwargs["model"], saved)
        if self.state.config.trace:
            self.trace = _Trace(self.state, args, kwargs["model"], kwargs["processing_class"])

    def on_step_begin(self, args, state, control, **kwargs):
        if self.trace is not None:
            self.trace.step_begins(state.global_step)
        schedule = self.state.schedule
        position = state.global_step * schedule.spec.geometry.rows_per_step
        window = position // schedule.window_rows
        if window != self.window and args.process_index == 0:
            index = schedule.prompt_index[position] if self.loss_aware is None else self.loss_aware.chosen(window)
            prompt = prompt_id(self.state.pool, int(index))
            logger.info("[PAFT] step %d: window %d, prompt %s", state.global_step, window, prompt)
        self.window = window

    def on_step_end(self, args, state, control, **kwargs):
        """The trainer sees the T epochs as one pass; fire its epoch-based logging, evaluation and saving at the end
        of every PAFT epoch as well."""
        if self.loss_aware is not None:
            rows = self.state.schedule.spec.geometry.rows_per_step
            done, window_rows = state.global_step * rows, self.state.schedule.window_rows
            if done % window_rows == 0 or state.global_step == self.state.schedule.total_steps:
                self.loss_aware.finish_window((done - 1) // window_rows, lambda pair: _sum_over_ranks(pair, args))
        if state.global_step in self.epoch_ends:
            control.should_log |= args.logging_strategy == "epoch"
            control.should_evaluate |= args.eval_strategy == "epoch"
            control.should_save |= args.save_strategy == "epoch"
        return control

    def on_save(self, args, state, control, **kwargs):
        if self.loss_aware is not None and args.should_save:
            self.loss_aware.write_schedule()
        if args.should_save:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                (folder / STATE_FILE).write_text(json.dumps(self._schedule_state(), indent=1))

    def _start_loss_aware(self, args, train_dataloader, model, saved: dict | None) -> None:
        """Decide the first windows (or restore a checkpoint's decisions), collate each micro-batch as its window's
        chosen variant, and record the loss of every training forward."""
        if args.dataloader_num_workers != 0:
            raise PaftSetupError("[paft_ext] paft_sampling: loss_aware collates in the training process; set "
                                 "dataloader_num_workers: 0")
        sampler = LossAwareSampler(self.state.schedule, [p.id for p in self.state.pool], args.output_dir,
                                   args.process_index)
        if saved is not None:
            sampler.restore(saved["loss_aware"])
        elif args.process_index == 0:
            sampler.path.unlink(missing_ok=True)
        sampler.decide(0)
        sampler.decide(1)
        loader = train_dataloader
        while "base_dataloader" in vars(loader):  # accelerate's adapters delegate to the torch DataLoader they wrap
            loader = loader.base_dataloader
        loader.collate_fn = sampler.collate_fn(loader.collate_fn)

        def record(module, args, kwargs, output) -> None:
            loss, labels = getattr(output, "loss", None), kwargs.get("labels")
            if module.training and torch.is_grad_enabled() and loss is not None and labels is not None:
                # the causal-LM loss is the sum over this micro-batch's predicted tokens divided by the trainer's
                # num_items_in_batch (all tokens of the optimizer step, on transformers 5) or, without it, by its
                # own token count: undo either division, so the window's loss is per token whatever the geometry
                tokens = int((labels[..., 1:] != IGNORE_INDEX).sum())
                divisor = kwargs.get("num_items_in_batch")
                sampler.record(float(loss.detach()) * (float(divisor) if divisor is not None else tokens), tokens)

        self.loss_hook = model.register_forward_hook(record, with_kwargs=True)
        self.loss_aware = sampler


def _sum_over_ranks(pair: list, args) -> tuple[float, int]:
    """A [loss sum, count] pair summed over the data-parallel ranks (every rank gets the same numbers)."""
    values = torch.tensor([float(pair[0]), float(pair[1])], dtype=torch.float64)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        values = values.to(args.device)
        torch.distributed.all_reduce(values)
    return float(values[0]), int(values[1])


class _Trace:
    """Logs what each training micro-batch really contains: a forward pre-hook on the run's model (a public torch
    route; removed when training ends, so a second run in the same process traces into its own file only)."""

    def __init__(self, run: RunState, args, model, tokenizer) -> None:
        self.run, self.tokenizer, self.step, self.micro = run, tokenizer, -1, 0
        self.path = Path(args.output_dir) / f"paft_trace.rank{args.process_index}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not args.resume_from_checkpoint:  # a resumed run appends to what the interrupted one traced
            self.path.unlink(missing_ok=True)
        self.handle = model.register_forward_pre_hook(self._record, with_kwargs=True)

    def step_begins(self, global_step: int) -> None:
        self.step, self.micro = global_step, -1

    def _record(self, module, args, kwargs) -> None:
        if not module.training or not torch.is_grad_enabled():  # evaluation, generation and reference/old-policy
            return  # log-probabilities (GRPO) run without gradients: only what is trained on is traced
        self.micro += 1
        rows, pad = [], self.tokenizer.pad_token_id
        ids_batch = kwargs["input_ids"].tolist()
        # a custom loss (LLaMA-Factory's dft/eaft/asft) takes the labels out first: then the whole row is decoded
        labels_batch = kwargs["labels"].tolist() if "labels" in kwargs else [[-100] * len(i) for i in ids_batch]
        spec = self.run.schedule.spec if self.run.schedule is not None else None
        letters = spec.letters if spec is not None else ""
        options = option_layout(self.run.fields)[0] if spec is not None and spec.option_prose else ()
        for ids, labels in zip(ids_batch, labels_batch, strict=True):
            prompt_ids = [i for i, lab in zip(ids, labels, strict=True) if lab == -100 and i != pad]
            text = self.tokenizer.decode(prompt_ids, clean_up_tokenization_spaces=False)
            response = self.tokenizer.decode([lab for lab in labels if lab != -100], clean_up_tokenization_spaces=False)
            rows.append({"prompt_ids": identify_prompts(text, self.run.pool, letters, options), "text": text,
                         "response": response})
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": self.step, "micro": self.micro, "rows": rows}, ensure_ascii=False) + "\n")

    def remove(self) -> None:
        self.handle.remove()
