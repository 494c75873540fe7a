"""The one piece of module-level run state: the :class:`RunState` of this process's current LLaMA-Factory run.

LLaMA-Factory calls the wrapped functions as free functions at different moments of one run (argument parsing,
dataset conversion, preprocessing, trainer creation) and instantiates the dataset converter itself, so nothing can be
handed from one call to the next except through an object they share. That object is :data:`RUN`, one per process
(LLaMA-Factory trains one run per process; torchrun ranks are processes), reset by the argument parser at the start
of every run. Only :mod:`.patches` reads it: it passes it explicitly to the hook functions, the converter class and
the trainer callback, which take it as an argument like GRPO's runner passes its own.
"""

from __future__ import annotations

from paft_ext.core.run_state import RunState

RUN = RunState()
