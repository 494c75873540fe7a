"""PAFT's claim against fixed-prompt SFT, tested plainly on each unseen prompt set of a Table 1 run.

Five checks, each stated with the measured numbers and whether it holds (thresholds from the evidence issue):

1. spread: PAFT's noise-corrected spread over prompts ≤ 0.5 × fixed-prompt SFT's;
2. mean: PAFT's mean ≥ fixed + 2 points, and the paired bootstrap interval of the difference excludes 0;
3. worst prompt: PAFT's worst prompt ≥ fixed-prompt SFT's mean;
4. no answer: PAFT answers ≥ 99 % of items (no-answer ≤ 1 %);
5. seen-vs-unseen gap: |PAFT's gap| ≤ |fixed's gap| / 3 (the sign is shown; a negative gap means the unseen prompts
   did better than the seen ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from paft_ext.evaluation.bootstrap import Estimate, difference
from paft_ext.evaluation.prompt_sets import SEEN

BASELINE, METHOD = "fixed", "paft"
SPREAD_RATIO, MEAN_GAIN, NO_ANSWER_MAX, GAP_RATIO = 0.5, 2.0, 1.0, 1 / 3


@dataclass(frozen=True)
class Claim:
    task: str
    prompt_set: str
    name: str
    goal: str
    measured: str
    holds: bool


def check_claims(rows: list[dict], gaps: list[dict], boots: dict[tuple[str, str], dict]) -> list[Claim]:
    """``rows``: :func:`report.summarise` rows; ``gaps``: :func:`report.seen_unseen_gaps`; ``boots``: (task, set) ->
    :func:`bootstrap.paired_bootstrap`. One claim list per (task, unseen set) where both methods were evaluated."""
    by_key = {(r["model"], r["task"], r["prompt_set"]): r for r in rows if r["task"] != "AVERAGE"}
    gap_of = {(g["model"], g["task"], g["unseen_set"]): g["gap"] for g in gaps}
    claims = []
    for task, prompt_set in sorted({(t, s) for m, t, s in by_key if m == METHOD and s != SEEN}):
        paft, fixed = by_key[(METHOD, task, prompt_set)], by_key.get((BASELINE, task, prompt_set))
        if fixed is None:
            continue
        boot = boots.get((task, prompt_set), {})
        claims += _claims(task, prompt_set, paft, fixed, boot, gap_of.get((METHOD, task, prompt_set)),
                          gap_of.get((BASELINE, task, prompt_set)))
    return claims


def _claims(task: str, prompt_set: str, paft: dict, fixed: dict, boot: dict, paft_gap: float | None,
            fixed_gap: float | None) -> list[Claim]:
    def claim(name: str, goal: str, measured: str, holds: bool) -> Claim:
        return Claim(task, prompt_set, name, goal, measured, holds)

    spread_diff = difference(boot, METHOD, BASELINE, "spread")
    mean_diff = difference(boot, METHOD, BASELINE, "mean")
    p_spread, f_spread = paft["spread_beyond_noise"], fixed["spread_beyond_noise"]
    gain = paft["mean"] - fixed["mean"]
    out = [
        claim("spread", f"PAFT noise-corrected spread ≤ {SPREAD_RATIO} × fixed's",
              f"PAFT {p_spread:.2f}, fixed {f_spread:.2f} (bound {SPREAD_RATIO * f_spread:.2f}); difference "
              f"{_or_dash(spread_diff)}", p_spread <= SPREAD_RATIO * f_spread),
        claim("mean", f"PAFT mean ≥ fixed + {MEAN_GAIN:g} points, interval excludes 0",
              f"PAFT {paft['mean']:.2f}, fixed {fixed['mean']:.2f}: difference {_or_dash(mean_diff)}",
              gain >= MEAN_GAIN and mean_diff is not None and mean_diff.low > 0),
        claim("worst prompt", "PAFT worst prompt ≥ fixed mean",
              f"PAFT worst {paft['min']:.2f} ({paft['worst_prompt']}), fixed mean {fixed['mean']:.2f}",
              paft["min"] >= fixed["mean"]),
        claim("no answer", f"PAFT no-answer ≤ {NO_ANSWER_MAX:g} %", f"PAFT {paft['no_answer_pct']:.2f} % "
              f"(fixed {fixed['no_answer_pct']:.2f} %)", paft["no_answer_pct"] <= NO_ANSWER_MAX),
    ]
    if paft_gap is not None and fixed_gap is not None:
        out.append(claim("seen-vs-unseen gap", "|PAFT gap| ≤ |fixed gap| / 3",
                         f"PAFT {paft_gap:+.2f}, fixed {fixed_gap:+.2f} (bound {abs(fixed_gap) * GAP_RATIO:.2f})",
                         abs(paft_gap) <= abs(fixed_gap) * GAP_RATIO))
    return out


def _or_dash(value: Estimate | None) -> str:
    return "–" if value is None else str(value)


def claims_markdown(claims: list[Claim]) -> str:
    """The claims as a Markdown table; a ``|`` inside a cell (``|PAFT gap|``) is escaped so it stays one cell."""
    def cells(*values: str) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = ["| Task | Unseen set | Claim | Goal | Measured | Holds |", "|---|---|---|---|---|---|"]
    lines += [cells(c.task, c.prompt_set, c.name, c.goal, c.measured, "yes" if c.holds else "no") for c in claims]
    return "\n".join(lines) + "\n"
