"""Answer extraction shared by training checks, evaluation and the report.

Multiple-choice tasks use OpenCompass's own ``first_option_postprocess`` so that our numbers equal OpenCompass's and
published ones. It takes any capital letter it finds ("Both are bad" -> B), so the report also counts answers under a
strict, prompt-agnostic rule (:func:`extract_choice_strict`: the option letter is the answer token) and how often the
two disagree.
GSM8K uses one prompt-agnostic rule, because test prompts ask for the final number in different formats.
"""

from __future__ import annotations

import re

_BOXED = re.compile(r"\\boxed\{\s*([^{}]*?)\s*\}")
_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?"
_CUED = re.compile(rf"(?:answer is|answer:|####)\s*\**\s*({_NUMBER})", re.IGNORECASE)
_ANY_NUMBER = re.compile(_NUMBER)


def normalise_number(text: str) -> str:
    """'$1,200.00' -> '1200'; '-3.50' -> '-3.5'."""
    text = text.replace(",", "").replace("$", "").strip().rstrip(".")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def cued_number(text: str) -> str:
    """The number a solution marks as its answer — the last ``\\boxed{}`` holding a number, else the last number
    after "answer is" / "answer:" / "####" — in the text before a follow-up "Question:"; '' when none is marked."""
    text = text.split("Question:")[0]
    for pattern in (_BOXED, _CUED):
        hits = [m for m in pattern.findall(text) if _ANY_NUMBER.fullmatch(m.replace(" ", ""))]
        if hits:
            return normalise_number(hits[-1])
    return ""


def extract_number(text: str) -> str:
    """The final number of a worked solution, or '' when there is none: :func:`cued_number`, else the last number
    anywhere before a follow-up "Question:"."""
    cued = cued_number(text)
    if cued:
        return cued
    numbers = _ANY_NUMBER.findall(text.split("Question:")[0])
    return normalise_number(numbers[-1]) if numbers else ""


def extract_choice(text: str, options: str) -> str:
    """The option letter OpenCompass would extract, or '' when there is none."""
    from opencompass.utils.text_postprocessors import first_option_postprocess

    return first_option_postprocess(text, options)


def extract_choice_strict(text: str, options: str) -> str:
    """The option letter when the output *is* an option letter — ``B``, ``(B)``, ``[B]``, ``B.``, ``B)``, ``B:``,
    alone or followed by more text after a space — else ''."""
    letters = "".join(re.escape(o) for o in options)
    match = re.match(rf"\s*[(\[]?([{letters}])(?:[)\].:]|\s|$)", text)
    return match[1] if match else ""


def original_letter(letter: str, options: str, order: str, symbols: str = "") -> str:
    """The original option that ``letter`` shows in a structure variant: a symbol (``symbols[k]`` labels slot k) is
    first read as its slot's letter, then ``order[k]`` is the option shown at slot k (see
    :mod:`paft_ext.pools.option_order`); '' stays '' (no answer), and without either the letter is the original."""
    if letter and symbols:
        letter = options[symbols.index(letter)]
    return order[options.index(letter)] if letter and order else letter


def extract_choice_in_order(text: str, options: str, order: str, symbols: str = "") -> str:
    """OpenCompass's option of ``text`` — over the variant's symbols where it shows others — mapped back to the
    original option (a ``pred_postprocessor`` for structure variants, so the dataset's own gold scores them)."""
    return original_letter(extract_choice(text, symbols or options), options, order, symbols)
