"""Rebuild the shipped prompt pools under data/prompts/ (deterministic: same parts + seed -> same bytes).

No LLM API is reachable where this project is built. Per pool:
* train / valid / test / seen_probe: seeded compositions of hand-written parts (paft_ext/pools/parts/), whose families
  are split into train-only and test-only members, so test prompts share no part with train;
* test_indep: whole prompts written by hand apart from the parts (paft_ext/pools/independent/<pool>.txt);
* valid_indep (where paft_ext/pools/independent/<pool>_valid.txt exists): prompts written by hand apart from the parts
  and from test_indep, to choose settings on when the composed valid prompts cannot show a failure (SST-2);
* test_llm: prompts written by Qwen2.5-Coder-1.5B-Instruct served locally, from the committed candidates
  (data/prompts/<pool>/llm_candidates.jsonl, made once by scripts/build_llm_test_prompts.py).
Every build ends with the unseen check (paft-ext pools check); a leak fails the build.
"""

from __future__ import annotations

from pathlib import Path

from paft_ext.cli import main
from paft_ext.tasks import TASKS

# One registry task per shipped pool, the first that names it (RACE-middle and RACE-high share the "race" pool).
POOL_TASKS: dict[str, str] = {}
for _task in TASKS.values():
    if _task.pool_shipped:
        POOL_TASKS.setdefault(_task.pool, _task.name)
ROOT = Path(__file__).resolve().parents[1]
# Every valid, distinct, unseen LLM candidate is kept; the floor fails the build if a rebuild loses any. The target is
# 50 per pool; WinoGrande falls short so far (data/README.md gives the yields).
LLM_TEST_MIN = {"piqa": 50, "winogrande": 50}

if __name__ == "__main__":
    for pool, task in POOL_TASKS.items():
        out = ["--out", f"data/prompts/{pool}"]  # relative to the working directory, like the rebuild test's
        main(["pools", "compose", "--task", task, "--candidates", "1600", "--test-candidates", "400",
              "--train-size", "420", "--seed", "0", *out])
        main(["pools", "add-test-set", "--task", task, "--name", "test_indep", "--from",
              str(ROOT / "paft_ext" / "pools" / "independent" / f"{pool}.txt"), *out])
        llm = ROOT / "data" / "prompts" / pool / "llm_candidates.jsonl"
        if llm.is_file():
            main(["pools", "add-test-set", "--task", task, "--name", "test_llm", "--from", str(llm), "--lenient",
                  "--min-size", str(LLM_TEST_MIN[pool]), *out])
        held_out = ROOT / "paft_ext" / "pools" / "independent" / f"{pool}_valid.txt"
        if held_out.is_file():
            main(["pools", "add-test-set", "--task", task, "--name", "valid_indep", "--from", str(held_out), *out])
