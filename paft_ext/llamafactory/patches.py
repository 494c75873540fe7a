"""The one place that patches LLaMA-Factory (version-gated). No LLaMA-Factory file is edited.

At import (from :mod:`paft_ext._autoload`) only one function is wrapped, as a gate that changes nothing by itself:

=====================================  ==========================================  =============================
module                                 global                                      wrapper
=====================================  ==========================================  =============================
llamafactory.train.tuner               ``_training_function``                      :func:`gate`
=====================================  ==========================================  =============================

When a run touches PAFT (a ``paft_*`` key, a PAFT dataset, or a ``tokenized_path`` a PAFT run built), the gate checks
the LLaMA-Factory version and activates the hook in this process, then adds the PAFT trainer callback:

=====================================  ==========================================  =============================
llamafactory.data.converter            ``register_dataset_converter`` (public)      ``aligned_rows.converter_class``
llamafactory.hparams.parser            ``_parse_args``                             ``hook.parse_args``
llamafactory.data.loader               ``_get_preprocessed_dataset``               ``hook.preprocess``
=====================================  ==========================================  =============================

Both wrapped globals are resolved by LLaMA-Factory at call time, so wrapping the module attribute is enough. Every
other run of every process sees LLaMA-Factory untouched.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from types import ModuleType
from typing import Any

SUPPORTED_LLAMAFACTORY = ("0.9.5",)

# The parameters each wrapped function must have; tests/test_patches.py fails when upstream changes them. Why each
# has no public route in LLaMA-Factory 0.9.5:
SIGNATURES = {
    # run_exp(callbacks=...) is public, but llamafactory-cli (and its torchrun children) call run_exp() without.
    ("llamafactory.train.tuner", "_training_function"): ["config"],
    # HfArgumentParser refuses unknown keys (ALLOW_EXTRA_ARGS=1 would accept every typo, not only paft_* keys), and
    # no hook sees the parsed arguments together.
    ("llamafactory.hparams.parser", "_parse_args"): ["parser", "args", "allow_extra_keys"],
    # the only place where the converted rows exist before tokenisation (the schedule must be rendered there).
    ("llamafactory.data.loader", "_get_preprocessed_dataset"): [
        "dataset", "data_args", "training_args", "stage", "template", "tokenizer", "processor", "is_eval"],
}
_HOOKS = {"_parse_args": "parse_args", "_get_preprocessed_dataset": "preprocess"}


class UnsupportedLlamaFactory(RuntimeError):
    pass


def check_version() -> None:
    import llamafactory

    version = getattr(llamafactory, "__version__", "unknown")
    if version not in SUPPORTED_LLAMAFACTORY and os.environ.get("PAFT_EXT_ALLOW_UNSUPPORTED") != "1":
        raise UnsupportedLlamaFactory(
            f"paft_ext supports LLaMA-Factory {', '.join(SUPPORTED_LLAMAFACTORY)}, found {version}; set "
            f"PAFT_EXT_ALLOW_UNSUPPORTED=1 to try anyway")


def _check_signature(module: ModuleType, name: str, function: Any) -> None:
    expected = SIGNATURES[(module.__name__, name)]
    found = list(inspect.signature(function).parameters)
    if found != expected:
        raise UnsupportedLlamaFactory(f"{module.__name__}.{name} has parameters {found}, paft_ext expects {expected}")


def _wrap(module: ModuleType, name: str, hook: Any) -> None:
    original = getattr(module, name)
    if getattr(original, "_paft_wrapped", False):
        return
    _check_signature(module, name, original)
    wrapper = functools.partial(hook, original)
    wrapped = functools.update_wrapper(lambda *a, **k: wrapper(*a, **k), original)
    wrapped._paft_wrapped = True
    setattr(module, name, wrapped)


def activate() -> None:
    """Put the hook into this process's LLaMA-Factory (idempotent). Called by the gate for a run that touches PAFT,
    when the modules are imported: the tuner imports all of them."""
    from . import hook
    from .aligned_rows import converter_class
    from .run_registry import RUN

    check_version()
    for name in ("llamafactory.hparams.parser", "llamafactory.data.loader", "llamafactory.data.converter"):
        __import__(name)
    tuner = sys.modules["llamafactory.train.tuner"]
    _check_signature(tuner, "_training_function", tuner._training_function.__wrapped__)
    converter = sys.modules["llamafactory.data.converter"]
    if "paft" not in converter.DATASET_CONVERTERS:  # the public route; it refuses a second registration
        converter.register_dataset_converter("paft", converter_class(RUN))
    for (module_name, attribute) in SIGNATURES:
        if attribute in _HOOKS:
            _wrap(sys.modules[module_name], attribute, functools.partial(getattr(hook, _HOOKS[attribute]), RUN))


def gate(original, *args, **kwargs):
    """``_training_function`` for every run: LLaMA-Factory's own, plus the PAFT hook and callback when the run's
    arguments touch PAFT. Makes no assumption about the signature until then (an unsupported LLaMA-Factory still
    trains every run without PAFT, and refuses the PAFT ones)."""
    config = args[0] if args else kwargs.get("config")
    run_args = config.get("args") if isinstance(config, dict) else None
    from llamafactory.hparams.parser import read_args

    from .datasets import has_paft_keys, paft_requested

    run_args = read_args(run_args)
    if paft_requested(run_args):
        activate()
        if has_paft_keys(run_args):
            from paft_ext.core.callback import PaftCallback

            from .run_registry import RUN

            config["callbacks"].append(PaftCallback(RUN))
    return original(*args, **kwargs)


def install(tuner: ModuleType) -> None:
    """Wrap ``_training_function`` of a freshly executed (or already imported) tuner module with :func:`gate`."""
    original = getattr(tuner, "_training_function", None)
    if original is None or getattr(original, "_paft_wrapped", False):
        return
    wrapped = functools.update_wrapper(lambda *a, **k: gate(original, *a, **k), original)
    wrapped._paft_wrapped = True
    tuner._training_function = wrapped
