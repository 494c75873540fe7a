"""Rebuild the shipped prompt pools under data/prompts/ (deterministic: same parts + seed -> same bytes).

No LLM API is reachable where this project is built, so the shipped pools are seeded compositions of hand-written
parts (paft_ext/pools/parts/); every prompt's `source` names its parts. With API access, build pools with
`paft-ext pools generate --config generators.yaml --task <task>` instead.
"""

from __future__ import annotations

from paft_ext.cli import main

# One registry task per pool (RACE-middle and RACE-high share the "race" pool).
POOL_TASKS = ("hellaswag", "piqa", "winogrande", "race_middle", "gsm8k")

if __name__ == "__main__":
    for task in POOL_TASKS:
        main(["pools", "compose", "--task", task, "--candidates", "1600", "--train-size", "420", "--seed", "0"])
