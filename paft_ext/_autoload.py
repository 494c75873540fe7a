"""Loaded from ``paft_ext_autoload.pth`` at every interpreter start, so the stock ``llamafactory-cli`` (and its
torchrun children) get the PAFT hook without a wrapper command.

It only inserts a tiny import finder (a plain class: importing ``importlib.abc`` would cost ~40 ms per start). The
finder waits for ``llamafactory.train.tuner`` and wraps its ``_training_function`` with a gate
(:mod:`paft_ext.llamafactory.patches`); nothing else is patched, and nothing of paft_ext is imported, until a run whose
arguments touch PAFT reaches that gate. ``PAFT_EXT_DISABLE=1`` turns it off (a PAFT YAML then fails on its keys).
"""

from __future__ import annotations

import os
import sys

_TARGET = "llamafactory.train.tuner"


class _PaftFinder:
    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET:
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

        def exec_and_install(module):
            exec_module(module)
            from paft_ext.llamafactory import patches

            patches.install(module)

        spec.loader.exec_module = exec_and_install
        return spec


def install() -> None:
    if os.environ.get("PAFT_EXT_DISABLE") == "1":
        return
    if _TARGET in sys.modules:  # imported before this finder existed (e.g. paft_ext loaded late): wrap it now
        from paft_ext.llamafactory import patches

        patches.install(sys.modules[_TARGET])
    elif not any(type(f).__name__ == "_PaftFinder" for f in sys.meta_path):
        sys.meta_path.insert(0, _PaftFinder())


install()
