"""Curriculum sampling's order of the pool: templates closest to the fixed prompt first.

Framework-neutral (rows are plain field dicts); the LLaMA-Factory hook and GRPO both call it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paft_ext.pools.store import Prompt
from paft_ext.tasks import fill_template


def closeness_order(pool: Sequence[Prompt], rows: Sequence[dict[str, str]], own: Sequence[str]) -> tuple[int, ...]:
    """Pool indices by closeness to the fixed prompt, closest first (curriculum sampling): character 5-gram Jaccard
    (the pools' de-duplication measure) between each template filled with a row's fields and that row's fixed
    prompt ``own``, averaged over the rows given; ties keep pool order."""
    from paft_ext.pools.dedup import similarity

    scores = np.zeros(len(pool))
    for fields, text in zip(rows, own, strict=True):
        scores += similarity([fill_template(p.text, fields) for p in pool], [text])[:, 0]
    return tuple(int(i) for i in np.argsort(-scores, kind="stable"))
