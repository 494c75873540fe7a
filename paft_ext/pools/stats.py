"""Diversity statistics of a pool, written to its manifest: what a reader needs to judge whether the pool covers the
ways users actually write prompts (lengths, layouts, field orders, answer-format phrasings)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from paft_ext.tasks import PLACEHOLDER, TaskSpec

_OPTION_LINE = re.compile(r"^\s*[\(\[]?(?:option\s+|choice\s+)?[A-D][\)\].:]?(?:\s|$)", re.IGNORECASE | re.MULTILINE)
_ANSWER_CUE = re.compile(r"(answer|response|choice|letter|option)\s*(is)?\s*:?\s*$", re.IGNORECASE)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in PLACEHOLDER.sub("{…}", text).split("\n") if line.strip()]
    return lines[-1] if lines else ""


def pool_stats(texts: Sequence[str], task: TaskSpec) -> dict:
    if not texts:
        return {"prompts": 0}
    lengths = np.array([len(t) for t in texts])
    orders = Counter(tuple(dict.fromkeys(PLACEHOLDER.findall(t))) for t in texts)
    last_lines = Counter(_last_line(t) for t in texts)
    choice = task.answer_kind == "choice"
    return {
        "prompts": len(texts),
        "chars": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max()),
                  "std": round(float(lengths.std()), 1)},
        "lines_median": float(np.median([t.count("\n") + 1 for t in texts])),
        "starts_with_field": round(sum(bool(re.match(r"\s*\{", t)) for t in texts) / len(texts), 3),
        "options_on_own_lines": round(sum(len(_OPTION_LINE.findall(t)) >= 2 for t in texts) / len(texts), 3)
        if choice else None,
        "field_orders": len(orders),
        "top_field_orders": [[list(order), count] for order, count in orders.most_common(3)],
        "ends_with_answer_cue": round(sum(bool(_ANSWER_CUE.search(_last_line(t))) for t in texts) / len(texts), 3),
        "distinct_last_lines": len(last_lines),
    }
