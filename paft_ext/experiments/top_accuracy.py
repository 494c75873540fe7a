"""The paper's TopAccuracy baseline: the train-pool prompt on which the *base* model scores best.

Every train-pool prompt is scored with the base model on a seeded subset of training records, under the evaluation
protocol (OpenCompass's own HF chat model, greedy, the same ``max_out_len`` and answer extraction), so "best" means
best as the evaluation would measure it. Scoring all of a 400-prompt pool on many records costs hours on a CPU, so
selection is two rounds: every prompt on ``screen`` records, then the ``finalists`` best on ``confirm`` further
records; the winner has the highest accuracy over all the records it was scored on (ties: fewer no-answers, then
pool order). The paper scores every prompt on one set; two rounds spend the budget where the choice is made.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from paft_ext.benchmark_data.source import Record
from paft_ext.pools.store import Prompt
from paft_ext.tasks import TaskSpec

Generate = Callable[[list[str]], list[str]]


@dataclass
class PromptScore:
    """Measured answers of one prompt: correct / answered counts over the records it was scored on."""

    index: int  # position in the pool file
    prompt_id: str
    records: int = 0
    correct: int = 0
    no_answer: int = 0
    rounds: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.records if self.records else 0.0

    def rank_key(self) -> tuple[float, int, int]:
        return (-self.accuracy, self.no_answer, self.index)


@dataclass(frozen=True)
class Selection:
    """The TopAccuracy prompt and every score measured to choose it."""

    prompt: Prompt
    scores: list[PromptScore]


def generate_batched(generate: Generate, texts: Sequence[str], batch_size: int) -> list[str]:
    """The outputs for ``texts``, generated ``batch_size`` at a time; a generator that returns another number of
    outputs than it was given inputs is an error, not a shifted alignment."""
    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        answer = generate(list(batch))
        if len(answer) != len(batch):
            raise RuntimeError(f"generator returned {len(answer)} outputs for {len(batch)} inputs")
        outputs += answer
    return outputs


def score(task: TaskSpec, prompts: Sequence[Prompt], indices: Sequence[int], records: Sequence[Record],
          generate: Generate, scores: dict[int, PromptScore], round_name: str, batch_size: int = 8) -> None:
    """Add the answers of ``prompts[i]`` (``i`` in ``indices``) on ``records`` to ``scores``."""
    jobs = [(i, r) for i in indices for r in records]
    outputs = generate_batched(generate, [task.fill(prompts[i].text, r.values) for i, r in jobs], batch_size)
    for (i, record), output in zip(jobs, outputs, strict=True):
        entry = scores.setdefault(i, PromptScore(i, prompts[i].id))
        answer = task.extract(output)
        entry.records += 1
        entry.correct += answer == record.values["answer"]
        entry.no_answer += answer == ""
    for i in indices:
        scores[i].rounds.append(round_name)


def select_top_accuracy(task: TaskSpec, prompts: Sequence[Prompt], records: Sequence[Record], generate: Generate,
                        *, screen: int, confirm: int, finalists: int, batch_size: int = 8) -> Selection:
    """Two-round TopAccuracy over ``prompts``: ``records[:screen]`` for all, ``records[screen:screen+confirm]`` for
    the ``finalists`` best of round one."""
    if len(records) < screen + confirm:
        raise ValueError(f"TopAccuracy needs {screen + confirm} scoring records, got {len(records)}")
    scores: dict[int, PromptScore] = {}
    score(task, prompts, range(len(prompts)), records[:screen], generate, scores, "screen", batch_size)
    leaders = sorted(scores.values(), key=PromptScore.rank_key)[: max(1, finalists)]
    if confirm:
        score(task, prompts, [s.index for s in leaders], records[screen : screen + confirm], generate, scores,
              "confirm", batch_size)
    best = min(leaders, key=PromptScore.rank_key)
    return Selection(prompts[best.index], [scores[i] for i in sorted(scores)])


def write_scores(selection: Selection, path: Path) -> None:
    """Every measured score (CSV), the chosen prompt first."""
    rows = sorted(selection.scores, key=lambda s: (s.prompt_id != selection.prompt.id, s.rank_key()))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["index", "prompt_id", "records", "correct", "no_answer",
                                                     "accuracy", "rounds", "chosen"])
        writer.writeheader()
        for s in rows:
            writer.writerow({**{k: v for k, v in asdict(s).items() if k != "rounds"}, "accuracy": f"{s.accuracy:.2f}",
                             "rounds": "+".join(s.rounds), "chosen": s.prompt_id == selection.prompt.id})


def opencompass_generator(model: str, tokenizer: str, *, max_out_len: int, num_gpus: int = 0) -> Generate:
    """Greedy generation through the same OpenCompass model class and settings the evaluation uses."""
    from paft_ext.evaluation.compat import PaftHFChatModel
    from paft_ext.evaluation.run_config import BYTE_EXACT_META, model_kwargs, stop_words

    hf = PaftHFChatModel(path=model, tokenizer_path=tokenizer, model_kwargs=model_kwargs(num_gpus),
                         generation_kwargs={"do_sample": False}, max_seq_len=2048, max_out_len=max_out_len,
                         meta_template=BYTE_EXACT_META, stop_words=stop_words(tokenizer))
    hf.logger.setLevel("WARNING")
    return lambda texts: hf.generate(texts, max_out_len=max_out_len, min_out_len=1)


def select_zopo(task: TaskSpec, prompts: Sequence[Prompt], records: Sequence[Record], generate: Generate,
                embeddings, *, generations: int, per_query: int, seed: int = 0, batch_size: int = 8) -> Selection:
    """ZOPO (:mod:`.zopo`) over ``prompts``: a query scores one prompt on ``records[:per_query]`` under the evaluation
    protocol (as TopAccuracy scores), and the search may spend ``generations`` generations in all."""
    from .zopo import zopo_search

    if len(records) < per_query:
        raise ValueError(f"ZOPO needs {per_query} scoring records per query, got {len(records)}")
    scores: dict[int, PromptScore] = {}

    def evaluate(i: int) -> float:
        score(task, prompts, [i], records[:per_query], generate, scores, "zopo", batch_size)
        return scores[i].accuracy

    result = zopo_search(embeddings, evaluate, budget=max(1, generations // per_query), seed=seed)
    best = min((scores[i] for i, _ in result.queries), key=PromptScore.rank_key)
    return Selection(prompts[best.index], [scores[i] for i in sorted(scores)])
