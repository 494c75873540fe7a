"""What a prompt template may not contain, checked wherever a pool is loaded (training, evaluation, ``pools check``)
and when candidates are validated — one rule set, so a template refused at generation is refused everywhere.

* **Config machinery.** OpenCompass/mmengine substitute ``{{$ENV_VAR:default}}``, ``{{ fileDirname }}`` and the like
  in config text, including the config OpenCompass dumps and re-reads per task: a template holding one would send an
  environment variable (an API key) to the model, into ``predictions/*.json`` and the logs. Any brace outside a
  ``{field}`` placeholder is refused (GSM8K's literal ``\\boxed{}`` request excepted), and so are ``{%``/``%}``.
* **Invisible characters.** NUL and other control characters (tab and newline excepted), and literal ``\\n``/``\\t``
  escapes (the authors' released pools have them; :func:`paft_ext.pools.validate.normalise` turns them into real
  characters, so a loaded pool must not contain them any more).
* **Chat-control tokens.** ``<|im_start|>`` and its kind tokenise to special ids: a template holding one injects a
  fake turn into training rows. The default list covers common chat templates; training adds every special token of
  the model's tokenizer.

Instruction-override phrasing ("ignore previous instructions") is only *flagged*, for review in the pool manifest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from paft_ext.tasks.spec import PLACEHOLDER

ALLOWED_BRACES = ("\\boxed{}",)
CONTROL_TOKENS = (
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_sep|>",  # ChatML (SmolLM2, Qwen, Phi)
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",  # Llama 3
    "<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>",  # Llama 2 / Mistral
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>",  # Gemma
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",  # Zephyr / Phi-3
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|all)\b[^.\n]{0,20}"
    r"\b(?:instructions?|prompts?|rules?)\b|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|\bjailbreak\b",
    re.IGNORECASE)


def unsafe_problems(text: str, extra_special_tokens: Iterable[str] = ()) -> list[str]:
    """Why ``text`` may not be used as a template, whatever the task (empty list = nothing unsafe). The chat-control
    tokens of :data:`CONTROL_TOKENS` are always refused; ``extra_special_tokens`` (a tokenizer's own) as well."""
    problems = []
    rest = PLACEHOLDER.sub("", text)
    if "{{" in rest or "}}" in rest or "{%" in rest or "%}" in rest:
        problems.append("holds '{{', '}}', '{%' or '%}', which config machinery (mmengine) would substitute")
    for allowed in ALLOWED_BRACES:
        rest = rest.replace(allowed, "")
    if "{" in rest or "}" in rest:
        problems.append("stray brace outside a placeholder")
    controls = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t"})
    if controls:
        problems.append(f"control character(s) {', '.join(controls)}")
    if "\\n" in text or "\\t" in text:
        problems.append("literal \\n or \\t escape (normalise the template first)")
    tokens = sorted({t for t in (*CONTROL_TOKENS, *extra_special_tokens) if t and t in text})
    if tokens:
        problems.append(f"special token(s) {', '.join(tokens)} (would inject chat control into the rows)")
    return problems


def tokenizer_special_tokens(tokenizer) -> tuple[str, ...]:
    """Every special token of a Hugging Face tokenizer, including added ones marked special (SmolLM2's
    ``<repo_name>``, ``<file_sep>``, …): each tokenises to a control id."""
    added = getattr(tokenizer, "added_tokens_decoder", {}).values()
    return (*getattr(tokenizer, "all_special_tokens", ()), *(t.content for t in added if t.special))


def special_tokens_of(tokenizers: list[str]) -> tuple[str, ...]:
    """The special tokens of the tokenizers at these paths/Hub ids (for generation: the models a pool is for)."""
    from transformers import AutoTokenizer

    return tuple(t for path in tokenizers for t in tokenizer_special_tokens(AutoTokenizer.from_pretrained(path)))


def override_flags(text: str) -> list[str]:
    """Instruction-override phrases in ``text``, for review (a prompt is not refused for them)."""
    return sorted({m.group(0).lower() for m in _OVERRIDE.finditer(text)})
