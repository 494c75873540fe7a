"""What the shipped YAMLs are generated from: training recipes (model, template, LoRA, optimiser, batch) crossed with
the task registry. Generation only — the training hook (:mod:`paft_ext.llamafactory`) never reads these."""
