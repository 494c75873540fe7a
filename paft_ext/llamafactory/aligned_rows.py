"""LLaMA-Factory's aligned rows under PAFT: the ``paft`` dataset converter and the train/eval prompt rewriting.

Only the content of the last user message changes; the system prompt, history and chat template stay the model's.
Templates are filled with :meth:`TaskSpec.fill` semantics (known ``{field}`` placeholders only, one pass — never
``str.format``), so user text is never evaluated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paft_ext import __version__
from paft_ext.core.curriculum import closeness_order
from paft_ext.core.run_state import RunState
from paft_ext.core.schedule import CANONICAL, Schedule
from paft_ext.core.structure import render_with_shots
from paft_ext.pools.store import Prompt
from paft_ext.tasks import fill_template, get_task

FIELDS_COLUMN = "_paft_fields"


def dataset_fields(block: dict[str, Any], dataset: str) -> tuple[str, ...]:
    """The placeholder fields of a ``paft`` dataset_info block: ``{"task": name}`` or ``{"fields": [...]}``."""
    if "fields" in block:
        fields = block["fields"]
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
            raise ValueError(f"dataset_info.json: {dataset}.paft.fields must be a non-empty list of column names")
        return tuple(fields)
    if "task" in block:
        return get_task(block["task"]).fields
    raise ValueError(f"dataset_info.json: {dataset}.paft needs 'task' (a registered task) or 'fields'")


def converter_class(run: RunState) -> type:
    """The ``paft`` dataset converter: alpaca conversion (the fixed ``instruction`` stays the default prompt) plus
    the raw placeholder fields in a JSON column, which the render step needs after LLaMA-Factory has dropped the raw
    columns. Built on demand so importing this module does not import LLaMA-Factory's data package. LLaMA-Factory
    instantiates the class itself, so the class finds its dataset's fields in ``run`` (the run state the patches
    register it with)."""
    from llamafactory.data.converter import AlpacaDatasetConverter

    @dataclass
    class PaftDatasetConverter(AlpacaDatasetConverter):
        def __post_init__(self) -> None:  # looked up here, in the main process (map workers get a pickled copy)
            self.paft_fields = run.fields_for(self.dataset_attr)

        def __call__(self, example: dict[str, Any]) -> dict[str, Any]:
            output = super().__call__(example)
            fields = self.paft_fields
            missing = [f for f in fields if not isinstance(example.get(f), str)]
            if missing:
                raise ValueError(f"PAFT dataset {self.dataset_attr.dataset_name}: row lacks string field(s) "
                                 f"{', '.join(missing)}")
            output[FIELDS_COLUMN] = json.dumps({f: example[f] for f in fields}, ensure_ascii=False)
            return output

    return PaftDatasetConverter


def _replace_user_turn(example: dict[str, Any], content: str) -> list[dict[str, str]]:
    prompt = [dict(turn) for turn in example["_prompt"]]
    prompt[-1]["content"] = content
    return prompt


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps([__version__, *parts], sort_keys=True, default=str).encode()).hexdigest()[:32]


def render_train(dataset: Any, schedule: Schedule, pool: Sequence[Prompt], options: Sequence[str] = (),
                 **map_kwargs: Any) -> Any:
    """Rows in schedule order, each with its window's prompt filled in; under loss_aware, each position once per
    candidate of its window (position-major: row ``p·C + c`` is position p with candidate c). With structure draws
    (``options``: the task's option placeholders in letter order) the window's option order, symbols and shots
    are rendered too and the response becomes the symbol next to the gold option (:mod:`paft_ext.core.structure`)."""
    texts = [p.text for p in pool]
    order, prompt_index = (column.tolist() for column in schedule.rendered_rows())
    structured = _structured_renderer(dataset, schedule, options)

    def render(example: dict[str, Any], index: int) -> dict[str, Any]:
        if prompt_index[index] == CANONICAL:  # this window keeps the dataset's own fixed prompt
            return {"_prompt": example["_prompt"]}
        fields = json.loads(example[FIELDS_COLUMN])
        if structured is not None:
            return structured(example, index, texts[prompt_index[index]], fields)
        return {"_prompt": _replace_user_turn(example, fill_template(texts[prompt_index[index]], fields))}

    ordered = dataset.select(order)
    fp = fingerprint(dataset._fingerprint, schedule.spec.digest())
    return ordered.map(render, with_indices=True, new_fingerprint=fp, desc="PAFT: rendering prompts",
                       **map_kwargs).remove_columns([FIELDS_COLUMN])


def _structured_renderer(dataset: Any, schedule: Schedule, options: Sequence[str]) -> Any:
    """The row renderer of a schedule with structure draws (None without): it needs every record's fields and
    gold letter (the response), since a row's shots are other records."""
    structure, letters = schedule.structure, schedule.spec.letters
    if structure is None:
        return None
    if len(options) != len(letters):
        raise ValueError(f"structure draws: options {list(options)} do not match the letters {letters}")
    responses = [r[0]["content"].strip() if len(r) == 1 else None for r in dataset["_response"]]
    bad = next((i for i, gold in enumerate(responses) if gold not in tuple(letters)), None)
    if bad is not None:
        raise ValueError(f"structure draws: row {bad} has response {dataset[bad]['_response']!r}; they remap a "
                         f"one-letter answer ({', '.join(letters)}), so the dataset's output must be the gold letter")
    records = list(zip([json.loads(f) for f in dataset[FIELDS_COLUMN]], responses, strict=True))

    def render(example: dict[str, Any], position: int, template: str, fields: dict[str, str]) -> dict[str, Any]:
        shots = [records[row] for row in structure.examples[position].tolist()]
        text, answer = render_with_shots(template, fields, records[schedule.order[position]][1], shots, options,
                                         letters, structure.at(position))
        return {"_prompt": _replace_user_turn(example, text),
                "_response": [{**example["_response"][0], "content": answer}]}

    return render


def curriculum_order(dataset: Any, pool: Sequence[Prompt], sample: int = 8) -> tuple[int, ...]:
    """:func:`closeness_order` over the first ``sample`` rows of a converted PAFT dataset (fixed prompt = the
    user turn LLaMA-Factory converted from ``instruction``)."""
    rows = [dataset[i] for i in range(min(sample, len(dataset)))]
    return closeness_order(pool, [json.loads(r[FIELDS_COLUMN]) for r in rows],
                           [r["_prompt"][-1]["content"] for r in rows])


def render_eval(dataset: Any, pool: Sequence[Prompt] | None, **map_kwargs: Any) -> Any:
    """Evaluation rows: the fixed ``instruction`` (pool None), or a validation pool in deterministic round-robin."""
    if pool is None:
        return dataset.remove_columns([FIELDS_COLUMN])
    texts = [p.text for p in pool]

    def render(example: dict[str, Any], index: int) -> dict[str, Any]:
        fields = json.loads(example[FIELDS_COLUMN])
        return {"_prompt": _replace_user_turn(example, fill_template(texts[index % len(texts)], fields))}

    fp = fingerprint(dataset._fingerprint, [p.text for p in pool])
    return dataset.map(render, with_indices=True, new_fingerprint=fp, desc="PAFT: rendering eval prompts",
                       **map_kwargs).remove_columns([FIELDS_COLUMN])
