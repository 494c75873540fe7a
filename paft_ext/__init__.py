"""paft_ext: Prompt-Agnostic Fine-Tuning for LLaMA-Factory and OpenCompass."""
__version__ = "0.1.0"
