"""The main job beside Table 1's seeds: restricted to the same prompts and first questions, with hand-counted means."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from paft_ext.experiments.main_vs_table1 import compare, difference, markdown


def _write(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["model", "task", "prompt_set", "prompt_id", "accuracy", "item_correct", "item_golds"])
        for model, prompt_set, prompt_id, correct, golds in rows:
            out.writerow([model, "sst2", prompt_set, prompt_id, "99.0", correct, golds])  # accuracy column unused
    return path


GOLDS4, GOLDS6 = "A|B|A|B", "A|B|A|B|A|A"


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, dict[int, Path]]:
    f, p = "fixed", "paft"
    main = _write(tmp_path / "main.csv", [(f, "test", "p1", "1100", GOLDS4), (f, "test", "p2", "1110", GOLDS4),
                                          (p, "test", "p1", "1111", GOLDS4), (p, "test", "p2", "1011", GOLDS4)])
    seed0 = _write(tmp_path / "s0.csv", [(f, "test", "p1", "111100", GOLDS6), (f, "test", "p2", "000011", GOLDS6),
                                         (f, "test", "p3", "111111", GOLDS6),  # not read by the main job
                                         (p, "test", "p1", "101011", GOLDS6), (p, "test", "p2", "111100", GOLDS6)])
    seed1 = _write(tmp_path / "s1.csv", [(f, "test", "p1", "110000", GOLDS6), (f, "test", "p2", "011100", GOLDS6),
                                         (p, "test", "p1", "111111", GOLDS6), (p, "test", "p2", "111111", GOLDS6)])
    return main, {0: seed0, 1: seed1}


def test_seeds_are_read_on_the_main_jobs_prompts_and_first_questions(runs):
    main, seeds = runs
    rows = {r["model"]: r for r in compare(main, seeds)}
    # fixed: main (50 + 75) / 2; seed 0 "1111", "0000" -> 50 (p3 ignored); seed 1 "1100", "0111" -> 62.5
    assert (rows["fixed"]["main"], rows["fixed"]["seed0"], rows["fixed"]["seed1"]) == (62.5, 50.0, 62.5)
    assert (rows["paft"]["main"], rows["paft"]["seed0"], rows["paft"]["seed1"]) == (87.5, 75.0, 100.0)
    assert rows["fixed"]["prompts"] == 2 and rows["fixed"]["questions"] == 4
    [diff] = difference(list(rows.values()), "paft", "fixed")
    assert (diff["main"], diff["seed0"], diff["seed1"]) == (25.0, 25.0, 37.5)
    table = markdown([rows["fixed"], diff], [0, 1], "seed 42")
    assert {line.count("|") for line in table} == {9}  # header, separator and rows: 8 columns
    assert table[2] == "| fixed | test | 2 × 4 | 62.50 | 50.00 | 62.50 | 56.25 ± 8.84 | yes |"
    assert table[3] == "| paft − fixed | test | 2 × 4 | 25.00 | 25.00 | 37.50 | 31.25 ± 8.84 | yes |"


def test_a_model_one_seed_never_read_is_left_out_of_that_seed(runs, tmp_path):
    main, seeds = runs
    with_base = _write(tmp_path / "main_base.csv", [("base", "test", "p1", "0100", GOLDS4), ("fixed", "test", "p1",
                                                                                            "1100", GOLDS4)])
    base0 = _write(tmp_path / "s0_base.csv", [("base", "test", "p1", "000000", GOLDS6),
                                              ("fixed", "test", "p1", "111100", GOLDS6)])
    rows = {r["model"]: r for r in compare(with_base, {0: base0, 1: seeds[1]})}  # seed 1 has no base reading
    assert rows["base"]["seed0"] == 0.0 and "seed1" not in rows["base"]
    assert markdown([rows["base"]], [0, 1], "x")[2] == "| base | test | 1 × 4 | 25.00 | 0.00 | – | 0.00 | no |"
    assert markdown([rows["base"]], [1], "x")[2] == "| base | test | 1 × 4 | 25.00 | – | – | – |"


def test_other_questions_or_a_missing_prompt_are_refused(runs, tmp_path):
    main, seeds = runs
    other = _write(tmp_path / "other.csv", [(m, "test", p, "111111", "B|B|A|B|A|A") for m in ("fixed", "paft")
                                            for p in ("p1", "p2")])
    with pytest.raises(ValueError, match="golds differ"):
        compare(main, {0: other})
    short = _write(tmp_path / "short.csv", [("fixed", "test", "p1", "111111", GOLDS6)])
    with pytest.raises(ValueError, match="no fixed reading of test prompt p2"):
        compare(main, {0: short})


def test_a_main_job_outside_the_seed_range_says_so(runs, tmp_path):
    main, seeds = runs
    low = _write(tmp_path / "low.csv", [("fixed", "test", p, "000000", GOLDS6) for p in ("p1", "p2")]
                 + [("paft", "test", p, "000000", GOLDS6) for p in ("p1", "p2")])
    rows = compare(main, {0: low, 1: low})
    assert markdown(rows, [0, 1], "x")[2].endswith("| 0.00 ± 0.00 | no |")
