"""The prompt-selection stages of a Table 1 run — TopAccuracy, ZOPO and BATprompt — each choosing the one prompt its
method trains with, from what the runner holds (preset, base model, chat tokenizer, the task's pool and records).
Each returns the stage record the runner stores; the scores go under ``<work>/select/``. A mixin of
:class:`.reproduce.Runner`, which provides ``preset``, ``model``, ``shared`` (the folder of the run's shared
stages), ``pool()``, ``generator_factory`` and ``batprompt_config``."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from paft_ext.benchmark_data.source import load_records
from paft_ext.pools.generation_config import load_generation_config
from paft_ext.pools.leakage import test_set_names
from paft_ext.pools.store import load_pool
from paft_ext.tasks import TaskSpec

from .batprompt import BatSettings, select_batprompt
from .presets import BATPROMPT_SETTINGS
from .top_accuracy import select_top_accuracy, select_zopo, write_scores
from .zopo import prompt_embeddings


class SelectionStages:
    """The selection stages of :class:`.reproduce.Runner`."""

    def select(self, task: TaskSpec) -> dict[str, Any]:
        """TopAccuracy: the base model scores the train pool on a seeded subset of training records (a different
        seed from the training subset's)."""
        p = self.preset
        pool = load_pool(self.pool(task), task.fields)
        records = load_records(task, "train", max_samples=p.screen + p.confirm, seed=p.seed + 1, shuffle=True)
        generate = self.generator_factory(self.model, str(self.shared / "chat_tokenizer"))
        selection = select_top_accuracy(task, pool, records, generate, screen=p.screen, confirm=p.confirm,
                                        finalists=p.finalists, batch_size=p.eval_batch_size)
        write_scores(selection, self.shared / "select" / f"{task.name}_scores.csv")
        best = next(s for s in selection.scores if s.prompt_id == selection.prompt.id)
        return {"prompt_id": selection.prompt.id, "text": selection.prompt.text, "accuracy": best.accuracy,
                "records": best.records, "scored_prompts": len(selection.scores),
                "generations": sum(s.records for s in selection.scores)}

    def select_zopo(self, task: TaskSpec) -> dict[str, Any]:
        """ZOPO (:mod:`.zopo`): the same black box as TopAccuracy (the base model's accuracy on the same seeded
        training records) with a quarter of its generations, searching the pool by the base model's embeddings."""
        p = self.preset
        pool = load_pool(self.pool(task), task.fields)
        generations, per_query = p.zopo_budget(len(pool))
        records = load_records(task, "train", max_samples=p.screen + p.confirm, seed=p.seed + 1, shuffle=True)
        embeddings = prompt_embeddings(self.model, [prompt.text for prompt in pool])
        generate = self.generator_factory(self.model, str(self.shared / "chat_tokenizer"))
        selection = select_zopo(task, pool, records, generate, embeddings, generations=generations,
                                per_query=per_query, seed=p.seed, batch_size=p.eval_batch_size)
        write_scores(selection, self.shared / "select" / f"{task.name}_zopo_scores.csv")
        best = next(s for s in selection.scores if s.prompt_id == selection.prompt.id)
        return {"prompt_id": selection.prompt.id, "text": selection.prompt.text, "accuracy": best.accuracy,
                "records": best.records, "scored_prompts": len(selection.scores),
                "generations": sum(s.records for s in selection.scores), "budget": generations}

    def select_batprompt(self, task: TaskSpec) -> dict[str, Any]:
        """BATprompt (:mod:`.batprompt`): the LLM of ``batprompt_config`` attacks seeded training records (the
        TopAccuracy ones) and proposes prompts, which the base model scores; proposals are checked against the
        task's test sets like any pool prompt."""

        p = self.preset
        settings = BatSettings(**BATPROMPT_SETTINGS.get(p.name, {}))
        records = load_records(task, "train", max_samples=max(settings.records, p.screen + p.confirm),
                               seed=p.seed + 1, shuffle=True)
        folder = self.pool(task).parent
        tests = [prompt for name in test_set_names(folder) for prompt in load_pool(folder / f"{name}.jsonl",
                                                                                    task.fields)]
        generate = self.generator_factory(self.model, str(self.shared / "chat_tokenizer"))
        result = select_batprompt(task, records, generate, load_generation_config(self.batprompt_config),
                                  self.shared / "select" / "batprompt_cache", tests, settings, p.eval_batch_size)
        path = self.shared / "select" / f"{task.name}_batprompt.json"
        path.write_text(json.dumps([asdict(c) for c in result.candidates], indent=1) + "\n")
        return {"prompt_id": result.prompt.id, "text": result.prompt.text, "source": result.prompt.source,
                "accuracy": result.accuracy, "records": settings.records, "scored_prompts":
                sum(c.accuracy is not None for c in result.candidates), "generations": result.generations,
                "llm_requests": result.llm_requests, "attacked": result.attacked}
