"""Options defined in a sentence instead of listed: a structure draw that rewrites a template's option block.

Every template of the shipped pools lists its options as label + text ("A. {A}", "(A) {A}", "Option A: {A}"). On
hand-written SST-2 prompts that define the letters in a sentence instead ("A = negative, B = positive", "assign A when
the stance is …") the structure-trained adapters read near chance while they read ~88 on listed options
(``results/structure/sst2/README.md``). With ``paft_option_prose`` a drawn window may show its template's options as
one of the sentences below; the window's option order and symbols apply to it as to a listing, and the gold answer is
still the symbol written next to the correct option's text.

The forms are written by hand for training only (provenance: hand-written for this draw); none shares a sentence with
a shipped test or held-out validation prompt (``tests/test_structure_prose.py``). A template whose options are not one
contiguous listed block (labels written into the instruction, options inside a sentence) keeps its own wording.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .option_symbols import SLOT


@dataclass(frozen=True)
class ProseForm:
    """A sentence naming each option's symbol: ``item`` per option (``{S}`` its symbol slot, ``{O}`` its text),
    joined by ``joiner`` and, before the last, ``last``; ``frame`` holds the joined ``{items}``."""

    frame: str
    item: str
    joiner: str = ", "
    last: str = " or "

    def render(self, slots: Sequence[str], placeholders: Sequence[str]) -> str:
        items = [self.item.replace("{S}", "{" + s + "}").replace("{O}", "{" + p + "}")
                 for s, p in zip(slots, placeholders, strict=True)]
        joined = self.joiner.join(items[:-1]) + self.last + items[-1] if len(items) > 1 else items[0]
        return self.frame.replace("{items}", joined)


PROSE_FORMS: tuple[ProseForm, ...] = (
    ProseForm("Possible answers: {items}.", "{S} if it is {O}"),
    ProseForm("Write {items}.", "{S} for {O}"),
    ProseForm("The choices: {items}.", "{S} ({O})", last=" and "),
    ProseForm("Is it {items}?", "{O} (reply {S})"),
    ProseForm("Answer key: {items}.", "{S} — {O}", joiner="; ", last="; "),
    ProseForm("Pick {items}.", "{S} when the answer is {O}", last=", or "),
    ProseForm("{items}", "Say {S} for {O}.", joiner=" ", last=" "),
    ProseForm("{items}.", "{O} gets {S}", joiner="; ", last="; "),
)

_BETWEEN = r"[ \t]*[).:\]-]?[ \t]*"  # between a label and its option: "A. ", "(A) ", "A: ", "[A] "


def _item(letter: str, placeholder: str, word: str) -> str:
    return rf"{word}[(\[]?\{{{SLOT}{letter}\}}{_BETWEEN}\{{{re.escape(placeholder)}\}}"


def option_block(template: str, options: Sequence[str], letters: str) -> re.Match | None:
    """The listed option block of a symbolized template (slots ``{_sym_<letter>}``): every option as label + text,
    in letter order, nothing but whitespace between them, each label with the same optional word before it
    ("Option "). None when the template lists them otherwise."""
    for word in (r"(?:(?P<word>[A-Z][a-z]+) )", ""):
        parts = [_item(letters[0], options[0], word)]
        parts += [_item(letter, option, "(?P=word) " if word else "") for letter, option in
                  zip(letters[1:], options[1:], strict=True)]
        found = re.search(r"\s*".join(parts), template)
        if found:
            return found
    return None


def with_prose(template: str, options: Sequence[str], letters: str, form: ProseForm) -> str | None:
    """``template`` (symbolized) with its listed option block replaced by ``form``; None when it has no such block."""
    block = option_block(template, options, letters)
    if block is None:
        return None
    sentence = form.render([SLOT + letter for letter in letters], options)
    return template[:block.start()] + sentence + template[block.end():]
