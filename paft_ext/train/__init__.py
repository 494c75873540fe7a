"""Stage 2: dynamic prompt fine-tuning inside LLaMA-Factory (recipes, YAML generation, and the training hook)."""
