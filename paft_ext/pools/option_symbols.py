"""Option symbols in prompt templates: which letters of a template label options, as slots other symbols can fill.

Pool templates write option letters ("A. {sol1}", "Answer with A or B."); structure draws in training
(:mod:`paft_ext.core.structure`) and symbol variants for evaluation (:mod:`.structure_variants`) show other symbols
(1/2, a/b) in their place. :func:`symbolize` turns each letter that labels an option or names an answer into its slot
``{_sym_<letter>}``, by rule (only the text between placeholders is read): every standalone option letter is a label,
except an English article — an ``A`` followed by a word, unless the word before it names an option ("option A fits",
"with A if …"), another option letter is followed by the same word ("A means …; B means …"), or the word is a
connective ("A or B", "A to D").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from paft_ext.tasks import PLACEHOLDER

SLOT = "_sym_"
_NAMING_WORDS = frozenset(
    "option options choice choices answer answers letter letters label labels solution solutions candidate "
    "candidates pile piles reply replies version versions continuation continuations ending endings with pick "
    "choose select either from write respond output say type assign indicate".split())
_CONNECTIVES = frozenset("or and to through nor".split())
SHOT_SEPARATOR = "\n\n"


class StructureError(ValueError):
    """Structure draws or variants that cannot be rendered as asked (the message names the key, row or template)."""


def _letter_pattern(letters: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9_])([{re.escape(letters)}])(?![A-Za-z0-9_])(?!['’][a-z])")


def _is_article(literal: str, match: re.Match, letters: str, literals: str) -> bool:
    """Whether the letter ``match`` found is the English article "A" rather than a label (see the module doc)."""
    if match[1] != "A":
        return False
    following = re.match(r"[ \t]+([A-Za-z][\w'’-]*)", literal[match.end():])
    if not following:
        return False
    word = following[1]
    if word.lower() in _CONNECTIVES:
        return False
    before = re.findall(r"[A-Za-z]+", literal[:match.start()])
    if before and before[-1].lower() in _NAMING_WORDS:
        return False
    others = "".join(x for x in letters if x != "A")
    return not re.search(rf"(?<![A-Za-z0-9'’_])[{re.escape(others)}][ \t]+{re.escape(word)}(?![\w'’-])", literals)


@lru_cache(maxsize=4096)
def symbolize(template: str, letters: str) -> str:
    """``template`` with each option letter of its literal text turned into its slot ``{_sym_<letter>}``. Cached:
    rendering calls it for every row and shot, a trace for every pool prompt of every traced row, and a pool holds
    a few hundred templates."""
    parts, last = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts += [template[last:match.start()], match[0]]
        last = match.end()
    parts.append(template[last:])
    literals = "\n".join(parts[::2])
    pattern = _letter_pattern(letters)

    def convert(literal: str) -> str:
        return pattern.sub(lambda m: m[0] if _is_article(literal, m, letters, literals) else "{" + SLOT + m[1] + "}",
                           literal)

    return "".join(part if i % 2 else convert(part) for i, part in enumerate(parts))


def has_slots(template: str, letters: str) -> bool:
    return SLOT in symbolize(template, letters)


def check_symbol_sets(sets: Sequence[str], letters: str, where: str) -> None:
    """Each set names one symbol per option: ``len(letters)`` distinct characters, none a space or brace."""
    for symbols in sets:
        if len(symbols) != len(letters) or len(set(symbols)) != len(symbols) or re.search(r"[\s{}]", symbols):
            raise StructureError(f"{where}: symbol set {symbols!r} must be {len(letters)} distinct characters (one "
                                 f"per option {letters}), no spaces or braces")


