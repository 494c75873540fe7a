"""Compatibility fixes for OpenCompass 0.5.4 on transformers 5.6 — the one place that patches OpenCompass.

transformers 5 removed ``tokenizer.batch_encode_plus``, which OpenCompass's HF wrappers call in ``generate``
(``AttributeError: TokenizersBackend has no attribute batch_encode_plus``). These subclasses set the instance
attribute to the tokenizer's ``__call__`` (same arguments and output) right after OpenCompass loads the tokenizer.
Model configs name them by dotted path, so OpenCompass's task subprocesses import this module themselves.
tests/test_eval_units.py (``test_shim_is_still_needed_and_still_sufficient``) fails when upstream changes make the
shim unnecessary or wrong.
"""

from __future__ import annotations

import opencompass
from opencompass.models.huggingface_above_v4_33 import HuggingFaceBaseModel, HuggingFacewithChatTemplate

from .sorted_batches import LengthSortedGeneration

SUPPORTED_OPENCOMPASS = ("0.5.4",)
if opencompass.__version__ not in SUPPORTED_OPENCOMPASS:
    raise ImportError(f"paft_ext.evaluation.compat supports OpenCompass {SUPPORTED_OPENCOMPASS}, found "
                      f"{opencompass.__version__}")


def _restore_batch_encode_plus(tokenizer) -> None:
    if not hasattr(type(tokenizer), "batch_encode_plus"):
        tokenizer.batch_encode_plus = tokenizer.__call__


class PaftHFChatModel(LengthSortedGeneration, HuggingFacewithChatTemplate):
    """OpenCompass's chat-template HF model, working on transformers 5 (and with optional length-sorted batches)."""

    def _load_tokenizer(self, path, kwargs, pad_token_id=None):
        super()._load_tokenizer(path, kwargs, pad_token_id)
        _restore_batch_encode_plus(self.tokenizer)


class PaftHFBaseModel(LengthSortedGeneration, HuggingFaceBaseModel):
    """OpenCompass's raw-prompt HF model (the paper's ``--hf-type base`` protocol), working on transformers 5 (and
    with optional length-sorted batches)."""

    def _load_tokenizer(self, path, kwargs, pad_token_id=None):
        super()._load_tokenizer(path, kwargs, pad_token_id)
        _restore_batch_encode_plus(self.tokenizer)
