"""Refusing an adapter evaluated on another base model than the one it was trained on.

PEFT loads a LoRA onto any model whose module names match, and OpenCompass then reports numbers for a model that was
never trained (or fails to load it and reports nothing). Before a run, each adapter's ``adapter_config.json``
(``base_model_name_or_path``) is compared with the evaluated model by name (the last path component, so a Hub id and
a local copy of it match), and its LoRA weight shapes with the model's config (hidden size, number of layers).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_LAYER = re.compile(r"\.layers\.(\d+)\.")


def _model_shape(model: str) -> tuple[int | None, int | None]:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    config = getattr(config, "text_config", None) or config
    return getattr(config, "hidden_size", None), getattr(config, "num_hidden_layers", None)


def _adapter_shape(adapter: Path) -> tuple[int | None, int | None]:
    """(hidden size seen by q_proj's LoRA A, number of layers) of the adapter's weights, None where unknown."""
    path = adapter / "adapter_model.safetensors"
    if not path.is_file():
        return None, None
    from safetensors import SafetensorError, safe_open

    hidden, layers = None, set()
    try:
        with safe_open(str(path), framework="pt") as weights:
            for key in weights.keys():  # noqa: SIM118 (safe_open is not a mapping)
                match = _LAYER.search(key)
                if match:
                    layers.add(int(match[1]))
                if key.endswith("q_proj.lora_A.weight"):
                    hidden = weights.get_slice(key).get_shape()[1]
    except SafetensorError as err:  # truncated or not safetensors at all: name the file, not a raw library error
        raise ValueError(f"{path}: not a readable safetensors file ({err}); copy the adapter again") from None
    return hidden, (max(layers) + 1 if layers else None)


def base_mismatch(adapter: str | Path, model: str) -> str | None:
    """Why ``adapter`` does not belong on ``model`` (None: it does, as far as name and shapes tell)."""
    adapter = Path(adapter)
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = str(config.get("base_model_name_or_path") or "")
    problems = []
    if Path(base.rstrip("/")).name != Path(model.rstrip("/")).name:
        problems.append(f"it was trained on {base!r}, not {model!r}")
    (a_hidden, a_layers), (m_hidden, m_layers) = _adapter_shape(adapter), _model_shape(model)
    if a_hidden and m_hidden and a_hidden != m_hidden:
        problems.append(f"its LoRA weights have hidden size {a_hidden}, the model {m_hidden}")
    if a_layers and m_layers and a_layers > m_layers:
        problems.append(f"its LoRA weights cover {a_layers} layers, the model has {m_layers}")
    return "; ".join(problems) or None
