"""Compatibility fix for TRL 0.24.0 on transformers 5.6 — the one place that patches TRL.

TRL 0.24's ``trl.import_utils`` sets its optional-package flags with transformers' ``_is_package_available(name)``,
which returned a bool in transformers 4 and returns ``(found, None)`` in transformers 5. A tuple is always true, so
TRL believes every optional package is installed and ``from trl import GRPOTrainer`` fails importing ``mergekit``
(``trl.trainer.callbacks`` → ``trl.mergekit_utils``). :func:`fix_availability_flags` turns each such tuple flag back
into its bool before any TRL trainer module is imported. ``GRPOTrainer.__init__`` also writes
``model.warnings_issued[...]``, a dict transformers 5 no longer gives models; :func:`trainable_model` adds an empty
one to a model loaded here. tests/test_rl_units.py
(``test_trl_shim_is_still_needed_and_still_sufficient``) fails when an upstream change makes it unnecessary or wrong.
"""

from __future__ import annotations

SUPPORTED_TRL = ("0.24.0",)


def fix_availability_flags() -> list[str]:
    """Make TRL's ``_<package>_available`` flags bools; returns the names fixed (empty: nothing to fix)."""
    import trl
    from trl import import_utils

    if trl.__version__ not in SUPPORTED_TRL:
        raise ImportError(f"paft_ext.rl supports TRL {SUPPORTED_TRL}, found {trl.__version__}")
    fixed = []
    for name, value in vars(import_utils).items():
        if name.startswith("_") and name.endswith("_available") and isinstance(value, tuple):
            setattr(import_utils, name, bool(value[0]))
            fixed.append(name)
    return fixed


def grpo_classes() -> tuple[type, type]:
    """``(GRPOConfig, GRPOTrainer)``, importable on the pinned stack."""
    fix_availability_flags()
    from trl import GRPOConfig, GRPOTrainer

    return GRPOConfig, GRPOTrainer


def trainable_model(path: str, bf16: bool) -> object:
    """The causal LM at ``path`` (float32, or bfloat16) with the ``warnings_issued`` dict TRL 0.24 writes to."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if bf16 else torch.float32)
    if not hasattr(model, "warnings_issued"):
        model.warnings_issued = {}
    return model
