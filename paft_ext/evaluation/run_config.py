"""Model, partitioner and runner configs for ``opencompass_configs/eval_paft.py``, built from :class:`EvalSettings`.

Every model gets the same greedy decoding, batch size and ``max_out_len`` (also set on every dataset's inferencer,
whose own length would otherwise win), and its tokenizer's end-of-turn token as stop word, so accuracy, output
length and time are comparable. Prompts are sent byte-exact: the meta template has only a HUMAN and a BOT turn
(OpenCompass's default appends a newline to user messages), and the chat template — with its default system prompt
— is the one LLaMA-Factory trained the adapters with (saved into each adapter folder; the base model is given that
same tokenizer), which need not be the checkpoint's own.
"""

from __future__ import annotations

from pathlib import Path

from .settings import EvalSettings, load_settings

__all__ = ["evaluation", "infer", "load_settings", "models"]

BYTE_EXACT_META = {"round": [{"role": "HUMAN", "api_role": "HUMAN"},
                             {"role": "BOT", "api_role": "BOT", "generate": True}]}
SORT_CHUNK = 16  # batches per length-sorted chunk
_TYPES = {"chat": "paft_ext.evaluation.compat.PaftHFChatModel", "base": "paft_ext.evaluation.compat.PaftHFBaseModel"}


def model_kwargs(num_gpus: int, dtype: str | None = None) -> dict:
    """float32 on CPU unless ``dtype`` asks for bfloat16 (opt-in: fast only on CPUs with bf16 instructions, and
    greedy outputs can differ from float32's); the checkpoint's dtype on GPUs (OpenCompass maps devices)."""
    if num_gpus == 0:
        return {"torch_dtype": dtype or "float32", "device_map": "cpu"}
    return {"torch_dtype": dtype or "auto"}


def _hf_model(s: EvalSettings, abbr: str, adapter: str | None, tokenizer: str) -> dict:
    config = {
        "type": _TYPES[s.model_type], "abbr": abbr, "path": s.model, "tokenizer_path": tokenizer,
        "model_kwargs": model_kwargs(s.num_gpus, s.dtype), "generation_kwargs": {"do_sample": False},
        "max_seq_len": s.max_seq_len, "max_out_len": s.max_out_len, "min_out_len": 1, "batch_size": s.batch_size,
        "run_cfg": {"num_gpus": s.num_gpus}, "stop_words": stop_words(tokenizer),
    }
    if s.length_sorted:  # the inferencer hands over SORT_CHUNK batches at once; the model re-batches them by length
        config.update(batch_size=s.batch_size * SORT_CHUNK, micro_batch_size=s.batch_size)
    if s.model_type == "chat":
        config["meta_template"] = BYTE_EXACT_META
    if adapter:
        config.update(peft_path=adapter, merge_adapter=s.merge_adapters)
    return config


def stop_words(path: str) -> list[str]:
    """The end-of-turn token of the tokenizer (OpenCompass adds eos itself; chat templates may end turns otherwise)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    return [tokenizer.eos_token] if tokenizer.eos_token else []


def models(s: EvalSettings) -> list[dict]:
    if s.model_type == "api":
        return [{"type": "opencompass.models.OpenAISDK", "abbr": s.model_abbr, "path": s.model,
                 "openai_api_base": s.api_base_url, "key": "ENV", "tokenizer_path": s.api_tokenizer,
                 "meta_template": BYTE_EXACT_META, "query_per_second": 32, "max_out_len": s.max_out_len,
                 "batch_size": s.batch_size, "temperature": 0.0, "run_cfg": {"num_gpus": 0}}]
    for abbr, adapter in s.adapters.items():
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise FileNotFoundError(f"PAFT_EVAL_ADAPTERS: {abbr}={adapter} has no adapter_config.json")
    build = _hf_model if s.backend == "hf" else _engine_model
    models = [build(s, abbr, adapter, tokenizer=adapter) for abbr, adapter in s.adapters.items()]
    if s.include_base:
        # The base model is prompted with the chat template the adapters were trained with (LLaMA-Factory saves it
        # into the adapter folder), so every model compared sees byte-identical inputs.
        tokenizer = s.tokenizer or next(iter(s.adapters.values()), s.model)
        models.insert(0, build(s, s.model_abbr, None, tokenizer=tokenizer))
    return models


def _engine_model(s: EvalSettings, abbr: str, adapter: str | None, tokenizer: str) -> dict:
    from .backends import engine_model

    return engine_model(s, abbr, adapter, tokenizer, stop_words(tokenizer), BYTE_EXACT_META)


def infer(s: EvalSettings) -> dict:
    """One inference process per worker, each loading a model once and looping over its datasets. ``num_split=1``
    never shards a dataset, which also sidesteps the stale ``.cache/dataset_size.json`` truncation."""
    return {"partitioner": {"type": "opencompass.partitioners.NumWorkerPartitioner", "num_worker": s.workers,
                            "num_split": 1},
            "runner": {"type": "opencompass.runners.LocalRunner", "max_num_workers": s.workers,
                       "task": {"type": "opencompass.tasks.OpenICLInferTask"}}}


def evaluation(s: EvalSettings) -> dict:
    """Scoring in few processes: each costs ~11 s of imports, so 100 datasets share one."""
    return {"partitioner": {"type": "opencompass.partitioners.NaivePartitioner", "n": 100},
            "runner": {"type": "opencompass.runners.LocalRunner", "max_num_workers": s.eval_workers,
                       "task": {"type": "opencompass.tasks.OpenICLEvalTask"}}}
