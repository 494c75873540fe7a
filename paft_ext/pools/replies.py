"""What a generator's reply becomes: candidate templates split out, headings stripped, sentences that echo the
meta-prompt trimmed (or the template dropped), readable placeholder names renamed back to the task's fields.

Kept apart from the API client (:mod:`.generate`): these rules are about small models' habits, tested on their own.
"""

from __future__ import annotations

import difflib
import re

from paft_ext.tasks import PLACEHOLDER


def rename_placeholders(template: str, names: dict[str, str]) -> str:
    """``template`` with each ``{old}`` placeholder of ``names`` written ``{new}`` (one pass; other text untouched)."""
    return PLACEHOLDER.sub(lambda m: "{" + names.get(m.group(1), m.group(1)) + "}", template)


def parse_templates(text: str) -> list[str]:
    """Split a generator's answer into candidate templates: '---' separator lines, else numbered items, else the
    whole text. Nothing is filtered here: every candidate goes through validation, and rejects are kept."""
    blocks = [b for b in re.split(r"^\s*-{3,}\s*$", text, flags=re.MULTILINE) if b.strip()]
    if len(blocks) <= 1:
        items = re.split(r"^\s*\d{1,2}[.)]\s+", text, flags=re.MULTILINE)
        blocks = [b for b in items if b.strip()] if len(items) > 2 else blocks
    cleaned = [_HEADER.sub("", b.strip().strip("`\"'").strip()).strip() for b in blocks]
    return [b for b in cleaned if b]


# A heading line that models put before a template ("**Prompt Template:**", "Sure! Here's the prompt template:"):
# a first line that mentions a template or prompt, ends with a colon and holds no placeholder.
_HEADER = re.compile(r"\A[^\n{]*\b(?:template|prompt)\b[^\n{]*:[*\s]*\n", re.IGNORECASE)


ECHO_CHARS = 24


def echoes_meta_prompt(template: str, meta_prompt: str) -> bool:
    """Whether a generated template repeats a stretch of the meta-prompt's own instructions (≥ 24 characters outside
    placeholders, e.g. "ask for the letter of the right one"): small models do, and such a template instructs the
    evaluated model about writing prompts, not about the task. (The caller blanks the task description out of the
    meta-prompt: restating the task is fine.)"""
    a, b = PLACEHOLDER.sub("\x00", template.casefold()), PLACEHOLDER.sub("\x00", meta_prompt.casefold())
    match = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size >= ECHO_CHARS


_FRAGMENTS = re.compile(r"(?<=[.!?;])[ \t]+|(?=\n)")


def trim_echoes(template: str, meta_prompt: str) -> str | None:
    """``template`` without the sentences that repeat the meta-prompt's instructions, or None when such a sentence
    holds a placeholder or nothing usable is left (the template is then dropped, and recorded as dropped)."""
    kept = []
    for fragment in _FRAGMENTS.split(template):
        if echoes_meta_prompt(fragment, meta_prompt):
            if PLACEHOLDER.search(fragment):
                return None
            continue
        kept.append(fragment)
    text = re.sub(r"[ \t]+\n", "\n", " ".join(kept).replace(" \n", "\n")).strip()
    return text if text and not echoes_meta_prompt(text, meta_prompt) else None
