"""``paft_sampling: loss_aware`` — prompts whose windows trained with a higher loss are drawn more often later.

The prompt of a window can no longer be fixed before tokenisation, so each window gets C seeded candidate prompts
(:func:`.schedule.build_schedule`), every row is rendered and tokenised once per candidate, and the C variants of a
row are kept together (:func:`group_variants`). While training, :class:`LossAwareSampler` picks the variant of the
window's chosen candidate when a micro-batch is collated, and learns from the loss the model's forward returns.

The rule, all of it deterministic given the losses:

* the loss of a window is its mean loss per predicted token over every micro-batch and data-parallel rank (token
  loss sums and token counts all-reduced at the window's last optimizer step, so every rank holds the same numbers,
  and the same rows give the same loss whatever the batch × accumulation × world geometry);
* its *excess* loss is that loss minus an exponential moving average (decay ``ema``) of the earlier windows' losses
  (0 for the first window), so that the general fall of the loss over training does not favour prompts seen early;
  the current window's loss joins that average only afterwards; each prompt keeps an EMA (same decay) of the excess
  losses of its windows;
* window w is decided when window w − 2 ends (windows 0 and 1 at the start): its candidates get
  ``(1 − floor) · softmax(excess / temperature) + floor / C`` (a prompt not trained yet counts as excess 0), and one
  is drawn with a generator seeded by (seed, w). Two windows ahead because the trainer fetches a step's micro-batches
  before it trains them and the data loader fetches one more;
* the state (EMAs, decisions, the running window) is saved in every checkpoint's ``paft_state.json`` and restored on
  resume, so a resumed run decides exactly what the uninterrupted one did; every decision is appended to
  ``paft_loss_aware.jsonl`` (rank 0) as it is made, with its candidates, their excess losses and probabilities;
  ``paft_schedule.json`` (the order list and every prompt text: ~1 MB at the paper's size) gets the decisions so far
  at every checkpoint and at the end of training — a few rewrites per run, not one per decision.

Needs ``dataloader_num_workers: 0`` (workers would collate with a copy of the state).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .artefacts import record_decisions
from .schedule import CANONICAL, Schedule

DECISIONS_FILE = "paft_loss_aware.jsonl"
VARIANTS = ("input_ids", "attention_mask", "labels")
POSITION = "paft_position"
_DECIDE_STREAM = 0x4C41


def _variant(name: str) -> str:
    return f"paft_variants_{name}"


def group_variants(tokenized: Any, candidates: int, **map_kwargs: Any) -> Any:
    """Tokenised rows ``p·C … p·C + C − 1`` (position p under each candidate) as one row: the first variant in the
    usual columns, all C in ``paft_variants_<column>``, and the position."""
    def group(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        out = {name: [values[0]] for name, values in batch.items()}
        out.update({_variant(name): [batch[name]] for name in VARIANTS if name in batch})
        out[POSITION] = [indices[0] // candidates]
        return out

    return tokenized.map(group, batched=True, batch_size=candidates, with_indices=True,
                         remove_columns=tokenized.column_names, desc="PAFT: grouping candidate variants",
                         **{k: v for k, v in map_kwargs.items() if k != "num_proc"})


class LossAwareSampler:
    """The run-time half: decisions, losses and the collate step (one per training run and rank)."""

    def __init__(self, schedule: Schedule, pool_ids: list[str], output_dir: str, rank: int) -> None:
        self.schedule, self.pool_ids, self.rank = schedule, pool_ids, rank
        self.path = Path(output_dir) / DECISIONS_FILE
        self.excess: dict[int, float] = {}  # pool index -> EMA of its windows' excess loss
        self.baseline: float | None = None  # EMA of all window losses
        self.decisions: dict[int, int] = {}  # window -> chosen candidate slot
        self.running = [0.0, 0]  # token-loss sum and token count of the window in progress (this rank)
        self.n_windows = len(schedule.candidates)

    # -- decisions -----------------------------------------------------------------------------------------------
    def probabilities(self, window: int) -> np.ndarray:
        spec = self.schedule.spec
        cands = self.schedule.candidates[window]
        values = np.array([self.excess.get(int(c), 0.0) for c in cands])
        soft = np.exp((values - values.max()) / spec.temperature)
        return (1 - spec.floor) * soft / soft.sum() + spec.floor / len(cands)

    def decide(self, window: int) -> None:
        if window >= self.n_windows or window in self.decisions:
            return
        probs = self.probabilities(window)
        draw = np.random.default_rng([self.schedule.spec.seed, _DECIDE_STREAM, window]).random()
        slot = min(int(np.searchsorted(np.cumsum(probs), draw, side="right")), len(probs) - 1)
        self.decisions[window] = slot
        if self.rank == 0:
            cands = [int(c) for c in self.schedule.candidates[window]]
            entry = {"window": window, "chosen": self._id(cands[slot]), "candidates": [self._id(c) for c in cands],
                     "excess": [self.excess.get(c) for c in cands], "probabilities": probs.round(6).tolist()}
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

    def chosen(self, window: int) -> int:
        """The pool index trained in ``window`` (CANONICAL for a canonical window)."""
        return int(self.schedule.candidates[window][self.decisions[window]])

    def _id(self, index: int) -> str:
        return "canonical" if index == CANONICAL else self.pool_ids[index]

    # -- losses --------------------------------------------------------------------------------------------------
    def record(self, loss_sum: float, tokens: int) -> None:
        """One training forward: the sum of its token losses and its number of predicted tokens."""
        self.running[0] += loss_sum
        self.running[1] += tokens

    def finish_window(self, window: int, reduce: Any) -> None:
        """End ``window``: its all-rank mean loss updates the EMAs (``reduce`` sums a [sum, count] pair over ranks),
        then window + 2 is decided."""
        total, count = reduce(self.running)
        self.running = [0.0, 0]
        if count == 0:
            raise RuntimeError(f"[paft_ext] loss_aware: window {window} trained no token with a loss (a custom loss "
                               f"that takes the labels out of the forward gives the sampler nothing to learn)")
        loss, decay = total / count, self.schedule.spec.ema
        excess = 0.0 if self.baseline is None else loss - self.baseline  # against the earlier windows only
        self.baseline = loss if self.baseline is None else decay * self.baseline + (1 - decay) * loss
        prompt = self.chosen(window)
        if prompt != CANONICAL:
            old = self.excess.get(prompt)
            self.excess[prompt] = excess if old is None else decay * old + (1 - decay) * excess
        self.decide(window + 2)

    # -- batches ---------------------------------------------------------------------------------------------------
    def select(self, features: list[dict]) -> list[dict]:
        """Each row as its window's chosen variant, without the variant columns (what LLaMA-Factory's collator
        expects)."""
        window_rows = self.schedule.window_rows
        out = []
        for feature in features:
            slot = self.decisions[feature[POSITION] // window_rows]
            row = {k: v for k, v in feature.items() if not k.startswith("paft_variants_") and k != POSITION}
            row.update({name: feature[_variant(name)][slot] for name in VARIANTS if _variant(name) in feature})
            out.append(row)
        return out

    def collate_fn(self, collate: Any) -> Any:
        return lambda features: collate(self.select(features))

    # -- checkpoints -----------------------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"excess": {str(k): v for k, v in self.excess.items()}, "baseline": self.baseline,
                "decisions": {str(k): v for k, v in self.decisions.items()}, "running": self.running}

    def restore(self, saved: dict) -> None:
        self.excess = {int(k): v for k, v in saved["excess"].items()}
        self.baseline = saved["baseline"]
        self.decisions = {int(k): v for k, v in saved["decisions"].items()}
        self.running = list(saved["running"])
        if self.rank == 0 and self.path.is_file():  # the interrupted run's later decisions are made again
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if json.loads(line)["window"] in self.decisions]
            self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def write_schedule(self) -> None:
        """The decisions so far into ``paft_schedule.json`` (rank 0; at checkpoints and at the end)."""
        if self.rank == 0:
            record_decisions(str(self.path.parent), {w: self._id(self.chosen(w)) for w in self.decisions})
