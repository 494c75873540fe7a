"""BATprompt selection (Shi et al. 2024, arXiv 2412.18196): the Table 1 baseline that, like PAFT, aims at
robustness — by choosing one prompt that holds up under adversarial inputs, not by training on many prompts.

Two LLM stages through the project's OpenAI-compatible generator (:mod:`paft_ext.pools.generate`: the generator
config format, its disk cache, retries and key redaction; the config's first generator is the optimiser LLM):

1. **Adversarial inputs.** For each of ``records`` seeded training records, the LLM rewrites the task's input field
   (the first field that is not an option) so that a reader is more likely to get the task wrong while the correct
   answer stays the same (meta-prompt ``bat_attack.j2``). A rewrite that is empty, holds a brace or is more than
   three times the original's length is not used: that record keeps its input, and the count says so.
2. **Prompt optimisation.** Starting from the task's user-specified prompt, each of ``rounds`` rounds shows the LLM
   the best prompt so far, its accuracy on the attacked records and up to ``errors_shown`` records it got wrong,
   and asks for ``proposals`` improved templates (``bat_optimise.j2``). Every proposal is validated and checked for
   safety and for leakage of the test prompts like any pool prompt (one that fails is recorded with why, never
   scored), then scored by the base model on the attacked records under the evaluation protocol (the black box
   TopAccuracy uses). The best prompt over all rounds (ties: fewer no-answers, then earlier) is the selection.

The paper's method iterates perturbation and optimisation with richer feedback; this is its minimal form with the
same two ingredients, at a budget set by the preset (LLM requests, base-model generations and seconds recorded).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from paft_ext.benchmark_data.source import Record
from paft_ext.pools.generate import Generator, Request, meta_prompt
from paft_ext.pools.generation_config import GenerationConfig
from paft_ext.pools.leakage import TrainIndex, leak_reasons
from paft_ext.pools.replies import parse_templates, rename_placeholders
from paft_ext.pools.store import Prompt
from paft_ext.pools.validate import validate
from paft_ext.tasks import TaskSpec

from .top_accuracy import Generate, generate_batched

Ask = Callable[[str, int, str], str]  # (meta-prompt kind, request index, message) -> the LLM's reply


@dataclass(frozen=True)
class BatSettings:
    records: int = 16  # seeded training records attacked and scored on
    rounds: int = 2
    proposals: int = 4  # templates asked per round
    errors_shown: int = 3


@dataclass
class Proposal:
    round: int
    text: str
    accuracy: float | None = None
    no_answer: int | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class BatResult:
    prompt: Prompt
    accuracy: float
    candidates: list[Proposal]
    attacked: int  # records whose input the LLM rewrote
    llm_requests: int  # asked (a rerun answers them from the cache)
    llm_sent: int  # sent to the endpoint by this call
    generations: int  # base-model generations spent scoring
    seconds: float


def attack_field(task: TaskSpec) -> str:
    """The field an adversarial rewrite changes: the first that is not an option (the review, goal, question)."""
    return next(f for f in task.fields if f not in task.options)


def attack(task: TaskSpec, records: Sequence[Record], ask: Ask, config: GenerationConfig) -> tuple[list[Record], int]:
    """The records with their input field rewritten by the LLM, and how many rewrites were used."""
    name = attack_field(task)
    role = task.field_roles.get(name, name)
    out, used = [], 0
    for i, record in enumerate(records):
        text = record.values[name]
        reply = ask("bat_attack", i, _render("bat_attack", config, task=task, role=role, text=text)).strip().strip('"')
        usable = reply and not re.search(r"[{}]", reply) and len(reply) <= 3 * len(text) + 40 and reply != text
        out.append(replace(record, values={**record.values, name: reply}) if usable else record)
        used += bool(usable)
    return out, used


def _render(kind: str, config: GenerationConfig, **values) -> str:
    return meta_prompt(kind, config).render(**values)


def _score(task: TaskSpec, text: str, records: Sequence[Record], generate: Generate, batch_size: int
           ) -> tuple[float, int, list[tuple[Record, str]]]:
    """(accuracy %, no-answers, wrong (record, output) pairs) of one template on ``records``."""
    correct, no_answer, wrong = 0, 0, []
    outputs = generate_batched(generate, [task.fill(text, r.values) for r in records], batch_size)
    for record, output in zip(records, outputs, strict=True):
        answer = task.extract(output)
        correct += answer == record.values["answer"]
        no_answer += answer == ""
        if answer != record.values["answer"]:
            wrong.append((record, output))
    return 100.0 * correct / len(records), no_answer, wrong


def proposal_problems(text: str, task: TaskSpec, tests: TrainIndex) -> tuple[str, list[str]]:
    """(normalised text, why it cannot be used): pool validation and safety, and no part, sentence or near copy of a
    test prompt (the leakage check with the test prompts in the place of train)."""
    verdict = validate(text, task)
    problems = list(verdict.reasons)
    if not problems:
        nearest = float(tests.nearest([verdict.text])[0])
        problems = [f"test leakage: {why}" for _, why in leak_reasons(Prompt("p", verdict.text, "batprompt"), tests,
                                                                      nearest)]
    return verdict.text, problems


def optimise(task: TaskSpec, records: Sequence[Record], generate: Generate, ask: Ask, tests: TrainIndex,
             settings: BatSettings, config: GenerationConfig, batch_size: int = 8
             ) -> tuple[Prompt, float, list[Proposal], int]:
    """The best prompt over ``settings.rounds`` rounds of LLM proposals; also every candidate and the generations."""
    back = {shown: f for f, shown in task.generation_names.items()}
    best = Proposal(0, task.baseline_prompt)
    best.accuracy, best.no_answer, wrong = _score(task, best.text, records, generate, batch_size)
    candidates, generations = [best], len(records)
    for round_ in range(1, settings.rounds + 1):
        errors = [{"input": task.fill(best.text, r.values), "gold": r.values["answer"], "output": output.strip()}
                  for r, output in wrong[: settings.errors_shown]]
        message = _render("bat_optimise", config, task=task, current=best.text, accuracy=f"{best.accuracy:.0f}",
                          errors=errors, n=settings.proposals)
        for raw in parse_templates(ask("bat_optimise", round_, message))[: settings.proposals]:
            text, problems = proposal_problems(rename_placeholders(raw, back), task, tests)
            candidate = Proposal(round_, text, problems=problems)
            candidates.append(candidate)
            if problems or any(c.text == text and c is not candidate for c in candidates):
                continue
            candidate.accuracy, candidate.no_answer, proposal_wrong = _score(task, text, records, generate,
                                                                             batch_size)
            generations += len(records)
            if (candidate.accuracy, -candidate.no_answer) > (best.accuracy, -best.no_answer):
                best, wrong = candidate, proposal_wrong
    source = ("the task's user-specified prompt (no BATprompt proposal beat it)" if best.round == 0 else
              f"batprompt: round {best.round} proposal")
    return Prompt("batprompt", best.text, source), best.accuracy, candidates, generations


def select_batprompt(task: TaskSpec, records: Sequence[Record], generate: Generate, config: GenerationConfig,
                     cache_dir, tests: Sequence[Prompt], settings: BatSettings = BatSettings(),
                     batch_size: int = 8) -> BatResult:
    """Run both stages with the first generator of ``config`` (requests cached under ``cache_dir``)."""
    if not config.generators:
        raise ValueError("BATprompt needs a generator (an OpenAI-compatible endpoint) in its config")
    if len(records) < settings.records:
        raise ValueError(f"BATprompt needs {settings.records} training records, got {len(records)}")
    start, generator, spec = time.perf_counter(), Generator(config, cache_dir), config.generators[0]

    asked = 0

    def ask(kind: str, index: int, message: str) -> str:
        nonlocal asked
        asked += 1
        request = Request(spec, kind, index, ({"role": "user", "content": message},))
        return generator.fetch(request)[0]["texts"][0]

    attacked, used = attack(task, records[: settings.records], ask, config)
    prompt, accuracy, candidates, generations = optimise(task, attacked, generate, ask, TrainIndex(tests),
                                                         settings, config, batch_size)
    source = f"{prompt.source}, by {spec.name} ({spec.model}); {used}/{len(attacked)} inputs rewritten adversarially"
    return BatResult(replace(prompt, source=source), accuracy, candidates, used, asked,
                     sum(generator.sent.values()), generations, round(time.perf_counter() - start, 2))
