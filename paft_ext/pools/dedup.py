"""De-duplication and the leakage-safe train/test split.

Near-duplicates are measured with **character 5-gram Jaccard similarity** on the lower-cased,
whitespace-collapsed template. Why not embeddings: it needs no model (this runs offline and in CI), it is exact and
reproducible, and what makes two prompt *templates* redundant for PAFT is surface form — the same wording and layout
with small edits — which character n-grams capture; paraphrases with different wording are exactly the diversity we
want to keep. Pairwise similarities are one sparse matrix product, so thousands of candidates take a second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

NGRAM = 5
NEAR_DUPLICATE_THRESHOLD = 0.85


def _canonical(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip()


def _shingle_matrix(texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        canon = _canonical(text)
        grams = {canon[j:j + NGRAM] for j in range(max(1, len(canon) - NGRAM + 1))}
        for gram in grams:
            rows.append(i)
            cols.append(vocab.setdefault(gram, len(vocab)))
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocab)))
    return matrix, np.asarray(matrix.sum(axis=1)).ravel()


def similarity(a: Sequence[str], b: Sequence[str] | None = None) -> np.ndarray:
    """Jaccard similarity of character 5-gram sets: ``len(a) × len(b)`` (or ``a × a``)."""
    texts = list(a) + list(b or [])
    matrix, sizes = _shingle_matrix(texts)
    left, right = matrix[: len(a)], matrix[len(a):] if b is not None else matrix
    right_sizes = sizes[len(a):] if b is not None else sizes
    inter = (left @ right.T).toarray()
    union = sizes[: len(a), None] + right_sizes[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def deduplicate(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> tuple[list[int], dict[int, tuple[str, int]]]:
    """Indices kept (first occurrence wins), and for each dropped index why: ('exact'|'near', index it duplicates)."""
    kept: list[int] = []
    dropped: dict[int, tuple[str, int]] = {}
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        canon = _canonical(text)
        if canon in seen:
            dropped[i] = ("exact", seen[canon])
        else:
            seen[canon] = i
    unique = [i for i in range(len(texts)) if i not in dropped]
    if not unique:
        return [], dropped
    sim = similarity([texts[i] for i in unique])
    kept_pos: list[int] = []
    for pos, i in enumerate(unique):
        hits = np.nonzero(sim[pos, kept_pos] >= threshold)[0] if kept_pos else []
        if len(hits):
            dropped[i] = ("near", unique[kept_pos[hits[0]]])
        else:
            kept_pos.append(pos)
            kept.append(i)
    return kept, dropped


def group_split(texts: Sequence[str], test_size: int, seed: int, leak_threshold: float,
                links: Sequence[tuple[int, int]] = ()) -> tuple[list[int], list[int]]:
    """(train indices, test indices): whole clusters of prompts similar at ``leak_threshold`` (or joined by one of
    ``links``, e.g. a shared sentence) go to one side, chosen in a seeded random order, so no test prompt has a
    near-duplicate in train."""
    if test_size > len(texts):
        raise ValueError(f"cannot take {test_size} test prompts from {len(texts)}")
    graph = sparse.csr_matrix(similarity(texts) > leak_threshold)
    if links:
        rows, cols = zip(*links, strict=True)
        graph = graph + sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=graph.shape)
    _, labels = connected_components(graph, directed=False)
    clusters: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        clusters.setdefault(int(label), []).append(index)
    order = np.random.default_rng(seed).permutation(len(clusters))
    groups = list(clusters.values())
    test: list[int] = []
    for k in order:
        if len(test) + len(groups[k]) <= test_size:
            test += groups[k]
    if len(test) != test_size:
        raise ValueError(f"clusters at similarity {leak_threshold} are too large to form a test set of {test_size}")
    test_set = set(test)
    return [i for i in range(len(texts)) if i not in test_set], sorted(test)

