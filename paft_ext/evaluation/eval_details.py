"""Per-question verdicts from OpenCompass's own scoring (``--dump-eval-details``), for the report.

With details dumped, ``results/<model>/<dataset>.json`` holds, per scored item in file order, the answer OpenCompass
extracted (``predictions``: the dataset's ``pred_postprocessor`` output), the reference and — where the evaluator
gives it — ``correct``. The report takes answers and verdicts from there, so its per-question numbers are
OpenCompass's by construction (also for evaluators that do more than compare strings); runs without details
(``paft-ext eval --no-eval-details``, to save disk: details repeat every prompt) are re-scored with the task's
extractor instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .prompt_sets import PromptSetError


def scored_items(result: dict[str, Any], count: int, where: Path) -> tuple[list[str], list[bool]] | None:
    """(extracted answer, correct) per item from one OpenCompass result, or None when it holds no details."""
    details = result.get("details")
    if not details:
        return None
    if isinstance(details, dict):  # {"type": "GEN", "0": {...}, "1": {...}, ...}
        items = {int(k): v for k, v in details.items() if str(k).isdigit()}
        rows = [items[k] for k in sorted(items)]
        if sorted(items) != list(range(len(items))):
            raise PromptSetError(f"{where}: OpenCompass's details are not numbered 0..{len(items) - 1}")
    else:
        rows = list(details)
    if len(rows) != count:
        raise PromptSetError(f"{where}: {len(rows)} scored items in OpenCompass's details, {count} predictions")
    answers, verdicts = [], []
    for row in rows:
        answer = row.get("predictions", row.get("pred"))
        answers.append("" if answer is None else str(answer))
        verdict = row.get("correct", row.get("is_correct"))
        verdicts.append(bool(verdict) if verdict is not None else answers[-1] == str(row.get("references")))
    return answers, verdicts
