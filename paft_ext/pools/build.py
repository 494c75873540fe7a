"""From candidate prompts to shipped pool files: validate, de-duplicate, split, check that test is unseen, write.

Output in ``<out>/``: ``train.jsonl``, ``valid.jsonl`` (carved from train, for evaluation during training),
``test.jsonl`` (never trained on), ``seen_probe.jsonl`` (a seeded sample of train prompts, evaluated beside the test
sets for the seen-vs-unseen gap), ``rejects.jsonl`` (every dropped candidate with its reason) and ``manifest.json``
(counts, thresholds, leakage, diversity statistics, provenance). :func:`add_test_set` adds further test sets
(``test_indep.jsonl``, ``test_llm.jsonl``) to a built pool. Every build ends with :func:`leakage.check_pool`; a pool
whose test prompts are not unseen is refused.

Candidates tagged with a ``side`` (the composed ones) are split by it: train from train-side parts, test from
test-side parts. Untagged candidates (LLM-generated pools) are split by :func:`dedup.group_split`, which keeps
prompts that share a sentence or are similar on one side.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from paft_ext.data_files import write_jsonl
from paft_ext.tasks import TaskSpec

from . import leakage
from .dedup import NEAR_DUPLICATE_THRESHOLD, NGRAM, deduplicate, group_split
from .safety import override_flags
from .stats import pool_stats
from .store import PoolError, Prompt, load_pool, write_pool
from .validate import validate

SEEN_PROBE_SIZE = 10


@dataclass(frozen=True)
class Candidate:
    text: str
    source: str  # "llm:<model>/<strategy>/…", "handwritten:…", or "composed:handwritten-parts/<part ids>"
    side: str | None = None  # "train" | "test" for composed candidates; None: the build splits


@dataclass(frozen=True)
class BuildConfig:
    test_size: int = 50
    valid_size: int = 20
    train_size: int | None = None  # None: every remaining prompt; else a seeded random subset of that size
    seed: int = 0
    near_duplicate_threshold: float = NEAR_DUPLICATE_THRESHOLD
    leak_threshold: float = leakage.MAX_NEAREST
    min_train: int = 1
    extra_special_tokens: tuple[str, ...] = ()  # refused besides safety.CONTROL_TOKENS (a tokenizer's own)


class PoolBuildError(ValueError):
    pass


def _screen(task: TaskSpec, candidates: list[Candidate], threshold: float,
            extra_special_tokens: tuple[str, ...] = ()) -> tuple[list[Candidate], list[dict], dict[str, int]]:
    """Valid, de-duplicated candidates (normalised text), the rejects with their reasons, and the counts."""
    rejects: list[dict] = []
    accepted: list[Candidate] = []
    for cand in candidates:
        verdict = validate(cand.text, task, extra_special_tokens=extra_special_tokens)
        if verdict.ok:
            accepted.append(Candidate(verdict.text, cand.source, cand.side))
        else:
            rejects.append({"text": cand.text, "source": cand.source, "reasons": list(verdict.reasons)})
    kept, dropped = deduplicate([c.text for c in accepted], threshold)
    for index, (kind, twin) in sorted(dropped.items()):
        rejects.append({"text": accepted[index].text, "source": accepted[index].source,
                        "reasons": [f"{kind} duplicate of: {accepted[twin].text!r}"]})
    counts = {"rejected_invalid": len(candidates) - len(accepted),
              **{f"duplicates_{k}": sum(kind == k for kind, _ in dropped.values()) for k in ("exact", "near")}}
    return [accepted[i] for i in kept], rejects, counts


def _unseen(cands: list[Candidate], train: list[Prompt], rejects: list[dict]) -> list[Candidate]:
    """The candidates that are unseen with respect to ``train``; the others go to ``rejects`` with why."""
    index = leakage.TrainIndex(train)
    nearest = index.nearest([c.text for c in cands])
    unseen = []
    for cand, value in zip(cands, nearest, strict=True):
        reasons = leakage.leak_reasons(Prompt("candidate", cand.text, cand.source), index, float(value))
        if reasons:
            rejects.append({"text": cand.text, "source": cand.source, "reasons": [why for _, why in reasons]})
        else:
            unseen.append(cand)
    return unseen


def _prompts(task: TaskSpec, split: str, cands: list[Candidate]) -> list[Prompt]:
    return [Prompt(f"{task.pool}-{split}-{k:03d}", c.text, c.source) for k, c in enumerate(cands)]


def _review_flags(out: Path, task: TaskSpec, names: list[str]) -> dict[str, list[str]]:
    """``set/id`` -> instruction-override phrases, for every kept prompt that has one (flagged, not refused)."""
    flags = {}
    for name in dict.fromkeys(["train", "valid", *leakage.SET_TAGS, *names]):
        path = out / f"{name}.jsonl"
        for prompt in load_pool(path, task.fields) if path.is_file() else []:
            found = override_flags(prompt.text)
            if found:
                flags[f"{name}/{prompt.id}"] = found
    return flags


def _finish_check(task: TaskSpec, out: Path, manifest: dict) -> dict:
    stats, problems = leakage.check_pool(out, task)
    manifest["unseen"] = stats
    manifest["review_flags"] = _review_flags(out, task, [*manifest.get("test_sets", {}),
                                                         *manifest.get("valid_sets", {})])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if problems:
        listing = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise PoolBuildError(f"{out}: the test prompts are not unseen ({len(problems)} problem(s)):\n  "
                             f"{listing}{more}")
    return manifest


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Build a pool folder in ``<out>.staging`` (a copy of ``out`` when it exists) and move it into place only when the
    build succeeds. A failed build leaves ``out`` exactly as it was; its files go to ``<out>.failed`` for inspection,
    and the error says so."""
    out = Path(out)
    stage, failed, old = (out.with_name(f"{out.name}.{suffix}") for suffix in ("staging", "failed", "old"))
    for leftover in (stage, old):
        shutil.rmtree(leftover, ignore_errors=True)
    if out.is_dir():
        shutil.copytree(out, stage)
    else:
        stage.mkdir(parents=True)
    try:
        yield stage
    except BaseException as err:
        shutil.rmtree(failed, ignore_errors=True)
        stage.rename(failed)
        if isinstance(err, (PoolBuildError, PoolError)):
            raise type(err)(f"{str(err).replace(str(stage), str(failed))}\n({out} is unchanged; the failed build's "
                            f"files are in {failed})") from None
        raise
    if out.exists():
        out.rename(old)
    stage.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(failed, ignore_errors=True)


def build_pool(task: TaskSpec, candidates: list[Candidate], out: Path, config: BuildConfig = BuildConfig(),
               provenance: dict | None = None) -> dict:
    """Write the pool for ``task`` under ``out`` and return its manifest."""
    kept, rejects, screened = _screen(task, candidates, config.near_duplicate_threshold, config.extra_special_tokens)
    out.mkdir(parents=True, exist_ok=True)
    sided = any(c.side for c in kept)
    train_side = [c for c in kept if c.side != "test"] if sided else kept
    test_side = [c for c in kept if c.side == "test"] if sided else []
    train_needed = config.valid_size + max(config.min_train, config.train_size or 0)
    if len(train_side) < train_needed + (0 if sided else config.test_size) or len(test_side) < config.test_size * sided:
        write_jsonl(out / "rejects.jsonl", rejects)
        side_note = f" ({len(test_side)} of them test-side)" if sided else ""
        raise PoolBuildError(f"{task.pool}: {len(kept)} prompts survive validation and de-duplication{side_note}, "
                             f"{train_needed + config.test_size} needed (test "
                             f"{config.test_size} + valid {config.valid_size} + train "
                             f"{max(config.min_train, config.train_size or 0)}); rejects are in "
                             f"{out / 'rejects.jsonl'}")
    rng = np.random.default_rng([config.seed, 1])
    if sided:
        train_pos = list(range(len(train_side)))
    else:
        texts = [c.text for c in kept]
        try:
            train_pos, test_pos = group_split(texts, config.test_size, config.seed, config.leak_threshold,
                                              leakage.sentence_links(texts))
        except ValueError as err:
            write_jsonl(out / "rejects.jsonl", rejects)
            raise PoolBuildError(
                f"{task.pool}: {err}: the {len(kept)} candidates form groups (sharing a sentence, or 5-gram Jaccard > "
                f"{config.leak_threshold}) too large to keep {config.test_size} test prompts apart from every train "
                "prompt; generate more diverse candidates or lower --test-size") from None
        test_side = [kept[p] for p in test_pos]
    valid_pos = sorted(rng.choice(train_pos, size=config.valid_size, replace=False).tolist())
    train_pos = [p for p in train_pos if p not in set(valid_pos)]
    unused = 0
    if config.train_size is not None and config.train_size < len(train_pos):
        unused = len(train_pos) - config.train_size
        train_pos = sorted(rng.choice(train_pos, size=config.train_size, replace=False).tolist())
    splits = {"train": [train_side[p] for p in train_pos], "valid": [train_side[p] for p in valid_pos]}
    train_prompts = _prompts(task, "train", splits["train"])
    seen = train_prompts + _prompts(task, "valid", splits["valid"])
    if sided:
        unseen = _unseen(test_side, seen, rejects)
        if len(unseen) < config.test_size:
            write_jsonl(out / "rejects.jsonl", rejects)
            raise PoolBuildError(f"{task.pool}: only {len(unseen)} test-side candidates are unseen (no shared "
                                 f"sentence, nearest-train similarity ≤ {leakage.MAX_NEAREST}); {config.test_size} "
                                 f"needed; rejects are in {out / 'rejects.jsonl'}")
        picks = np.random.default_rng([config.seed, 2]).choice(len(unseen), size=config.test_size, replace=False)
        test_side = [unseen[p] for p in sorted(picks.tolist())]
    splits["test"] = test_side
    write_jsonl(out / "rejects.jsonl", rejects)
    for split, cands in splits.items():
        write_pool(out / f"{split}.jsonl", _prompts(task, split, cands))
    probe = np.random.default_rng([config.seed, 3]).choice(len(splits["train"]), size=min(SEEN_PROBE_SIZE, len(
        splits["train"])), replace=False)
    write_pool(out / f"{leakage.SEEN_PROBE}.jsonl", [train_prompts[p] for p in sorted(probe.tolist())])
    reasons = Counter(re.sub(r"\s*[:{(\d'].*", "", reason) for r in rejects for reason in r["reasons"])
    manifest = {
        "pool": task.pool, "fields": list(task.fields), "answer_kind": task.answer_kind,
        "build": asdict(config), "similarity": f"character {NGRAM}-gram Jaccard",
        "counts": {"candidates": len(candidates), **screened,
                   "unused_beyond_train_size": unused, **{split: len(c) for split, c in splits.items()},
                   leakage.SEEN_PROBE: len(probe)},
        "reject_reasons": dict(reasons.most_common()),
        "sources": {split: dict(Counter(c.source.split(":")[0] for c in cands)) for split, cands in splits.items()},
        "diversity": {split: pool_stats([c.text for c in cands], task) for split, cands in splits.items()},
        **(provenance or {}),
    }
    return _finish_check(task, out, manifest)


def add_test_set(task: TaskSpec, out: Path, name: str, candidates: list[Candidate], *, size: int | None = None,
                 strict: bool = True, seed: int = 0, min_size: int | None = None,
                 provenance: dict | None = None, extra_special_tokens: tuple[str, ...] = ()) -> dict:
    """Add the test set ``<out>/<name>.jsonl`` to a built pool. ``strict`` (hand-written sets): every candidate must
    be valid, distinct and unseen, else the build fails naming it; otherwise (generated sets) such candidates go to
    ``<name>_rejects.jsonl`` and ``size`` of the rest are drawn, seeded (all of them when ``size`` is None; fewer
    than ``min_size`` fails). A ``valid_<name>`` set (held-out validation prompts written apart) is added the same
    way, and must share nothing with the test sets either (:mod:`.leakage`)."""
    if not re.fullmatch(r"(test|valid)_[a-z0-9]+", name):
        raise PoolBuildError(f"set name {name!r}: use test_<lowercase letters/digits> (or valid_<…> for held-out "
                             f"validation prompts)")
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        raise PoolBuildError(f"{out}: no manifest.json; build the pool first")
    held_out = name.startswith("valid_")
    seen_names = [*leakage.seen_set_names(out), *(leakage.test_set_names(out) if held_out else [])]
    kept, rejects, _ = _screen(task, candidates, NEAR_DUPLICATE_THRESHOLD, extra_special_tokens)
    seen = [p for split in seen_names if split != name for p in load_pool(out / f"{split}.jsonl", task.fields)]
    unseen = _unseen(kept, seen, rejects)
    if strict and rejects:
        listing = "\n  ".join(f"{r['text'][:80]!r}: {'; '.join(r['reasons'])}" for r in rejects[:20])
        raise PoolBuildError(f"{out / name}.jsonl: {len(rejects)} hand-written prompt(s) refused:\n  {listing}")
    if size is not None or min_size is not None:
        if len(unseen) < (size or min_size):
            write_jsonl(out / f"{name}_rejects.jsonl", rejects)
            raise PoolBuildError(f"{out / name}.jsonl: {len(unseen)} candidates are valid, distinct and unseen, "
                                 f"{size or min_size} needed; rejects are in {out / name}_rejects.jsonl")
    if size is not None:
        picks = np.random.default_rng([seed, 4]).choice(len(unseen), size=size, replace=False)
        unseen = [unseen[p] for p in sorted(picks.tolist())]
    tag = leakage.SET_TAGS.get(name, name.replace("_", "") if held_out else name.removeprefix("test_"))
    write_pool(out / f"{name}.jsonl", [Prompt(f"{task.pool}-{tag}-{k:03d}", c.text, c.source)
                                       for k, c in enumerate(unseen)])
    if not strict:
        write_jsonl(out / f"{name}_rejects.jsonl", rejects)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.setdefault("valid_sets" if held_out else "test_sets", {})[name] = {
        "candidates": len(candidates), "written": len(unseen), "rejected": len(rejects),
        "sources": dict(Counter(c.source.split("/")[0] for c in unseen)),
        "diversity": pool_stats([c.text for c in unseen], task), **(provenance or {})}
    return _finish_check(task, out, manifest)
