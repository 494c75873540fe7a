"""The framework-neutral PAFT core: the seeded prompt schedule and its sampling strategies, structure draws, the run
state, artefacts, and the trainer callback. It imports no LLaMA-Factory, TRL or OpenCompass
(tests/test_import_graph.py); the LLaMA-Factory hook (:mod:`paft_ext.llamafactory`) and GRPO (:mod:`paft_ext.rl`)
are built on it."""
