"""Data adapters: raw benchmark records in (local data root or Hub), LLaMA-Factory and OpenCompass files out."""
