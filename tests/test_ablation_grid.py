"""The ablation driver's grid and summary, without training: which settings a design runs, the names their work
folders get, and the per-setting figures and plots from known readings."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def grid_module():
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("ablation_grid", SCRIPTS / "ablation_grid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(SCRIPTS))


def test_axes_vary_one_factor_around_the_papers_defaults(grid_module):
    settings = grid_module.grid([1, 4, 8], [3, 6], [1, 10, None], "axes")
    assert settings == [(4, 3, None), (1, 3, None), (8, 3, None), (4, 6, None), (4, 3, 1), (4, 3, 10)]
    assert len(grid_module.grid([1, 4, 8], [3, 6], [1, 10, None], "full")) == 3 * 2 * 3
    assert [grid_module.setting_name(*s) for s in settings[:2]] == ["K4_T3_Nall", "K1_T3_Nall"]
    assert grid_module.overrides_of(8, 3, 10, {"learning_rate": 1e-3}) == {
        "learning_rate": 1e-3, "paft_window_steps": 8, "num_train_epochs": 3.0, "paft_pool_size": 10}
    assert "paft_pool_size" not in grid_module.overrides_of(4, 3, None, {})


def test_summary_and_plots_from_known_readings(grid_module, tmp_path):
    runs = [{"setting": f"K4_T3_N{n}", "seed": seed, "K": 4, "T": 3, "N": n, "valid_mean": mean,
             "valid_std": std, "valid_min": low, "collapse": collapse}
            for n, seed, mean, std, low, collapse in [(1, 0, 70.0, 9.0, 50, True), (1, 1, 80.0, 7.0, 60, False),
                                                      (10, 0, 85.0, 3.0, 80, False), (10, 1, 86.0, 2.0, 82, False),
                                                      (420, 0, 88.0, 1.5, 85, False)]]
    summary = {s["setting"]: s for s in grid_module.summary_rows(runs)}
    assert summary["K4_T3_N1"]["mean"] == 75.0 and summary["K4_T3_N1"]["sd_over_seeds"] == pytest.approx(
        statistics.stdev([70.0, 80.0])) and summary["K4_T3_N1"]["collapses"] == 1
    assert summary["K4_T3_N1"]["std_over_prompts"] == 8.0 and summary["K4_T3_N1"]["worst"] == 50
    assert summary["K4_T3_N420"]["seeds"] == 1
    written = grid_module.plot(list(summary.values()), tmp_path, full_pool=420, runs=runs)
    assert written == ["accuracy_vs_N.png"]  # one K only: no curve against K
    k_runs = [{**r, "setting": f"K{k}_T3_N420", "K": k} for k in (1, 8) for r in runs if r["N"] == 420]
    both = grid_module.plot(grid_module.summary_rows(runs + k_runs), tmp_path, full_pool=420)
    assert both == ["accuracy_vs_N.png", "accuracy_vs_K.png"]
    t_runs = [{**r, "setting": "K4_T6_N420", "T": 6} for r in runs if r["N"] == 420]
    k_only = [r for r in runs + k_runs if r["K"] != 4]  # no K=4 at the reference: no curve against T
    assert grid_module.plot(grid_module.summary_rows(k_only + t_runs), tmp_path, full_pool=420) == [
        "accuracy_vs_K.png"]
    every = grid_module.plot(grid_module.summary_rows(runs + k_runs + t_runs), tmp_path, full_pool=420)
    assert every == ["accuracy_vs_N.png", "accuracy_vs_K.png", "accuracy_vs_T.png"]
    assert (tmp_path / "accuracy_vs_N.png").stat().st_size > 1000


def test_committed_readings_are_kept_when_their_work_folders_are_gone(grid_module, tmp_path):
    """A new checkout has no outputs/: rebuilding the results from an empty work folder keeps every committed run
    (the shipped runs.csv, read back as the numbers written), and those runs count as done; a test reading asked
    for but not committed does not."""
    import shutil

    out = tmp_path / "results"
    shutil.copytree(Path(__file__).resolve().parents[1] / "results" / "ablation_cpu", out)
    before = (out / "runs.csv").read_text()
    shipped = grid_module.committed(out / "runs.csv")
    k1 = next(r for r in shipped if (r["setting"], r["seed"]) == ("K1_T3_Nall", 0))
    assert (k1["valid_mean"], k1["valid_min"], k1["N"], k1["collapse"]) == (80.25, 53.0, 420, False)
    (tmp_path / "work").mkdir()
    grid_module.write_results(tmp_path / "work", out, 420)
    assert (out / "runs.csv").read_text() == before
    summary = {r["setting"]: r for r in grid_module.committed(out / "summary.csv")}
    assert summary["K1_T3_Nall"]["mean"] == pytest.approx(statistics.fmean(
        r["valid_mean"] for r in shipped if r["setting"] == "K1_T3_Nall"))
    assert grid_module.kept_as_committed(out, "K1_T3_Nall", 1, tested=False)
    assert not grid_module.kept_as_committed(out, "K1_T3_Nall", 1, tested=True)  # no test reading committed
    assert not grid_module.kept_as_committed(out, "K2_T3_Nall", 0, tested=False)  # a setting never run
