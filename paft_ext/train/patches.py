"""The one place that patches LLaMA-Factory (version-gated). No LLaMA-Factory file is edited.

Each target is a module global that LLaMA-Factory resolves at call time, so wrapping the attribute is enough:

=====================================  ==========================================  =============================
module                                 global                                      wrapper (paft_ext.train.hook)
=====================================  ==========================================  =============================
llamafactory.hparams.parser            ``_parse_args``                             ``parse_args``
llamafactory.data.converter            ``register_dataset_converter`` (public)      ``render.converter_class``
llamafactory.data.loader               ``get_dataset_list``                        ``get_dataset_list``
llamafactory.data.loader               ``_get_preprocessed_dataset``               ``preprocess``
llamafactory.data.loader               ``get_dataset``                             ``get_dataset``
llamafactory.train.tuner               ``_training_function``                      ``training_function``
=====================================  ==========================================  =============================

:mod:`paft_ext._autoload` applies these right after each module executes (before ``llamafactory.data`` re-exports
``get_dataset``); :func:`apply_all` covers modules imported before the hook was installed.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from types import ModuleType

SUPPORTED_LLAMAFACTORY = ("0.9.5",)

# The parameters each wrapped function must have; tests/test_patches.py fails when upstream changes them. Why each
# has no public route in LLaMA-Factory 0.9.5:
SIGNATURES = {
    # HfArgumentParser refuses unknown keys (ALLOW_EXTRA_ARGS=1 would accept every typo, not only paft_* keys), and
    # no hook sees the parsed arguments together.
    ("llamafactory.hparams.parser", "_parse_args"): ["parser", "args", "allow_extra_keys"],
    # DatasetAttr keeps only its own dataset_info keys; the ``paft`` block (task or fields) would be dropped.
    ("llamafactory.data.loader", "get_dataset_list"): ["dataset_names", "dataset_dir"],
    # the only place where the converted rows exist before tokenisation (the schedule must be rendered there).
    ("llamafactory.data.loader", "_get_preprocessed_dataset"): [
        "dataset", "data_args", "training_args", "stage", "template", "tokenizer", "processor", "is_eval"],
    # guards must run before any data is read, and a reused tokenized_path must be checked against the schedule.
    ("llamafactory.data.loader", "get_dataset"): [
        "template", "model_args", "data_args", "training_args", "stage", "tokenizer", "processor"],
    # run_exp(callbacks=...) is public, but llamafactory-cli calls run_exp() without callbacks.
    ("llamafactory.train.tuner", "_training_function"): ["config"],
}
_WRAPPERS = {
    "_parse_args": "parse_args",
    "get_dataset_list": "get_dataset_list",
    "_get_preprocessed_dataset": "preprocess",
    "get_dataset": "get_dataset",
    "_training_function": "training_function",
}
TARGET_MODULES = ("llamafactory.hparams.parser", "llamafactory.data.converter", "llamafactory.data.loader",
                  "llamafactory.train.tuner")


class UnsupportedLlamaFactory(RuntimeError):
    pass


def check_version() -> None:
    import llamafactory

    version = getattr(llamafactory, "__version__", "unknown")
    if version not in SUPPORTED_LLAMAFACTORY and os.environ.get("PAFT_EXT_ALLOW_UNSUPPORTED") != "1":
        raise UnsupportedLlamaFactory(
            f"paft_ext supports LLaMA-Factory {', '.join(SUPPORTED_LLAMAFACTORY)}, found {version}; set "
            f"PAFT_EXT_ALLOW_UNSUPPORTED=1 to try anyway")


def _wrap(module: ModuleType, name: str) -> None:
    from . import hook

    original = getattr(module, name)
    if getattr(original, "_paft_wrapped", False):
        return
    expected = SIGNATURES[(module.__name__, name)]
    found = list(inspect.signature(original).parameters)
    if found != expected:
        raise UnsupportedLlamaFactory(f"{module.__name__}.{name} has parameters {found}, paft_ext expects {expected}")
    wrapper = functools.partial(getattr(hook, _WRAPPERS[name]), original)
    wrapped = functools.update_wrapper(lambda *a, **k: wrapper(*a, **k), original)
    wrapped._paft_wrapped = True
    setattr(module, name, wrapped)


def apply(module: ModuleType) -> None:
    """Patch one freshly executed LLaMA-Factory module. Under an unsupported LLaMA-Factory nothing is patched, so
    runs without PAFT work as if the extension were absent; a run with ``paft_*`` keys is refused there (the guard
    wraps ``_training_function`` with no assumption about its signature)."""
    try:
        check_version()
    except UnsupportedLlamaFactory as err:
        if module.__name__ == "llamafactory.train.tuner" and hasattr(module, "_training_function"):
            _refuse_paft_runs(module, err)
        return
    name = module.__name__
    if name == "llamafactory.data.converter":
        from .render import converter_class

        if "paft" not in module.DATASET_CONVERTERS:  # the public route; it refuses a second registration
            module.register_dataset_converter("paft", converter_class())
        return
    for (target, attribute) in SIGNATURES:
        if target == name:
            _wrap(module, attribute)


def _refuse_paft_runs(module: ModuleType, err: UnsupportedLlamaFactory) -> None:
    original = module._training_function

    @functools.wraps(original)
    def guarded(*args, **kwargs):
        from .hook import has_paft_keys

        config = args[0] if args else kwargs.get("config", {})
        try:
            paft = isinstance(config, dict) and has_paft_keys(config.get("args"))
        except (ImportError, AttributeError, TypeError, ValueError, OSError):
            paft = False  # arguments this upstream reads differently: leave the run to LLaMA-Factory
        if paft:
            raise err
        return original(*args, **kwargs)

    module._training_function = guarded


def apply_all() -> None:
    """Patch every target module already imported, and re-bind the re-exported ``llamafactory.data.get_dataset``."""
    for name in TARGET_MODULES:
        if name in sys.modules:
            apply(sys.modules[name])
    if "llamafactory.data" in sys.modules and "llamafactory.data.loader" in sys.modules:
        sys.modules["llamafactory.data"].get_dataset = sys.modules["llamafactory.data.loader"].get_dataset
