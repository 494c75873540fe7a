"""Loaded from ``paft_ext_autoload.pth`` at every interpreter start, so the stock ``llamafactory-cli`` (and its
torchrun children) get the PAFT hook without a wrapper command.

It only inserts a tiny import finder (a plain class: importing ``importlib.abc`` would cost ~40 ms per start). The
finder patches the four LLaMA-Factory modules of :mod:`paft_ext.train.patches` right after they execute; nothing is
imported until LLaMA-Factory itself is. ``PAFT_EXT_DISABLE=1`` turns it off (a PAFT YAML then fails on its keys).
"""

from __future__ import annotations

import os
import sys

_TARGETS = frozenset(("llamafactory.hparams.parser", "llamafactory.data.converter", "llamafactory.data.loader",
                      "llamafactory.train.tuner"))


class _PaftFinder:
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            from paft_ext.train import patches

            patches.apply(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    if os.environ.get("PAFT_EXT_DISABLE") == "1":
        return
    if not any(type(f).__name__ == "_PaftFinder" for f in sys.meta_path):
        sys.meta_path.insert(0, _PaftFinder())


install()
