"""The paper's ablations on the CPU (Table 3: window K × epochs T; Figure 5: number of training prompts), seeds as the
unit, read on the validation prompts only; the settings kept are read on the unseen test prompts too.

    python scripts/ablation_grid.py --k 1 4 8 --pool-sizes 1 10 50 420 --seeds 0 1 [--commit]
    python scripts/ablation_grid.py ... --test K4_T3_Nall K4_T3_N10      # the kept settings, on test prompts

Every setting trains PAFT on Table 1 ``cpu``'s 400 SST-2 rows (``paft_window_steps`` K, ``num_train_epochs`` T,
``paft_pool_size`` N: a seeded subset of the train pool, nested across sizes; ``all`` = the whole pool) with the
recipe's other keys (``--set key=value`` changes them for every setting), and reads the adapter on the 20 validation
prompts and the user-specified prompt, 100 questions each (bf16). ``--design axes`` (default) varies one factor at a
time around the reference K=4, T=3, N=all (the paper's defaults); ``--design full`` runs every combination.

Two trainings run side by side, one thread each (``--side-by-side``; bit-identical adapters, ~13 % faster on 2
cores), then their readings one after the other. Resumable stage by stage (one work folder per setting and seed
under ``outputs/ablation_cpu/``); the results (``results/ablation_cpu/``: ``runs.csv``, ``summary.csv``,
``ablation.md``, plots of accuracy and spread against the pool size and against K) are rebuilt from every finished
reading after each stage and, with ``--commit``, committed. A reading committed to ``runs.csv`` (or
``test_runs.csv``) whose work folder is gone — a new checkout has no ``outputs/`` — is kept as committed and not
trained or read again; a work folder that holds the reading wins.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table1_followups import parse_variant  # noqa: E402
from validation_runs import (  # noqa: E402
    ROOT,
    reading,
    setting_folders,
    train_and_read,
    train_side_by_side,
    validation_runner,
)

from paft_ext.data_files import read_csv, typed_cell, write_csv, write_lines  # noqa: E402
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.reproduce import commit_folder, stage_record  # noqa: E402

REFERENCE = (4, 3, None)  # K, T, N (None: the whole pool) — the paper's defaults
TEST_SETS = ("test", "test_indep")


def setting_name(k: int, t: int, n: int | None) -> str:
    return f"K{k}_T{t}_N{'all' if n is None else n}"


def grid(ks: list[int], epochs: list[int], sizes: list[int | None], design: str) -> list[tuple[int, int, int | None]]:
    """The (K, T, N) settings: every combination, or each factor's values with the others at the reference."""
    if design == "full":
        return list(itertools.product(ks, epochs, sizes))
    k0, t0, n0 = REFERENCE
    axes = [(k, t0, n0) for k in ks] + [(k0, t, n0) for t in epochs] + [(k0, t0, n) for n in sizes]
    return list(dict.fromkeys([REFERENCE, *axes]))


def overrides_of(k: int, t: int, n: int | None, extra: dict) -> dict:
    return {**extra, "paft_window_steps": k, "num_train_epochs": float(t), **({} if n is None else
                                                                              {"paft_pool_size": n})}


def read_on_test(runner, prompts: int) -> dict:
    """The PAFT adapter of ``runner`` on the unseen test sets (the first ``prompts`` of each), stage ``test_*``."""
    from paft_ext.evaluation.launch import run_opencompass

    task = runner.tasks[0]
    settings = {**runner.eval_settings(task, "paft"), "prompt_sets": ",".join(TEST_SETS), "prompts": prompts}
    work_dir = runner.work / "eval_test"
    with runner._log_file(f"test_{task.name}_paft") as log:
        run = run_opencompass(settings, runner.work / "data" / "opencompass", work_dir, log=log)
    return {"opencompass_run": str(run)}


def test_rows(folder: Path) -> list[dict]:
    done = stage_record(folder, "test_sst2_paft")
    if done is None:
        return []
    return [{"prompt_set": r["prompt_set"], "mean": r["mean"], "std": r["std_pop"], "min": r["min"],
             "collapse": r["collapse"]} for r in summarise(collect(Path(done["opencompass_run"])))
            if r["task"] != "AVERAGE"]


def summary_rows(runs: list[dict]) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["setting"] for r in runs):
        mine = [r for r in runs if r["setting"] == name]
        means = [r["valid_mean"] for r in mine]
        out.append({"setting": name, "K": mine[0]["K"], "T": mine[0]["T"], "N": mine[0]["N"], "seeds": len(mine),
                    "mean": statistics.fmean(means), "sd_over_seeds": statistics.stdev(means) if len(means) > 1
                    else float("nan"), "std_over_prompts": statistics.fmean(r["valid_std"] for r in mine),
                    "worst": min(r["valid_min"] for r in mine), "collapses": sum(bool(r["collapse"]) for r in mine)})
    return out


def plot(summary: list[dict], out: Path, full_pool: int, runs: Sequence[dict] = ()) -> list[str]:
    """Accuracy (mean ± sd over seeds) and spread over prompts against N, K and epochs T, each with the other two
    factors at the reference (N=all is ``full_pool`` prompts); an axis with fewer than two settings gets no plot.
    Each seed of ``runs`` is drawn beside its mean, a collapsed one as a red cross, so a mean pulled down by one
    collapse reads as that."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k0, t0, _ = REFERENCE
    reference = {"K": k0, "T": t0, "N": full_pool}
    written = []
    for axis, label in (("N", "training prompts N (log)"), ("K", "window K (optimizer steps)"), ("T", "epochs T")):
        others = [a for a in reference if a != axis]
        points = sorted((s for s in summary if all(s[a] == reference[a] for a in others)), key=lambda s: s[axis])
        if len(points) < 2:
            continue
        xs = [s[axis] for s in points]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), sharex=True)
        top.errorbar(xs, [s["mean"] for s in points], yerr=[0 if s["seeds"] < 2 else s["sd_over_seeds"]
                                                           for s in points], marker="o", capsize=3, label="mean ± sd")
        for collapsed, style in ((False, dict(marker=".", color="grey", label="seed")),
                                 (True, dict(marker="x", color="red", label="seed, collapsed"))):
            seeds = [(s[axis], r["valid_mean"]) for s in points for r in runs
                     if r["setting"] == s["setting"] and bool(r["collapse"]) == collapsed]
            if seeds:
                top.scatter(*zip(*seeds, strict=True), zorder=3, **style)
        top.legend(fontsize="small")
        top.set_ylabel("validation accuracy (%)")
        bottom.plot(xs, [s["std_over_prompts"] for s in points], marker="o")
        bottom.set_ylabel("std over prompts")
        bottom.set_xlabel(label)
        if axis == "N":
            bottom.set_xscale("log")
        fig.suptitle(f"PAFT on SST-2 ({' and '.join(others)} at the reference, seeds as error bars)",
                     fontsize="medium")
        fig.tight_layout()
        name = f"accuracy_vs_{axis}.png"
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        written.append(name)
    return written


def committed(path: Path) -> list[dict]:
    """The rows of a committed ``runs.csv`` / ``test_runs.csv`` as the values written (none if absent)."""
    return [{k: typed_cell(v) for k, v in row.items()} for _, row in read_csv(path, SystemExit)] if path.is_file() \
        else []


def write_results(work: Path, out: Path, pool_size: int) -> None:
    runs, tests = [], []
    for name, seed, folder, overrides in setting_folders(work):
        found = reading(folder, "paft")
        if found is None:
            continue
        k, t = overrides["paft_window_steps"], int(overrides["num_train_epochs"])
        n = overrides.get("paft_pool_size", pool_size)
        runs.append({"setting": name, "seed": seed, "K": k, "T": t, "N": n, **found})
        tests += [{"setting": name, "seed": seed, **r} for r in test_rows(folder)]
    runs, tests = (_with_committed(rows, committed(out / name)) for rows, name in ((runs, "runs.csv"),
                                                                                    (tests, "test_runs.csv")))
    if not runs:
        return
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "runs.csv", runs, list(runs[0]))
    summary = summary_rows(runs)
    write_csv(out / "summary.csv", summary, list(summary[0]))
    plots = plot(summary, out, pool_size, runs)
    lines = ["# PAFT ablations on the CPU (validation prompts; seeds as the unit)", "",
             "Generated by `python scripts/ablation_grid.py`: Table 1 `cpu`'s 400 SST-2 rows, PAFT with window K, T "
             "epochs and N training prompts (a seeded, nested subset of the pool); 20 validation prompts, 100 "
             "questions each, bf16 evaluation. Accuracy in %.", "",
             "| setting | K | T | N | seeds | mean over seeds | sd over seeds | std over prompts | worst | collapses |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {s['setting']} | {s['K']} | {s['T']} | {s['N']} | {s['seeds']} | {s['mean']:.2f} | "
              f"{s['sd_over_seeds']:.2f} | {s['std_over_prompts']:.2f} | {s['worst']:.0f} | {s['collapses']} |"
              for s in summary]
    if tests:
        write_csv(out / "test_runs.csv", tests, list(tests[0]))
        lines += ["", "## Kept settings on the unseen test prompts", "",
                  "| setting | seed | prompt set | mean | std over prompts | worst | collapse |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['setting']} | {r['seed']} | {r['prompt_set']} | {r['mean']:.2f} | {r['std']:.2f} | "
                  f"{r['min']:.0f} | {'yes' if r['collapse'] else 'no'} |" for r in tests]
    lines += ["", *(f"![{p}]({p})" for p in plots)]
    write_lines(out / "ablation.md", lines)


def _with_committed(found: list[dict], kept: list[dict]) -> list[dict]:
    """``found`` (read from work folders) and the committed rows of every (setting, seed) it lacks, by setting, seed."""
    have = {(r["setting"], r["seed"]) for r in found}
    return sorted(found + [r for r in kept if (r["setting"], r["seed"]) not in have],
                  key=lambda r: (r["setting"], r["seed"]))


def kept_as_committed(out: Path, name: str, seed: int, tested: bool) -> bool:
    """Whether (setting, seed) has its validation reading — and, when ``tested``, its test reading — committed."""
    return any((r["setting"], r["seed"]) == (name, seed) for r in committed(out / "runs.csv")) and (
        not tested or any((r["setting"], r["seed"]) == (name, seed) for r in committed(out / "test_runs.csv")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--epochs", type=int, nargs="+", default=[3])
    parser.add_argument("--pool-sizes", nargs="+", default=["1", "10", "50", "all"],
                        help="training prompts per setting (a number, or all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--design", choices=("axes", "full"), default="axes")
    parser.add_argument("--set", default="", help="recipe changes for every setting: key=value[,key=value]")
    parser.add_argument("--test", nargs="*", default=[], help="settings to read on the unseen test prompts too")
    parser.add_argument("--test-prompts", type=int, default=25, help="first N prompts of each test set")
    parser.add_argument("--pool-size", type=int, default=420, help="prompts of the whole pool (for N=all)")
    parser.add_argument("--work-dir", default=str(ROOT / "outputs" / "ablation_cpu"))
    parser.add_argument("--results", default=str(ROOT / "results" / "ablation_cpu"))
    parser.add_argument("--commit", action="store_true", help="commit the results folder after every stage")
    parser.add_argument("--side-by-side", type=int, default=2,
                        help="trainings run at once, one thread each (1: one after the other with every thread)")
    args = parser.parse_args(argv)
    extra = parse_variant(f"set:{args.set}")[2] if args.set else {}
    sizes = [None if n == "all" else int(n) for n in args.pool_sizes]
    settings = {setting_name(*s): s for s in grid(args.k, args.epochs, sizes, args.design)}
    unknown = [name for name in args.test if name not in settings]
    if unknown:
        raise SystemExit(f"--test {unknown}: not settings of this grid ({', '.join(settings)})")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/ablation_grid.py", *(argv if argv is not None else sys.argv[1:])]
    work, out = Path(args.work_dir), Path(args.results)
    jobs = []
    for name, seed in ((n, s) for n in settings for s in args.seeds):
        folder_done = stage_record(work / f"{name}_s{seed}", "eval_sst2_paft") is not None  # no reading parsed
        if not folder_done and kept_as_committed(out, name, seed, name in args.test):
            print(f"[ablation] {name}, seed {seed}: kept as committed in {out}")
        else:
            jobs.append((name, seed))
    width = max(1, args.side_by_side)
    for start in range(0, len(jobs), width):  # a group trains at once, then its readings: each group ends read
        chunk = [(validation_runner("ablation", name, overrides_of(*settings[name], extra), seed, work, command),
                  name, seed) for name, seed in jobs[start:start + width]]
        train_side_by_side([(runner, "paft") for runner, _, _ in chunk], width)
        for runner, name, seed in chunk:
            train_and_read(runner, "paft")
            if name in args.test:
                runner._stage("test_sst2_paft", lambda r=runner: read_on_test(r, args.test_prompts))
            write_results(work, out, args.pool_size)
            if args.commit:
                commit_folder(out, f"Ablation: {name}, seed {seed} read")
    write_results(work, out, args.pool_size)
    print((out / "ablation.md").read_text() if (out / "ablation.md").is_file() else "nothing finished yet")


if __name__ == "__main__":
    main()
