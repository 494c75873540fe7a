"""GPU backend model configs, generated and checked on CPU (no engine is installed here): vLLM carries every
adapter, LMDeploy refuses adapters, and the HF backend is unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from paft_ext.evaluation.backends import VLLM_TYPE, vllm_max_lora_rank
from paft_ext.evaluation.run_config import BYTE_EXACT_META, models
from paft_ext.evaluation.settings import EvalSettings, load_settings


def _adapter(folder: Path, rank: int, tokenizer_from: Path) -> str:
    """An adapter folder as LLaMA-Factory leaves it, as far as config generation reads it: the config and the
    tokenizer (with the chat template it trained with)."""
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
    for path in [*tokenizer_from.glob("tokenizer*"), tokenizer_from / "chat_template.jinja"]:
        shutil.copy(path, folder / path.name)
    return str(folder)


def test_vllm_configs_carry_each_adapter(tmp_path, default_model_path):
    adapters = {name: _adapter(tmp_path / name, rank, default_model_path) for name, rank in (("paft", 16),
                                                                                              ("fixed", 24))}
    s = EvalSettings(tasks=("sst2",), model=str(default_model_path), adapters=adapters, backend="vllm", num_gpus=2,
                     max_out_len=4, batch_size=64)
    base, paft, fixed = models(s)
    assert [m["type"] for m in (base, paft, fixed)] == [VLLM_TYPE] * 3
    assert (base["abbr"], paft["abbr"], fixed["abbr"]) == ("base", "paft", "fixed")
    assert "lora_path" not in base and paft["lora_path"] == adapters["paft"] and fixed["lora_path"] == adapters["fixed"]
    for m in (base, paft, fixed):
        # one engine size for all: rank 24 needs vLLM's next allowed max_lora_rank, 32; 2-way tensor parallel
        assert m["model_kwargs"]["enable_lora"] is True and m["model_kwargs"]["max_lora_rank"] == 32
        assert m["model_kwargs"]["tensor_parallel_size"] == 2 and m["run_cfg"] == {"num_gpus": 2}
        assert (m["max_out_len"], m["batch_size"], m["meta_template"]) == (4, 64, BYTE_EXACT_META)
        assert m["generation_kwargs"] == {"temperature": 0} and m["stop_words"] == ["<|im_end|>"]
    # the chat template each model sees is the adapter's (the base model gets the first adapter's)
    assert base["model_kwargs"]["tokenizer"] == adapters["paft"]
    assert fixed["model_kwargs"]["tokenizer"] == adapters["fixed"]


def test_vllm_rank_choice_by_hand():
    assert [vllm_max_lora_rank([r]) for r in (4, 8, 9, 64, 300, 512)] == [8, 8, 16, 64, 320, 512]
    with pytest.raises(ValueError, match="exceeds"):
        vllm_max_lora_rank([1024])


def test_lmdeploy_refuses_adapters_and_runs_base_models(tmp_path, default_model_path):
    adapter = _adapter(tmp_path / "paft", 16, default_model_path)
    with pytest.raises(ValueError, match=r"lmdeploy backend cannot apply the LoRA adapter paft=.*llamafactory-cli "
                                         r"export"):
        load_settings({"PAFT_EVAL_BACKEND": "lmdeploy", "PAFT_EVAL_ADAPTERS": f"paft={adapter}",
                       "PAFT_EVAL_TASKS": "sst2"})
    (base,) = models(EvalSettings(tasks=("sst2",), model=str(default_model_path), backend="lmdeploy", num_gpus=8))
    assert base["type"] == "opencompass.models.TurboMindModelwithChatTemplate"
    assert base["engine_config"]["tp"] == 8 and base["gen_config"]["top_k"] == 1  # greedy
    assert "lora_path" not in base and "peft_path" not in base


def test_bad_backend_settings_are_refused():
    with pytest.raises(ValueError, match="PAFT_EVAL_BACKEND must be one of hf, vllm, lmdeploy"):
        load_settings({"PAFT_EVAL_BACKEND": "trt", "PAFT_EVAL_TASKS": "sst2"})
    with pytest.raises(ValueError, match="serves chat models only"):
        load_settings({"PAFT_EVAL_BACKEND": "vllm", "PAFT_EVAL_MODEL_TYPE": "base", "PAFT_EVAL_TASKS": "sst2"})


def test_hf_backend_is_unchanged(tmp_path, default_model_path):
    adapter = _adapter(tmp_path / "paft", 16, default_model_path)
    base, paft = models(EvalSettings(tasks=("sst2",), model=str(default_model_path), adapters={"paft": adapter}))
    assert base["type"] == paft["type"] == "paft_ext.evaluation.compat.PaftHFChatModel"
    assert paft["peft_path"] == adapter and "peft_path" not in base and "lora_path" not in paft


def test_bfloat16_on_cpu_is_opt_in(tmp_path, default_model_path):
    (default,) = models(EvalSettings(tasks=("sst2",), model=str(default_model_path)))
    (bf16,) = models(load_settings({"PAFT_EVAL_TASKS": "sst2", "PAFT_EVAL_MODEL": str(default_model_path),
                                    "PAFT_EVAL_DTYPE": "bfloat16"}))
    assert default["model_kwargs"] == {"torch_dtype": "float32", "device_map": "cpu"}
    assert bf16["model_kwargs"] == {"torch_dtype": "bfloat16", "device_map": "cpu"}
    with pytest.raises(ValueError, match="PAFT_EVAL_DTYPE must be float32 or bfloat16"):
        load_settings({"PAFT_EVAL_TASKS": "sst2", "PAFT_EVAL_DTYPE": "fp8"})


def test_an_adapter_without_a_rank_is_refused_for_vllm(tmp_path, default_model_path):
    adapter = _adapter(tmp_path / "norank", 16, default_model_path)
    (Path(adapter) / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(ValueError, match=r"norank/adapter_config.json: no LoRA rank 'r'"):
        models(EvalSettings(tasks=("sst2",), model=str(default_model_path), adapters={"p": adapter}, backend="vllm"))
