"""From candidate prompts to shipped pool files: validate, de-duplicate, split, write.

Output in ``<out>/``: ``train.jsonl``, ``valid.jsonl`` (carved from train, for evaluation during training),
``test.jsonl`` (never trained on), ``rejects.jsonl`` (every dropped candidate with its reason) and
``manifest.json`` (counts, thresholds, leakage, diversity statistics, provenance).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from paft_ext.jsonl import write_jsonl
from paft_ext.tasks import TaskSpec

from .dedup import NEAR_DUPLICATE_THRESHOLD, NGRAM, deduplicate, group_split, leakage
from .stats import pool_stats
from .store import Prompt, write_pool
from .validate import validate


@dataclass(frozen=True)
class Candidate:
    text: str
    source: str  # generator model + strategy, "handwritten", or "composed:<parts>"


@dataclass(frozen=True)
class BuildConfig:
    test_size: int = 50
    valid_size: int = 20
    train_size: int | None = None  # None: every remaining prompt; else a seeded random subset of that size
    seed: int = 0
    near_duplicate_threshold: float = NEAR_DUPLICATE_THRESHOLD
    leak_threshold: float = NEAR_DUPLICATE_THRESHOLD
    min_train: int = 1


class PoolBuildError(ValueError):
    pass


def build_pool(task: TaskSpec, candidates: list[Candidate], out: Path, config: BuildConfig = BuildConfig(),
               provenance: dict | None = None) -> dict:
    """Write the pool for ``task`` under ``out`` and return its manifest."""
    rejects: list[dict] = []
    accepted: list[tuple[Candidate, str]] = []
    for cand in candidates:
        verdict = validate(cand.text, task)
        if verdict.ok:
            accepted.append((cand, verdict.text))
        else:
            rejects.append({"text": cand.text, "source": cand.source, "reasons": list(verdict.reasons)})
    texts = [text for _, text in accepted]
    kept, dropped = deduplicate(texts, config.near_duplicate_threshold)
    for index, (kind, twin) in sorted(dropped.items()):
        rejects.append({"text": texts[index], "source": accepted[index][0].source,
                        "reasons": [f"{kind} duplicate of: {texts[twin]!r}"]})
    kept_texts = [texts[i] for i in kept]
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "rejects.jsonl", rejects)
    needed = config.test_size + config.valid_size + max(config.min_train, config.train_size or 0)
    if len(kept_texts) < needed:
        raise PoolBuildError(f"{task.pool}: {len(kept_texts)} prompts survive validation and de-duplication, "
                             f"{needed} needed (test {config.test_size} + valid {config.valid_size} + train "
                             f"{max(config.min_train, config.train_size or 0)}); rejects are in "
                             f"{out / 'rejects.jsonl'}")
    train_pos, test_pos = group_split(kept_texts, config.test_size, config.seed, config.leak_threshold)
    rng = np.random.default_rng([config.seed, 1])
    valid_pos = sorted(rng.choice(train_pos, size=config.valid_size, replace=False).tolist())
    train_pos = [p for p in train_pos if p not in set(valid_pos)]
    unused = 0
    if config.train_size is not None and config.train_size < len(train_pos):
        unused = len(train_pos) - config.train_size
        train_pos = sorted(rng.choice(train_pos, size=config.train_size, replace=False).tolist())
    splits = {"train": train_pos, "valid": valid_pos, "test": test_pos}
    for split, positions in splits.items():
        write_pool(out / f"{split}.jsonl", [Prompt(f"{task.pool}-{split}-{k:03d}", kept_texts[p],
                                                   accepted[kept[p]][0].source) for k, p in enumerate(positions)])
    split_texts = {s: [kept_texts[p] for p in pos] for s, pos in splits.items()}
    reasons = Counter(re.sub(r"\s*[:{(\d].*", "", reason) for r in rejects for reason in r["reasons"])
    manifest = {
        "pool": task.pool, "fields": list(task.fields), "answer_kind": task.answer_kind,
        "build": asdict(config), "similarity": f"character {NGRAM}-gram Jaccard",
        "counts": {"candidates": len(candidates), "rejected_invalid": len(candidates) - len(accepted),
                   "duplicates_exact": sum(k == "exact" for k, _ in dropped.values()),
                   "duplicates_near": sum(k == "near" for k, _ in dropped.values()),
                   "unused_beyond_train_size": unused, **{split: len(pos) for split, pos in splits.items()}},
        "reject_reasons": dict(reasons.most_common()),
        "max_test_train_similarity": round(leakage(split_texts["train"] + split_texts["valid"],
                                                   split_texts["test"]), 4),
        "sources": {split: dict(Counter(accepted[kept[p]][0].source.split(":")[0] for p in pos))
                    for split, pos in splits.items()},
        "diversity": {split: pool_stats(t, task) for split, t in split_texts.items()},
        **(provenance or {}),
    }
    if manifest["max_test_train_similarity"] >= config.leak_threshold:
        raise PoolBuildError(f"{task.pool}: a test prompt is a near-duplicate of a train prompt")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
