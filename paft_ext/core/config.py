"""The ``paft_*`` YAML keys, parsed into one small typed config before LLaMA-Factory's own parser sees the rest.

LLaMA-Factory rejects unknown keys, so a PAFT YAML run without the extension fails instead of silently training on
the fixed prompt; with the extension these keys are taken out here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, get_args

from .keys import unknown_keys
from .sampling import STRATEGIES
from .schedule import WindowUnit

PREFIX = "paft_"


class PaftConfigError(ValueError):
    """A bad ``paft_*`` key or value; the message names the key."""


@dataclass(frozen=True)
class PaftConfig:
    """Options of dynamic prompt fine-tuning (YAML key = ``paft_`` + field name)."""

    pool: str
    window_steps: int = 4
    window_unit: WindowUnit = "step"
    sampling: str = "uniform"  # a registered strategy (.sampling)
    epoch_reshuffle: bool = True
    seed: int | None = None
    eval_prompt: str = "instruction"
    trace: bool = False
    canonical_ratio: float = 0.0  # share of windows that keep the dataset's own fixed prompt
    canonical_decay: bool = False  # those windows come early, their density falling linearly to zero at the end
    pool_size: int | None = None  # train on a seeded subset of this many pool prompts (the pool-size ablation)
    # loss_aware sampling (paft_ext.core.loss_aware): candidates per window, softmax temperature over their excess
    # loss, the probability share spread evenly (floor), the per-prompt EMA decay
    sampling_candidates: int = 4
    sampling_temperature: float = 0.5
    sampling_floor: float = 0.1
    sampling_ema: float = 0.5
    # structure draws (paft_ext.core.structure): per window a seeded option order, a symbol set of these, and
    # 0..max_shots solved training records before each row
    option_order: bool = False
    option_symbols: tuple[str, ...] = ()
    max_shots: int = 0
    structure_ratio: float = 1.0  # share of the (non-canonical) windows that draw a structure; the rest keep it
    option_prose: float = 0.0  # share of the drawing windows whose options are written as a sentence (option_prose)
    option_prose_alone: bool = False  # those windows keep the shipped order and letters and show no examples

    def __post_init__(self) -> None:
        for name in ("pool", "eval_prompt"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise PaftConfigError(f"paft_{name} must be a non-empty string (a path or name), got "
                                      f"{getattr(self, name)!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise PaftConfigError(f"paft_seed must be an integer, got {self.seed!r}")
        if not isinstance(self.window_steps, int) or isinstance(self.window_steps, bool) or self.window_steps < 1:
            raise PaftConfigError(f"paft_window_steps must be a positive integer, got {self.window_steps!r}")
        if self.window_unit not in get_args(WindowUnit):
            raise PaftConfigError(f"paft_window_unit must be one of {get_args(WindowUnit)}, got {self.window_unit!r}")
        if self.sampling not in STRATEGIES:
            raise PaftConfigError(f"paft_sampling must be one of {tuple(STRATEGIES)}, got {self.sampling!r}")
        if self.eval_prompt != "instruction" and not self.eval_prompt.startswith("pool:"):
            raise PaftConfigError(
                f"paft_eval_prompt must be 'instruction' or 'pool:<file>' (a validation pool, never the test "
                f"prompts), got {self.eval_prompt!r}")
        size = self.pool_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise PaftConfigError(f"paft_pool_size must be a positive integer (prompts kept), got {size!r}")
        ratio = self.canonical_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0.0 <= ratio <= 1.0:
            raise PaftConfigError(f"paft_canonical_ratio must be a number in [0, 1], got {ratio!r}")
        if self.canonical_decay is True and not ratio:
            raise PaftConfigError("paft_canonical_decay: true places the windows that keep the fixed prompt early in "
                                  "training, but paft_canonical_ratio (their share) is 0; set it, e.g. 0.5")
        candidates = self.sampling_candidates
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2:
            raise PaftConfigError(f"paft_sampling_candidates must be an integer >= 2, got {candidates!r}")
        for name, low, high, closed in (("sampling_temperature", 0.0, float("inf"), False),
                                        ("sampling_floor", 0.0, 1.0, True), ("sampling_ema", 0.0, 1.0, True)):
            value = getattr(self, name)
            bad = isinstance(value, bool) or not isinstance(value, int | float)
            if bad or not (low <= value < high if closed else low < value < high):
                raise PaftConfigError(f"paft_{name} must be a number in {'[' if closed else '('}{low}, {high}), got "
                                      f"{value!r}")
        loss_aware_keys = [f"paft_{k}" for k in ("sampling_candidates", "sampling_temperature", "sampling_floor",
                                                 "sampling_ema") if getattr(self, k) != _DEFAULTS[k]]
        if loss_aware_keys and self.sampling != "loss_aware":
            raise PaftConfigError(f"{', '.join(loss_aware_keys)}: used by paft_sampling: loss_aware only, and "
                                  f"paft_sampling is {self.sampling!r}")
        if self.sampling == "loss_aware" and (self.window_unit != "step" or not self.epoch_reshuffle):
            raise PaftConfigError("paft_sampling: loss_aware needs paft_window_unit: step and paft_epoch_reshuffle: "
                                  "true (each window is decided from the losses of earlier windows)")
        symbols = self.option_symbols
        if not isinstance(symbols, tuple) or not all(isinstance(x, str) and x for x in symbols):
            raise PaftConfigError(f"paft_option_symbols must be a list of symbol sets such as [AB, \"12\", ab], got "
                                  f"{symbols!r}")
        shots = self.max_shots
        if isinstance(shots, bool) or not isinstance(shots, int) or not 0 <= shots <= 8:
            raise PaftConfigError(f"paft_max_shots must be an integer from 0 to 8, got {shots!r}")
        share = self.structure_ratio
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share <= 1.0:
            raise PaftConfigError(f"paft_structure_ratio must be a number in (0, 1], got {share!r}")
        prose = self.option_prose
        if isinstance(prose, bool) or not isinstance(prose, int | float) or not 0.0 <= prose <= 1.0:
            raise PaftConfigError(f"paft_option_prose must be a number in [0, 1] (the share of drawing windows whose "
                                  f"options are written as a sentence), got {prose!r}")
        if self.option_prose_alone is True and not prose:
            raise PaftConfigError("paft_option_prose_alone: true keeps the other draws out of the windows that write "
                                  "the options as a sentence, but paft_option_prose (their share) is 0; set it, e.g. "
                                  "0.25")
        if share != 1.0 and not self.draws_structure:
            raise PaftConfigError("paft_structure_ratio: the share of windows with structure draws, but no draw is "
                                  "set (paft_option_order / paft_option_symbols / paft_max_shots)")
        if self.sampling == "loss_aware" and self.draws_structure:
            raise PaftConfigError("paft_option_order / paft_option_symbols / paft_max_shots / paft_option_prose: not "
                                  "with paft_sampling: "
                                  "loss_aware (its candidates are scored per prompt, not per structure)")
        for name in ("epoch_reshuffle", "trace", "option_order", "canonical_decay", "option_prose_alone"):
            if not isinstance(getattr(self, name), bool):
                raise PaftConfigError(f"paft_{name} must be true or false, got {getattr(self, name)!r}")


    @property
    def draws_structure(self) -> bool:
        """Whether any structure key is set (paft_option_order / paft_option_symbols / paft_max_shots /
        paft_option_prose)."""
        return bool(self.option_order or self.option_symbols or self.max_shots or self.option_prose)

    def structure_keys(self, letters: str) -> dict[str, Any]:
        """The schedule keys of structure draws for a task with option ``letters`` ({} when none is asked);
        :class:`~paft_ext.pools.option_symbols.StructureError` names a symbol set that does not fit them."""
        from paft_ext.pools.option_symbols import check_symbol_sets

        if not self.draws_structure:
            return {}
        check_symbol_sets(self.option_symbols, letters, "paft_option_symbols")
        return {"letters": letters, "option_order": self.option_order, "option_symbols": self.option_symbols,
                "max_shots": self.max_shots, "structure_ratio": float(self.structure_ratio),
                **({"option_prose": float(self.option_prose)} if self.option_prose else {}),
                **({"option_prose_alone": True} if self.option_prose_alone else {})}

    def training_pool(self, prompts: list, training_seed: int) -> list:
        """The prompts this run trains with: the pool, or its seeded ``paft_pool_size`` subset (seeded by
        ``paft_seed``, else the training seed — as the schedule is)."""
        from paft_ext.pools.store import seeded_subset

        return seeded_subset(prompts, self.pool_size, training_seed if self.seed is None else self.seed)


def split_paft_keys(args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(arguments without ``paft_*`` keys, the ``paft_*`` values without prefix)."""
    rest = {k: v for k, v in args.items() if not k.startswith(PREFIX)}
    paft = {k[len(PREFIX):]: v for k, v in args.items() if k.startswith(PREFIX)}
    return rest, paft


def split_paft_flags(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The same for command-line flags (``--paft_window_steps 4`` or ``--paft_window_steps=4``)."""
    rest: list[str] = []
    paft: dict[str, Any] = {}
    k = 0
    while k < len(argv):
        item = argv[k]
        k += 1
        if not item.startswith("--" + PREFIX):
            rest.append(item)
            continue
        key, sep, value = item[2 + len(PREFIX):].partition("=")
        if sep:
            paft[key] = value
        elif k < len(argv) and not argv[k].startswith("--"):
            paft[key], k = argv[k], k + 1
        else:  # a bare flag (``--paft_trace --stage sft``): true, and the next flag stays a flag
            paft[key] = "true"
    return rest, paft


def _coerce(name: str, value: Any, kind: type) -> Any:
    if not isinstance(value, str) or kind is str:
        return value
    if kind is bool:
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise PaftConfigError(f"paft_{name} must be true or false, got {value!r}")
    try:
        return kind(value)
    except ValueError:
        raise PaftConfigError(f"paft_{name}: cannot read {value!r} as {kind.__name__}") from None


def build_config(values: dict[str, Any]) -> PaftConfig | None:
    """A :class:`PaftConfig` from the stripped keys, or None when no ``paft_*`` key was given."""
    if not values:
        return None
    known = {f.name: f for f in fields(PaftConfig)}
    problem = unknown_keys(values, known, PREFIX)
    if problem:
        raise PaftConfigError(problem)
    if "pool" not in values:
        raise PaftConfigError("paft_pool is required when any paft_* key is set (the train prompt pool file)")
    if "option_symbols" in values:
        values = {**values, "option_symbols": _symbol_sets(values["option_symbols"])}
    kinds = {"window_steps": int, "seed": int, "epoch_reshuffle": bool, "trace": bool, "canonical_ratio": float,
             "canonical_decay": bool, "structure_ratio": float, "pool_size": int, "option_order": bool,
             "max_shots": int, "sampling_candidates": int, "sampling_temperature": float, "sampling_floor": float,
             "sampling_ema": float, "option_prose": float, "option_prose_alone": bool}
    return PaftConfig(**{k: _coerce(k, v, kinds.get(k, str)) for k, v in values.items()})


def _symbol_sets(value: Any) -> Any:
    """``paft_option_symbols`` as a tuple: a YAML list, or a flag's comma-separated text (``AB,12,ab``); YAML reads
    ``12`` as a number, so numbers are taken as their digits."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(","))
    if isinstance(value, list | tuple):
        return tuple(str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in value)
    return value


_DEFAULTS = {f.name: f.default for f in fields(PaftConfig)}
