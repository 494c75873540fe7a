"""Benchmark records (not LoRA adapters): raw records in (local data root or Hub), LLaMA-Factory and OpenCompass
files out."""
