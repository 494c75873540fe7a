"""Parsing the paft_* keys and loading pools."""

from __future__ import annotations

import json

import pytest

from paft_ext.core.config import PaftConfigError, build_config, split_paft_flags, split_paft_keys
from paft_ext.pools.store import PoolError, load_pool


def test_keys_are_split_from_llamafactory_arguments():
    rest, paft = split_paft_keys({"stage": "sft", "paft_pool": "p.jsonl", "paft_window_steps": 2})
    assert rest == {"stage": "sft"} and paft == {"pool": "p.jsonl", "window_steps": 2}
    assert split_paft_flags(["--paft_trace", "--stage", "sft", "--paft_seed", "-3"]) == (
        ["--stage", "sft"], {"trace": "true", "seed": "-3"})  # a bare flag does not swallow the next flag
    assert split_paft_flags(["--do_train", "--paft_trace"]) == (["--do_train"], {"trace": "true"})
    rest, paft = split_paft_flags(["--stage", "sft", "--paft_pool=p.jsonl", "--paft_window_steps", "2"])
    assert rest == ["--stage", "sft"] and build_config(paft).window_steps == 2
    assert build_config({}) is None


def test_canonical_decay_reads_from_flags_as_a_bool():
    _, paft = split_paft_flags(["--paft_pool", "p", "--paft_canonical_ratio", "0.5", "--paft_canonical_decay"])
    config = build_config(paft)
    assert config.canonical_decay is True and config.canonical_ratio == 0.5


@pytest.mark.parametrize(("values", "message"), [
    ({"window_steps": 2}, "paft_pool is required"),
    ({"pool": "p", "window_step": 2}, "unknown key.*paft_window_step;"),
    ({"pool": "p", "window_steps": 0}, "paft_window_steps must be a positive integer"),
    ({"pool": "p", "window_steps": "two"}, "paft_window_steps: cannot read 'two' as int"),
    ({"pool": "p", "sampling": "roundrobin"}, "paft_sampling must be one of"),
    ({"pool": "p", "window_unit": "epoch"}, "paft_window_unit must be one of"),
    ({"pool": "p", "eval_prompt": "test.jsonl"}, "never the test prompts"),
    ({"pool": "p", "trace": "maybe"}, "paft_trace must be true or false"),
    ({"pool": "p", "canonical_ratio": 1.2}, r"paft_canonical_ratio must be a number in \[0, 1\], got 1.2"),
    ({"pool": "p", "canonical_ratio": "half"}, "paft_canonical_ratio: cannot read 'half' as float"),
    ({"pool": "p", "canonical_decay": True}, r"paft_canonical_decay: true .* paft_canonical_ratio .* is 0"),
    ({"pool": "p", "canonical_ratio": 0.5, "canonical_decay": "later"}, "paft_canonical_decay must be true or false"),
])
def test_bad_keys_name_the_key(values, message):
    with pytest.raises(PaftConfigError, match=message):
        build_config(values)


def _pool(tmp_path, rows, name="pool.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


FIELDS = ("goal", "sol1", "sol2")


def test_pool_loads_in_file_order(tmp_path):
    path = _pool(tmp_path, [{"id": "b", "text": "{goal} {sol1} {sol2}", "source": "handwritten"},
                            {"id": "a", "text": "{sol2} / {sol1} / {goal}"}])
    prompts = load_pool(path, FIELDS)
    assert [p.id for p in prompts] == ["b", "a"] and prompts[1].source == "unknown"


@pytest.mark.parametrize(("rows", "message"), [
    ([], "prompt pool is empty"),
    (["{bad"], r"pool.jsonl:1: not valid JSON"),
    ([{"id": "a"}], r"pool.jsonl:1: a pool line needs string 'id' and 'text'"),
    ([{"id": "a", "text": "{goal} {sol1}"}], r"pool.jsonl:1: prompt 'a': missing placeholder\(s\) \{sol2\}"),
    ([{"id": "a", "text": "{goal} {sol1} {sol2} {answer}"}], r"unknown placeholder\(s\) \{answer\}"),
    ([{"id": "a", "text": "{goal} {sol1} {sol2} {x y}"}], r"pool.jsonl:1: prompt 'a': stray brace outside a "
                                                          r"placeholder"),
    ([{"id": "a", "text": "{goal}{sol1}{sol2}"}, {"id": "a", "text": "{goal}{sol1}{sol2}"}],
     r"pool.jsonl:2: duplicate id 'a' \(first on line 1\)"),
])
def test_bad_pools_are_refused_with_file_and_line(tmp_path, rows, message):
    with pytest.raises(PoolError, match=message):
        load_pool(_pool(tmp_path, rows), FIELDS)


def test_missing_pool_file(tmp_path):
    with pytest.raises(PoolError, match="prompt pool not found"):
        load_pool(tmp_path / "nope.jsonl", FIELDS)


def test_sampler_chain_sees_through_nested_samplers():
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler

    from paft_ext.core.callback import sampler_chain

    data = list(range(10))
    shuffled = DataLoader(data, batch_sampler=BatchSampler(RandomSampler(data), batch_size=2, drop_last=False))
    assert "RandomSampler" in sampler_chain(shuffled)
    assert "RandomSampler" not in sampler_chain(DataLoader(data, batch_size=2, shuffle=False))
    assert torch.utils.data.SequentialSampler.__name__ in sampler_chain(DataLoader(data, batch_size=2))
