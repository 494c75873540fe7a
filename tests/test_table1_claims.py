"""The claim checks and the question bootstrap behind them, on hand-made numbers whose verdicts and statistics are
worked out here by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paft_ext.evaluation.bootstrap import correctness, difference, paired_bootstrap
from paft_ext.evaluation.prompt_results import PromptResult
from paft_ext.experiments.claims import Claim, check_claims, claims_markdown


def _row(model: str, prompt_set: str, mean: float, spread: float, worst: float, no_answer: float = 0.0) -> dict:
    return {"model": model, "task": "sst2", "prompt_set": prompt_set, "mean": mean, "spread_beyond_noise": spread,
            "min": worst, "worst_prompt": f"{model}-worst", "no_answer_pct": no_answer}


def _boot(paft_mean: float, fixed_means: np.ndarray) -> dict:
    flat = np.zeros_like(fixed_means)
    return {"paft": {"mean": (paft_mean, np.full_like(fixed_means, paft_mean)), "spread": (0.0, flat)},
            "fixed": {"mean": (float(fixed_means.mean()), fixed_means), "spread": (0.0, flat)}}


def _verdicts(rows: list[dict], gaps: list[dict], boot: dict) -> dict[str, bool]:
    claims = check_claims(rows, gaps, {("sst2", "test"): boot})
    assert {c.prompt_set for c in claims} == {"test"}  # the seen probe is not an unseen set
    return {c.name: c.holds for c in claims}


def _gaps(paft: float, fixed: float) -> list[dict]:
    return [{"model": "paft", "task": "sst2", "unseen_set": "test", "gap": paft},
            {"model": "fixed", "task": "sst2", "unseen_set": "test", "gap": fixed}]


SEEN_ROWS = [_row("paft", "seen_probe", 91, 0, 90), _row("fixed", "seen_probe", 86, 0, 80)]


def test_every_claim_holds_on_a_clear_win():
    rows = [_row("paft", "test", 90, 1.0, 86, 0.5), _row("fixed", "test", 80, 4.0, 60), *SEEN_ROWS]
    # PAFT − fixed per resample: 90 − (70 … 88) = 2 … 20, so the interval excludes 0
    verdicts = _verdicts(rows, _gaps(1.0, 6.0), _boot(90, np.linspace(70, 88, 200)))
    assert verdicts == {"spread": True, "mean": True, "worst prompt": True, "no answer": True,
                        "seen-vs-unseen gap": True}


def test_each_claim_fails_just_past_its_bound():
    # spread 2.01 > 0.5 × 4; gain 1.5 < 2; worst 79.9 < 80; no-answer 1.01 > 1; |−2.01| > 6 / 3
    rows = [_row("paft", "test", 81.5, 2.01, 79.9, 1.01), _row("fixed", "test", 80, 4.0, 60), *SEEN_ROWS]
    verdicts = _verdicts(rows, _gaps(-2.01, 6.0), _boot(81.5, np.linspace(70, 79, 200)))
    assert verdicts == {name: False for name in verdicts} and len(verdicts) == 5
    # on the bound itself: spread 2.0 = 0.5 × 4, worst = fixed mean, no-answer 1, |gap| = 2 → hold
    rows = [_row("paft", "test", 81.5, 2.0, 80, 1.0), _row("fixed", "test", 80, 4.0, 60), *SEEN_ROWS]
    verdicts = _verdicts(rows, _gaps(2.0, -6.0), _boot(81.5, np.linspace(70, 79, 200)))
    assert verdicts == {"spread": True, "mean": False, "worst prompt": True, "no answer": True,
                        "seen-vs-unseen gap": True}


def test_a_gain_whose_interval_reaches_zero_is_not_a_win():
    rows = [_row("paft", "test", 85, 0.0, 84), _row("fixed", "test", 80, 4.0, 60), *SEEN_ROWS]
    verdicts = _verdicts(rows, _gaps(0.0, 6.0), _boot(85, np.linspace(70, 90, 201)))  # 85 − 90 < 0 in the tail
    assert verdicts["mean"] is False


def _result(model: str, index: int, items: str) -> PromptResult:
    accuracy = 100 * items.count("1") / len(items)
    return PromptResult(model, "sst2", index, f"{model}{index}", accuracy, len(items), 0.0, 1.0, None, accuracy, items)


def test_bootstrap_observed_statistics_and_pairing():
    fixed = ["1111111111", "1111100000", "1111111100"]  # 100, 50, 80 %
    paft = ["1111111110"] * 3  # 90 % on every prompt
    results = [_result("fixed", i, t) for i, t in enumerate(fixed)]
    results += [_result("paft", i, t) for i, t in enumerate(paft)]
    boot = paired_bootstrap(correctness(results, "sst2", "test"), resamples=300)
    # mean 76.67; variance over prompts (23.33² + 26.67² + 3.33²) / 3 = 422.22; mean binomial variance
    # (0 + 2500 + 1600) / 10 / 3 = 136.67; spread sqrt(285.56) = 16.90; PAFT: 0 variance, 0 spread
    assert boot["fixed"]["mean"][0] == pytest.approx(230 / 3)
    assert boot["fixed"]["std"][0] == pytest.approx(math.sqrt(422.2222), rel=1e-5)
    assert boot["fixed"]["spread"][0] == pytest.approx(math.sqrt(285.5556), rel=1e-5)
    assert boot["paft"]["spread"][0] == 0.0 and boot["paft"]["std"][0] == pytest.approx(0.0)
    gain = difference(boot, "paft", "fixed", "mean")
    assert gain.value == pytest.approx(90 - 230 / 3) and gain.low < gain.value < gain.high
    same = paired_bootstrap(correctness(results + [_result("copy", i, t) for i, t in enumerate(fixed)], "sst2",
                                        "test"), resamples=300)
    tie = difference(same, "copy", "fixed", "mean")
    assert (tie.value, tie.low, tie.high) == (0.0, 0.0, 0.0)  # the same questions in every resample


def test_bootstrap_refuses_prompts_with_different_questions():
    results = [_result("fixed", 0, "1111"), _result("fixed", 1, "11110")]
    with pytest.raises(ValueError, match="different numbers of questions"):
        correctness(results, "sst2", "test")


def test_claims_table_keeps_a_pipe_inside_its_cell():
    """``|PAFT gap| ≤ |fixed gap| / 3`` must not split the Markdown row into extra columns."""
    table = claims_markdown([Claim("sst2", "test", "gap", "|PAFT gap| ≤ |fixed gap| / 3", "PAFT +2.00", False)])
    row = table.splitlines()[2]
    unescaped = row.replace("\\|", "")
    assert unescaped.count("|") == 7  # six cells
    assert "\\|PAFT gap\\| ≤ \\|fixed gap\\| / 3" in row
