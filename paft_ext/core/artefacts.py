"""The schedule file a PAFT run leaves in its output folder, and how it becomes the run's.

The schedule is written as *pending* while the data is prepared and accepted once the trainer's resume and geometry
checks have passed, so a run refused at the start never replaces the schedule of the run whose folder it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from paft_ext.pools.store import Prompt

from .schedule import CANONICAL, DECIDED, Schedule
from .structure import WindowStructure, effective_symbols

SCHEDULE_FILE = "paft_schedule.json"
PENDING_SCHEDULE_FILE = "paft_schedule.pending.json"
META_FILE = "paft_meta.json"
UNDECIDED = "decided-in-training"


def prompt_id(pool: Sequence[Prompt], index: int) -> str:
    """The id a schedule index stands for: a pool prompt's, ``canonical`` (the dataset's own fixed prompt) or
    ``decided-in-training`` (loss_aware: one of the window's candidates, not decided yet; see
    :func:`record_decisions`)."""
    if index == DECIDED:
        return UNDECIDED
    return "canonical" if index == CANONICAL else pool[index].id


def write_pending_schedule(schedule: Schedule, pool: list[Prompt], output_dir: str) -> None:
    """The schedule as JSON: spec, digest, prompts, windows (prompt id; with structure draws the option order,
    the symbols the window's template shows and its number of shots) and the row order (and each position's shot
    rows)."""
    windows = [{**w, "prompt_id": prompt_id(pool, w["prompt_index"]),
                **({"candidates": [prompt_id(pool, c) for c in w["candidates"]]} if "candidates" in w else {}),
                **_shown_symbols(schedule, pool, w)}
               for w in schedule.windows()]
    doc = {"spec": schedule.spec.as_dict(),
           "digest": schedule.spec.digest(), "total_steps": schedule.total_steps, "rows": len(schedule.order),
           "prompts": {p.id: p.text for p in pool}, "windows": windows, "order": schedule.order.tolist(),
           **({"shot_rows": schedule.structure.examples.tolist()} if schedule.structure is not None else {})}
    path = Path(output_dir) / PENDING_SCHEDULE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")


def _shown_symbols(schedule: Schedule, pool: list[Prompt], window: dict) -> dict:
    """A structure window's symbols as its template shows them (the letters where the template names none)."""
    if schedule.structure is None or window["prompt_index"] == CANONICAL:
        return {}
    drawn = WindowStructure(window["order"], window["symbols"], window["shots"])
    return {"symbols": effective_symbols(pool[window["prompt_index"]].text, schedule.spec.letters, drawn)}


def accept_schedule(output_dir: str) -> None:
    """Make the pending schedule the run's ``paft_schedule.json`` (called once every resume/geometry check passed).
    A schedule of another run already there is kept as ``paft_schedule.<digest>.json``, never overwritten."""
    pending, final = Path(output_dir) / PENDING_SCHEDULE_FILE, Path(output_dir) / SCHEDULE_FILE
    if not pending.is_file():
        return
    if final.is_file():
        old = json.loads(final.read_text(encoding="utf-8")).get("digest", "unknown")
        if old != json.loads(pending.read_text(encoding="utf-8"))["digest"]:
            final.replace(final.with_name(f"paft_schedule.{old[:12]}.json"))
    pending.replace(final)


def record_decisions(output_dir: str, decided: dict[int, str]) -> None:
    """Write loss_aware's decisions so far into the run's ``paft_schedule.json`` (window -> chosen prompt id; the
    windows not decided yet stay ``decided-in-training``), replacing the file atomically: a reader or a crash never
    sees half a schedule. A run that writes no schedule (a rank that does not save) has nothing to update;
    the windows of a resumed run's later decisions go back to ``decided-in-training`` until decided again."""
    path = Path(output_dir) / SCHEDULE_FILE
    if not path.is_file():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    for window in doc["windows"]:
        if "candidates" in window:
            window["prompt_id"] = decided.get(window["window"], UNDECIDED)
    partial = path.with_name(f"{SCHEDULE_FILE}.partial")
    partial.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def write_tokenized_meta(path: str | None, meta: dict | None, schedule: Schedule | None, fields: list[str] | None
                         ) -> None:
    """Record a PAFT run's settings beside the dataset LLaMA-Factory saved to ``tokenized_path``, so a later run
    that would reuse it can be checked. Called once the trainer starts, i.e. after the save: a run that stops
    earlier never leaves a record without data."""
    if not path or meta is None or schedule is None or not Path(path).is_dir() or (Path(path) / META_FILE).is_file():
        return
    doc = {"run": meta, "spec": schedule.spec.as_dict(), "fields": fields}
    (Path(path) / META_FILE).write_text(json.dumps(doc, indent=1))
