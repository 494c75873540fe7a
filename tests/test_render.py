"""Rendering rows: only the last user turn changes, in schedule order, with a fixed or round-robin eval prompt."""

from __future__ import annotations

import json

from datasets import Dataset

from paft_ext.core.curriculum import closeness_order
from paft_ext.core.schedule import CANONICAL, Geometry, ScheduleSpec, build_schedule
from paft_ext.core.trace import identify_prompts
from paft_ext.llamafactory.aligned_rows import FIELDS_COLUMN, render_eval, render_train
from paft_ext.pools.store import Prompt

POOL = [Prompt("p0", "First {goal} / {sol1} / {sol2}", "x"), Prompt("p1", "Second: {goal}? {sol2} or {sol1}", "x")]


def _rows(n=4):
    return Dataset.from_list([{
        "_prompt": [{"role": "user", "content": "old turn"}, {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": f"fixed instruction {i}"}],
        "_system": "sys", FIELDS_COLUMN: json.dumps({"goal": f"g{i}", "sol1": "{sol2}", "sol2": f"b{i}"})}
        for i in range(n)])


def test_render_train_follows_the_schedule_and_touches_only_the_last_user_turn():
    spec = ScheduleSpec(n_rows=4, epochs=2, max_steps=0, geometry=Geometry(1, 1, 1), window=2, window_unit="step",
                        sampling="cycle", epoch_reshuffle=True, pool_size=2, pool_digest="d", seed=3)
    schedule = build_schedule(spec)
    out = render_train(_rows(), schedule, POOL)
    assert FIELDS_COLUMN not in out.column_names and len(out) == 8
    for position, row in enumerate(out):
        source = int(schedule.order[position])
        template = POOL[int(schedule.prompt_index[position])]
        goal, b = f"g{source}", f"b{source}"
        # sol1's value is the text "{sol2}": filled once, never substituted again.
        expected = {"p0": f"First {goal} / {{sol2}} / {b}", "p1": f"Second: {goal}? {b} or {{sol2}}"}[template.id]
        assert row["_prompt"][-1]["content"] == expected
        assert row["_prompt"][:2] == [{"role": "user", "content": "old turn"}, {"role": "assistant", "content": "ok"}]
        assert row["_system"] == "sys"


def test_canonical_windows_keep_the_fixed_prompt():
    spec = ScheduleSpec(n_rows=4, epochs=2, max_steps=0, geometry=Geometry(1, 1, 1), window=1, window_unit="step",
                        sampling="cycle", epoch_reshuffle=True, pool_size=2, pool_digest="d", seed=3,
                        canonical_ratio=0.5)
    schedule = build_schedule(spec)
    out = render_train(_rows(), schedule, POOL)
    kept = [p for p in range(8) if schedule.prompt_index[p] == CANONICAL]
    assert len(kept) == 4
    for position, row in enumerate(out):
        source = int(schedule.order[position])
        content = row["_prompt"][-1]["content"]
        assert (content == f"fixed instruction {source}") == (position in kept)


def test_closeness_order_ranks_templates_by_similarity_to_the_fixed_prompt():
    pool = [Prompt("far", "Totally different wording here: {goal} -> {sol1} | {sol2}", "x"),
            Prompt("near", "Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer:", "x"),
            Prompt("mid", "Goal: {goal}\nOptions: {sol1} / {sol2}", "x")]
    rows = [{"goal": "open a jar", "sol1": "twist the lid", "sol2": "hit it"}]
    own = ["Goal: open a jar\nA. twist the lid\nB. hit it\nAnswer:"]
    assert closeness_order(pool, rows, own) == (1, 2, 0)


def test_render_eval_fixed_or_round_robin():
    fixed = render_eval(_rows(), None)
    assert [r["_prompt"][-1]["content"] for r in fixed] == [f"fixed instruction {i}" for i in range(4)]
    rotated = render_eval(_rows(), POOL)
    assert [identify_prompts(r["_prompt"][-1]["content"], POOL) for r in rotated] == [["p0"], ["p1"], ["p0"], ["p1"]]
