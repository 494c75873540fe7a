"""Prompt pool files: ``{id, text, source, hash}`` per JSON line, as shipped under ``data/prompts/<pool>/``.

The training hook and the OpenCompass configs read pools only through :func:`load_pool`, which refuses anything that
would silently train or evaluate on a broken or unsafe prompt: empty pools, duplicate ids, unknown placeholders,
templates that drop a field, and whatever :mod:`.safety` forbids (config substitution, control characters, chat
special tokens).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paft_ext.data_files import read_jsonl, write_jsonl
from paft_ext.tasks import PLACEHOLDER

from .safety import unsafe_problems


class PoolError(ValueError):
    """A pool file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    source: str
    # an option-order variant: at letter k the prompt shows original option ``option_order[k]`` ("BA": A shows the
    # original B); evaluation maps answers back (paft_ext.pools.option_order). "" = the original order.
    option_order: str = ""
    # a symbol variant: the prompt labels letter k's option ``symbols[k]`` ("12": A is shown as 1); answers are
    # mapped back to the letters (paft_ext.pools.structure_variants). "" = the task's own letters.
    symbols: str = ""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def template_problems(text: str, fields: Iterable[str]) -> list[str]:
    """Why ``text`` is not a usable template for ``fields`` (empty list = usable)."""
    fields = tuple(fields)
    used = PLACEHOLDER.findall(text)
    problems = []
    missing = [f for f in fields if f not in used]
    if missing:
        problems.append(f"missing placeholder(s) {', '.join('{' + f + '}' for f in missing)}")
    unknown = sorted({u for u in used if u not in fields})
    if unknown:
        problems.append(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}")
    return problems


def load_pool(path: str | Path, fields: Iterable[str], extra_special_tokens: Iterable[str] = (), *,
              training: bool = False) -> list[Prompt]:
    """The validated prompts of a pool file (jsonl), in file order. ``extra_special_tokens``: refused besides the
    common chat-control tokens (training passes its tokenizer's special tokens). ``training`` refuses option-order
    variants: training fills every template with its row's own options, so a variant's moved gold would be wrong."""
    path = Path(path)
    fields, extra_special_tokens = tuple(fields), tuple(extra_special_tokens)
    if not path.is_file():
        raise PoolError(f"{path}: prompt pool not found")
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    texts: dict[tuple[str, str], str] = {}  # (text, option order) -> id: one template under two ids counts twice
    for lineno, row in read_jsonl(path, PoolError):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("text"), str):
            raise PoolError(f"{path}:{lineno}: a pool line needs string 'id' and 'text'")
        if row["id"] in seen:
            raise PoolError(f"{path}:{lineno}: duplicate id {row['id']!r} (first on line {seen[row['id']]})")
        problems = template_problems(row["text"], fields) + unsafe_problems(row["text"], extra_special_tokens)
        if problems:
            raise PoolError(f"{path}:{lineno}: prompt {row['id']!r}: {'; '.join(problems)}")
        order = row.get("option_order", "")
        if order != "" and not (isinstance(order, str) and order.isalpha() and order.isupper()
                                and len(set(order)) == len(order)):
            raise PoolError(f"{path}:{lineno}: prompt {row['id']!r}: option_order must be a permutation of "
                            f"option letters such as \"BA\", got {order!r}")
        symbols = row.get("symbols", "")
        if symbols != "" and not (isinstance(symbols, str) and len(set(symbols)) == len(symbols)
                                  and not any(c.isspace() or c in "{}" for c in symbols)):
            raise PoolError(f"{path}:{lineno}: prompt {row['id']!r}: symbols must be distinct characters, one per "
                            f"option (such as \"12\"), got {symbols!r}")
        if (order or symbols) and training:
            kind = f"option_order {order!r}" if order else f"symbols {symbols!r}"
            raise PoolError(f"{path}:{lineno}: prompt {row['id']!r} is a structure variant ({kind}), an evaluation "
                            f"set; train on the original prompts (paft_option_order / paft_option_symbols draw these)")
        twin = texts.get((row["text"], order))
        if twin is not None:
            raise PoolError(f"{path}:{lineno}: prompt {row['id']!r} has the same text as prompt {twin!r}; a pool "
                            f"holds each template once")
        texts[(row["text"], order)] = row["id"]
        seen[row["id"]] = lineno
        prompts.append(Prompt(row["id"], row["text"], str(row.get("source", "unknown")), order, symbols))
    if not prompts:
        raise PoolError(f"{path}: prompt pool is empty")
    return prompts


_SUBSET_STREAM = 0x5053


def seeded_subset(prompts: list[Prompt], size: int | None, seed: int) -> list[Prompt]:
    """The first ``size`` prompts of a seeded permutation of ``prompts``, kept in file order (all when ``size`` is
    None): ``paft_pool_size``, the number-of-training-prompts ablation. Smaller subsets of one seed are nested in
    larger ones, so a curve over pool sizes adds prompts instead of drawing new ones."""
    if size is None:
        return list(prompts)
    if size > len(prompts):
        raise PoolError(f"paft_pool_size: {size} prompts asked, the pool holds {len(prompts)}")
    order = np.random.default_rng([seed, _SUBSET_STREAM]).permutation(len(prompts))[:size]
    return [prompts[i] for i in np.sort(order)]


def write_pool(path: Path, prompts: Iterable[Prompt]) -> None:
    """A pool file in the shipped format, ``{id, text, source, hash}`` per line — what :func:`load_pool` reads."""
    write_jsonl(path, [{"id": p.id, "text": p.text, "source": p.source, "hash": text_hash(p.text),
                        **({"option_order": p.option_order} if p.option_order else {}),
                        **({"symbols": p.symbols} if p.symbols else {})} for p in prompts])


def pool_digest(prompts: list[Prompt]) -> str:
    """A content hash of a pool (ids and texts), used in cache fingerprints and checkpoint state."""
    digest = hashlib.sha256()
    for prompt in prompts:
        digest.update(json.dumps([prompt.id, prompt.text, *([prompt.option_order] if prompt.option_order else []),
                                  *([prompt.symbols] if prompt.symbols else [])]).encode("utf-8"))
    return digest.hexdigest()
