"""OpenCompass model configs for GPU inference engines: vLLM with LoRA adapters, LMDeploy for merged models.

The HF backend (:mod:`.run_config`) works everywhere; on GPUs 5 benchmarks × 50 prompts are far faster through an
engine. What each engine can do with an adapter decides what is generated, never silently dropping it (OpenCompass's
own ``-a vllm`` shortcut swaps the model class and loses ``peft_path``):

* ``vllm`` — ``VLLMwithChatTemplate(lora_path=…)`` sends every request with a ``LoRARequest``; the engine is started
  with ``enable_lora`` and a ``max_lora_rank`` covering the adapter's rank (vLLM accepts 8, 16, 32, 64, 128, 256, 320,
  512), and with the adapter folder's tokenizer, so the chat template is the one the adapter was trained with — as
  with the HF backend.
* ``lmdeploy`` — OpenCompass 0.5.4's ``TurboMindModelwithChatTemplate`` has no adapter argument, so a LoRA cannot be
  applied: adapters are refused with how to merge them first (``llamafactory-cli export``); base or merged models run.

Greedy decoding, ``max_out_len``, batch size, stop words and the byte-exact meta template are the HF backend's.
"""

from __future__ import annotations

import json
from pathlib import Path

from .settings import BACKENDS, EvalSettings, adapter_problem

VLLM_TYPE = "opencompass.models.VLLMwithChatTemplate"
LMDEPLOY_TYPE = "opencompass.models.TurboMindModelwithChatTemplate"
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


class BackendError(ValueError):
    """An evaluation that an engine cannot run as asked; the message says what to do instead."""


def lora_rank(adapter: str) -> int:
    path = Path(adapter) / "adapter_config.json"
    rank = json.loads(path.read_text(encoding="utf-8")).get("r")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise BackendError(f"{path}: no LoRA rank 'r' (got {rank!r}); vLLM needs it to size max_lora_rank")
    return rank


def vllm_max_lora_rank(ranks: list[int]) -> int:
    """The smallest rank vLLM accepts that covers every adapter of the run (one engine serves them all)."""
    need = max(ranks, default=8)
    for rank in VLLM_LORA_RANKS:
        if rank >= need:
            return rank
    raise BackendError(f"LoRA rank {need} exceeds vLLM's largest max_lora_rank {VLLM_LORA_RANKS[-1]}")


def engine_model(s: EvalSettings, abbr: str, adapter: str | None, tokenizer: str, stop_words: list[str],
                 meta_template: dict) -> dict:
    """One model config for backend ``s.backend`` (``vllm`` or ``lmdeploy``)."""
    gpus = max(1, s.num_gpus)
    common = {"abbr": abbr, "path": s.model, "max_seq_len": s.max_seq_len, "max_out_len": s.max_out_len,
              "batch_size": s.batch_size, "run_cfg": {"num_gpus": gpus}, "stop_words": stop_words,
              "meta_template": meta_template}
    if s.backend == "vllm":
        model_kwargs = {"tensor_parallel_size": gpus, "tokenizer": tokenizer, "max_model_len": s.max_seq_len}
        if s.adapters:
            model_kwargs |= {"enable_lora": True,
                             "max_lora_rank": vllm_max_lora_rank([lora_rank(a) for a in s.adapters.values()])}
        config = {"type": VLLM_TYPE, **common, "model_kwargs": model_kwargs, "generation_kwargs": {"temperature": 0}}
        if adapter:
            config["lora_path"] = adapter
        return config
    if s.backend == "lmdeploy":
        if adapter:
            raise BackendError(adapter_problem(s.backend, {abbr: adapter}))
        return {"type": LMDEPLOY_TYPE, **common, "engine_config": {"tp": gpus, "session_len": s.max_seq_len},
                "gen_config": {"top_k": 1, "temperature": 1e-6, "max_new_tokens": s.max_out_len}}
    raise BackendError(f"unknown backend {s.backend!r}; known: {', '.join(BACKENDS)}")
