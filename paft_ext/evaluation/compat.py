"""Compatibility fixes for OpenCompass 0.5.4 on transformers 5.6 — the one place that patches OpenCompass.

transformers 5 removed ``tokenizer.batch_encode_plus``, which OpenCompass's HF wrappers call in ``generate``
(``AttributeError: TokenizersBackend has no attribute batch_encode_plus``). These subclasses set the instance
attribute to the tokenizer's ``__call__`` (same arguments and output) right after OpenCompass loads the tokenizer.
Model configs name them by dotted path, so OpenCompass's task subprocesses import this module themselves.
tests/test_eval_units.py (``test_shim_is_still_needed_and_still_sufficient``) fails when upstream changes make the
shim unnecessary or wrong.

They also merge a LoRA adapter into the base weights after loading (unless ``merge_adapter=False``, the setting
``merge_adapters``) (OpenCompass keeps peft's wrapper, whose per-layer
adapter calls made every adapter answer slower than the base model on CPU): the merge runs in float32 and the merged
weights are then cast to the requested dtype, so a bfloat16 evaluation rounds W + BA once instead of computing the
adapter path in bfloat16 beside the rounded base. ``test_adapter_is_merged_in_float32`` pins ``_load_model``'s
signature and checks the merged weights against the LoRA formula.

And they hand the output layer a contiguous input. ``generate`` computes logits for the last position only, a strided
``[batch, 1, hidden]`` slice; torch 2.11's ``matmul`` folds such an input into one matrix product only when the weight
requires grad, and peft freezes every base weight (merged or not), so for adapters it fell back to a batched product
that copies the whole vocabulary projection once per row — the embedded model's adapters generated 1.7-2x slower
than the base model on this CPU. ``test_output_layer_gets_a_contiguous_input`` fails when torch stops doing that.
"""

from __future__ import annotations

from typing import Any

import opencompass
from opencompass.models.huggingface_above_v4_33 import HuggingFaceBaseModel, HuggingFacewithChatTemplate

from .sorted_batches import LengthSortedGeneration

SUPPORTED_OPENCOMPASS = ("0.5.4",)
if opencompass.__version__ not in SUPPORTED_OPENCOMPASS:
    raise ImportError(f"paft_ext.evaluation.compat supports OpenCompass {SUPPORTED_OPENCOMPASS}, found "
                      f"{opencompass.__version__}")


def _load_merged(model, load, path, kwargs, peft_path, peft_kwargs) -> None:
    """Upstream's ``_load_model``; with an adapter, the base loaded in float32, the adapter merged, the result cast to
    the requested dtype (``auto`` or none: the merge is done in the checkpoint's dtype)."""
    import torch

    if not model.merge_adapter:
        load(path, kwargs, peft_path, peft_kwargs)
        return
    dtype = kwargs.get("torch_dtype")
    if isinstance(dtype, str):
        dtype = None if dtype == "auto" else getattr(torch, dtype.removeprefix("torch."))
    if peft_path is None or dtype is None:
        load(path, kwargs, peft_path, peft_kwargs)
    else:
        load(path, {**kwargs, "torch_dtype": torch.float32}, peft_path, peft_kwargs)
    if peft_path is not None:
        model.model = model.model.merge_and_unload().to(dtype or model.model.dtype).eval()


def contiguous_head_input(model) -> None:
    """Make the output layer's input contiguous (a ``[batch, 1, hidden]`` copy per generated token), so ``matmul``
    folds it into one matrix product whether or not the weights require grad (see the module docstring)."""
    model.get_output_embeddings().register_forward_pre_hook(lambda _layer, args: (args[0].contiguous(), *args[1:]))


def _restore_batch_encode_plus(tokenizer) -> None:
    if not hasattr(type(tokenizer), "batch_encode_plus"):
        tokenizer.batch_encode_plus = tokenizer.__call__


class TransformersFiveLoading:
    """Mixin for OpenCompass's HF model classes: the tokenizer shim and the adapter merge (``merge_adapter``)."""

    def __init__(self, *args: Any, merge_adapter: bool = True, **kwargs: Any) -> None:
        self.merge_adapter = merge_adapter  # read by _load_model, which the parent's __init__ calls
        super().__init__(*args, **kwargs)

    def _load_tokenizer(self, path, kwargs, pad_token_id=None):
        super()._load_tokenizer(path, kwargs, pad_token_id)
        _restore_batch_encode_plus(self.tokenizer)

    def _load_model(self, path, kwargs, peft_path=None, peft_kwargs=None):
        _load_merged(self, super()._load_model, path, kwargs, peft_path, dict(peft_kwargs or {}))
        contiguous_head_input(self.model)


class PaftHFChatModel(TransformersFiveLoading, LengthSortedGeneration, HuggingFacewithChatTemplate):
    """OpenCompass's chat-template HF model, working on transformers 5 (and with optional length-sorted batches)."""


class PaftHFBaseModel(TransformersFiveLoading, LengthSortedGeneration, HuggingFaceBaseModel):
    """OpenCompass's raw-prompt HF model (the paper's ``--hf-type base`` protocol), working on transformers 5 (and
    with optional length-sorted batches)."""
