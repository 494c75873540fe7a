"""Answer balance of a choice task: is a model reading the question, or answering one letter?

A model that answers "A" to almost everything scores the share of gold "A"s, and its accuracy can look stable over
prompts — robust in the report, broken in fact. So every report of a choice task shows, per model and prompt set
(all items of all its prompts pooled; the same questions under every prompt):

* accuracy per gold class (questions whose gold is A, B, …) and **balanced accuracy**, their unweighted mean;
* each letter's share among the answers next to its share among the golds (``none``: no letter extracted);
* **collapse**: some letter's answer share exceeds its gold share by more than :data:`COLLAPSE_POINTS`;
* **collapsed prompts**: the prompts under which the model collapses on that prompt's items alone — a model can be
  balanced over a whole set and still answer one letter to everything under one wording (the prompt sensitivity
  PAFT is meant to remove), which the pooled flag averages away.

Letters are the original options (answers of option-order variants are already mapped back before this sees them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

COLLAPSE_POINTS = 15.0  # answer share − gold share, in points, above which a letter marks a collapse


@dataclass(frozen=True)
class AnswerBalance:
    """Balance figures of one pool of items (percentages)."""

    items: int
    accuracy_per_gold: dict[str, float]  # gold letter -> accuracy on its questions (letters that occur as gold)
    balanced_accuracy: float
    answer_share: dict[str, float]  # letter (and "none") -> share of the answers
    gold_share: dict[str, float]  # letter -> share of the golds
    collapse_letter: str  # the letter most over-answered beyond COLLAPSE_POINTS, "" when none is

    @property
    def collapse(self) -> bool:
        return bool(self.collapse_letter)


def answer_balance(golds: Sequence[str], answers: Sequence[str], letters: str) -> AnswerBalance:
    """Balance of paired ``golds`` and extracted ``answers`` ('' = no answer) over the option ``letters``."""
    if len(golds) != len(answers):
        raise ValueError(f"answer balance: {len(golds)} golds but {len(answers)} answers")
    if not golds:
        raise ValueError("answer balance: no items")
    n = len(golds)
    options = set(letters)  # a set: "" is a substring of every string, never an option
    gold_count, answer_count = Counter(golds), Counter(a if a in options else "none" for a in answers)
    per_gold = {}
    for letter in letters:
        mine = [a for g, a in zip(golds, answers, strict=True) if g == letter]
        if mine:
            per_gold[letter] = 100.0 * sum(a == letter for a in mine) / len(mine)
    answer_share = {letter: 100.0 * answer_count[letter] / n for letter in letters}
    answer_share["none"] = 100.0 * answer_count["none"] / n
    gold_share = {letter: 100.0 * gold_count[letter] / n for letter in letters}
    excess = {letter: answer_share[letter] - gold_share[letter] for letter in letters}
    worst = max(letters, key=lambda letter: (excess[letter], -letters.index(letter)))
    return AnswerBalance(items=n, accuracy_per_gold=per_gold,
                         balanced_accuracy=sum(per_gold.values()) / len(per_gold), answer_share=answer_share,
                         gold_share=gold_share, collapse_letter=worst if excess[worst] > COLLAPSE_POINTS else "")


def _items(result) -> tuple[list[str], list[str]] | None:
    """A PromptResult's per-item golds and answers, or None when it carries no per-item golds (older per-prompt
    files, number tasks)."""
    if not result.item_golds:
        return None
    golds, answers = result.item_golds.split("|"), result.item_answers.split("|")
    if len(golds) != len(answers):
        raise ValueError(f"{result.model} / {result.prompt_id}: {len(golds)} golds but {len(answers)} answers")
    return golds, answers


def pooled_balance(results: Iterable, letters: str) -> AnswerBalance | None:
    """The balance of every item of ``results`` (PromptResults with per-item golds and answers), or None when they
    carry no per-item golds."""
    golds: list[str] = []
    answers: list[str] = []
    for r in results:
        items = _items(r)
        if items is None:
            return None
        golds += items[0]
        answers += items[1]
    return answer_balance(golds, answers, letters) if golds else None


def collapsed_prompts(results: Iterable, letters: str) -> list[str] | None:
    """Ids of the ``results`` (PromptResults of one model and prompt set) whose own items collapse, or None when they
    carry no per-item golds."""
    collapsed = []
    for r in results:
        items = _items(r)
        if items is None:
            return None
        if answer_balance(*items, letters).collapse:
            collapsed.append(r.prompt_id)
    return collapsed


def _shares(shares: dict[str, float]) -> str:
    return " ".join(f"{k}:{v:.1f}" for k, v in shares.items())


def balance_columns(results: list, letters: str | None) -> dict:
    """Flat report columns of one model and prompt set's ``results``, for summary rows and CSVs: the pooled balance
    and the collapsed prompts (empty when unknown: ``letters`` None for a task without options, or no per-item
    golds)."""
    balance = pooled_balance(results, letters) if letters else None
    collapsed = collapsed_prompts(results, letters) if balance is not None else None
    if balance is None or collapsed is None:
        return {"balanced_accuracy": None, "accuracy_per_gold": "", "answer_share": "", "gold_share": "",
                "collapse": None, "collapse_letter": "", "collapsed_prompts": None, "collapsed_prompt_ids": ""}
    return {"balanced_accuracy": balance.balanced_accuracy, "accuracy_per_gold": _shares(balance.accuracy_per_gold),
            "answer_share": _shares(balance.answer_share), "gold_share": _shares(balance.gold_share),
            "collapse": balance.collapse, "collapse_letter": balance.collapse_letter,
            "collapsed_prompts": len(collapsed), "collapsed_prompt_ids": " ".join(collapsed)}


def balance_markdown(rows: list[dict]) -> str:
    """The answer-balance table of summary rows that carry balance columns ('' when none does)."""
    mine = [r for r in rows if r.get("collapse") is not None]
    if not mine:
        return ""
    lines = ["", f"Answer balance (all items of all prompts): accuracy per gold letter, balanced accuracy (their "
             f"mean), each letter's share of the answers next to its share of the golds; collapse = a letter "
             f"answered more than {COLLAPSE_POINTS:.0f} points above its gold share; collapsed prompts = prompts "
             f"under which that holds on the prompt's own items.", "",
             "| model | task | prompt_set | accuracy | balanced accuracy | accuracy per gold | answer share | "
             "gold share | collapse | collapsed prompts |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['task']} | {r['prompt_set']} | {r['mean']:.2f} | {r['balanced_accuracy']:.2f} | "
              f"{r['accuracy_per_gold']} | {r['answer_share']} | {r['gold_share']} | "
              f"{'**yes: ' + r['collapse_letter'] + '**' if r['collapse'] else 'no'} | "
              f"{r['collapsed_prompts']} of {r['prompts']}"
              f"{': ' + r['collapsed_prompt_ids'] if r['collapsed_prompts'] else ''} |" for r in mine]
    return "\n".join(lines) + "\n"
