"""Cleaning and validating candidate prompt templates.

Every candidate is normalised (literal ``\\n``/``\\t`` escapes — as in the authors' released pools — become real
characters; trailing spaces, runs of blanks and of empty lines are collapsed), then checked. A rejected candidate is
kept with its reason so that nothing is silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from paft_ext.tasks import PLACEHOLDER, TaskSpec

from .safety import unsafe_problems
from .store import template_problems

MIN_CHARS = 12
MAX_CHARS = 1200
_NUMBERED_OPTIONS = re.compile(r"\b(?:option|choice|answer|solution|candidate)\s*(?:#\s*)?[1-4]\b|\b1\s*or\s*2\b|"
                               r"\(\s*[1-4]\s*\)", re.IGNORECASE)
_LETTER_LABEL = re.compile(r"(?:^|[\s(\[])([A-Z])(?:[.):\]]|\s*=)\s")
_LETTER_LIST = re.compile(r"\b([A-E])\s*(?:,|/|\bor\b|\band\b)\s*([A-E])\b")
_NON_NUMERIC = re.compile(r"\b(?:in words|spell(?:ed)? out|without (?:any )?numbers?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    text: str
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def normalise(text: str) -> str:
    """Unescape literal ``\\n``/``\\t``, strip, drop trailing blanks per line, collapse blank runs and >2 newlines."""
    text = text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\t", "\t").replace("\r\n", "\n")
    lines = [re.sub(r"[ \t]+", " ", line).rstrip() for line in text.strip().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _answer_format_problem(text: str, task: TaskSpec) -> str | None:
    """Why the prompt's answer instructions would defeat the task's answer extraction, or None."""
    static = PLACEHOLDER.sub(" ", text)
    if task.answer_kind == "number":
        return "asks for a non-numeric final answer" if _NON_NUMERIC.search(static) else None
    if _NUMBERED_OPTIONS.search(static):
        return "refers to options by number; answers are extracted as option letters"
    letters = set(_LETTER_LABEL.findall(static))
    for pair in _LETTER_LIST.findall(static):
        letters.update(pair)
    foreign = sorted(letter for letter in letters if letter in "ABCDE" and letter not in task.choices)
    if foreign:
        return f"mentions option letter(s) {', '.join(foreign)} but the task's options are {', '.join(task.choices)}"
    return None


def validate(raw: str, task: TaskSpec, *, min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS,
             extra_special_tokens: Iterable[str] = ()) -> Verdict:
    """The normalised candidate and every reason it cannot be used (none = accepted)."""
    text = normalise(raw)
    reasons = list(template_problems(text, task.fields)) + unsafe_problems(text, extra_special_tokens)
    if task.answer_kind != "number" and "\\boxed{}" in text:
        reasons.append("asks for \\boxed{}, a number-answer format, in a choice task")
    static_chars = len(PLACEHOLDER.sub("", text).strip())
    if static_chars < min_chars:
        reasons.append(f"too short: {static_chars} characters besides placeholders (min {min_chars})")
    if len(text) > max_chars:
        reasons.append(f"too long: {len(text)} characters (max {max_chars})")
    defined = [f for f in task.fields if re.search(r"^\s*\{" + f + r"\}\s*(?:=|means)\s", text, re.MULTILINE)]
    if defined:
        reasons.append(f"defines placeholder(s) {', '.join('{' + f + '}' for f in defined)} instead of using them")
    problem = _answer_format_problem(text, task)
    if problem:
        reasons.append(problem)
    return Verdict(text, tuple(reasons))
