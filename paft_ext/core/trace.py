"""Which pool prompts a rendered training text carries — what the callback's trace records per optimizer step."""

from __future__ import annotations

import re
from collections.abc import Sequence

from paft_ext.pools.option_prose import option_block
from paft_ext.pools.option_symbols import symbolize
from paft_ext.pools.store import Prompt
from paft_ext.tasks import PLACEHOLDER


def identify_prompts(text: str, pool: Sequence[Prompt], letters: str = "", options: Sequence[str] = ()) -> list[str]:
    """Ids of pool prompts whose literal text (placeholders as wildcards) appears in ``text`` — for traces. With
    structure draws (``letters``) the option labels are wildcards too, since the window may show other symbols; with
    prose draws (``options``: the option placeholders) so is a template's listed option block, which the window may
    have written as a sentence."""
    hits = []
    for prompt in pool:
        template = symbolize(prompt.text, letters) if letters else prompt.text
        block = option_block(template, options, letters) if options else None
        pieces = [template] if block is None else [template[:block.start()], template[block.end():]]
        parts = [part for piece in pieces for part in PLACEHOLDER.split(piece)[::2]]
        pattern = "(?s)" + ".*?".join(re.escape(part) for part in parts)
        if re.search(pattern, text):
            hits.append(prompt.id)
    return hits
