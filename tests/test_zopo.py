"""ZOPO on a synthetic black box with a known optimum: 420 candidates (the size of a train pool) with 16-dimensional
embeddings, value exp(-|z - z*|^2 / 18) peaking at one candidate z*, 30 queries (7 % of the candidates)."""

from __future__ import annotations

import numpy as np

from paft_ext.experiments.zopo import zopo_search

CANDIDATES, DIM, BUDGET, SEEDS = 420, 16, 30, 20


def _problem(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(1000 + seed)
    embeddings = rng.normal(size=(CANDIDATES, DIM))
    star = int(rng.integers(CANDIDATES))
    values = np.exp(-np.sum((embeddings - embeddings[star]) ** 2, axis=1) / 18.0)
    return embeddings, values, star


def test_zopo_finds_the_optimum_in_most_seeds_where_random_search_does_not():
    zopo_hits = random_hits = 0
    for seed in range(SEEDS):
        embeddings, values, star = _problem(seed)
        calls: list[int] = []

        def evaluate(i: int, values=values, calls=calls) -> float:
            calls.append(i)
            return float(values[i])

        result = zopo_search(embeddings, evaluate, BUDGET, seed=seed)
        assert len(calls) == len(result.queries) <= BUDGET and len(set(calls)) == len(calls)  # budget, no repeats
        assert result.best == max(calls, key=lambda i: values[i])  # the best it queried
        zopo_hits += result.best == star
        random_hits += star in np.random.default_rng(seed).permutation(CANDIDATES)[:BUDGET]
    # measured: ZOPO 14 of 20, random search with the same budget 2 of 20 (expected 20 x 30/420 = 1.4)
    assert zopo_hits >= 12 and random_hits <= 5, (zopo_hits, random_hits)


def test_a_budget_larger_than_the_candidates_queries_each_once():
    embeddings, values, star = _problem(0)
    small = embeddings[:10]
    result = zopo_search(small, lambda i: float(values[i]), budget=50, seed=1)
    assert sorted(i for i, _ in result.queries) == list(range(10))
    assert result.best == int(np.argmax(values[:10]))


def test_zopo_selection_spends_its_generation_budget_and_returns_the_best_it_scored(tiny_model):
    from paft_ext.benchmark_data.source import Record
    from paft_ext.experiments.top_accuracy import select_zopo
    from paft_ext.experiments.zopo import prompt_embeddings
    from paft_ext.pools.store import Prompt
    from paft_ext.tasks import get_task

    task = get_task("sst2")
    prompts = [Prompt(f"p{k}", f"Prompt {k}: {{sentence}}\nA. {{A}}\nB. {{B}}\nAnswer:", "test") for k in range(12)]
    records = [Record({"sentence": f"review {q}", "A": "negative", "B": "positive", "answer": "AB"[q % 2]}, f"r:{q}")
               for q in range(4)]
    good = {"p3", "p7"}  # a black box where two prompts make the model right on every record
    seen: list[str] = []

    def generate(texts: list[str]) -> list[str]:
        out = []
        for text in texts:
            seen.append(text)
            prompt_id = "p" + text.split(":")[0].split()[-1]
            gold = "AB"[int(text.split("review ")[1].split("\n")[0]) % 2]
            out.append(gold if prompt_id in good else "A")
        return out

    embeddings = prompt_embeddings(str(tiny_model), [p.text for p in prompts])
    assert embeddings.shape[0] == 12 and np.allclose(np.linalg.norm(embeddings, axis=1), 1.0)
    selection = select_zopo(task, prompts, records, generate, embeddings, generations=40, per_query=4, seed=0)
    assert len(seen) <= 40 and len(seen) == 4 * len(selection.scores)  # 10 queries of 4 records at most
    best = max(selection.scores, key=lambda s: (s.accuracy, -s.index))
    assert selection.prompt.id == best.prompt_id
    assert (selection.prompt.id in good) == bool(good & {s.prompt_id for s in selection.scores})
