"""The test reading of the prompt-sampling ablation: every adapter of it on unseen test prompts and on a perturbed copy.

    python scripts/sampling_ablation_test_reading.py     # after run_sampling_ablation.py; ~11.5 min per adapter

Settings were compared on validation prompts (``run_sampling_ablation.py``); this reads the finished adapters once on
what decides nothing there: the first 25 ``test`` prompts of the SST-2 pool (Table 1's unseen set) and a perturbed
copy of them (``pools perturb --mixed`` with every kind: prompt i gets typo, word_drop, casing, whitespace,
label_style or option_order in turn, seed 0), the run's 100 questions, greedy, bfloat16 weights (2.5× faster than
float32 on this CPU; the same for every adapter, so Table 1's float32 numbers are not mixed in). Adapters: the Table 1
fixed-prompt and uniform-PAFT ones, uniform with seed 42, and every arm × seed that ``run_sampling_ablation.py``
finished. Per adapter and set: mean, spread, worst prompt, consistency across prompts (rate, PSS, all-correct), the
drop from each test prompt to its perturbed copy by kind, and paired bootstrap differences to uniform seed 0 over
resampled questions. Work: ``outputs/table1_cpu_followups/test_<adapter>``; results: ``results/sampling_ablation/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_sampling_ablation import ARMS, arm_name  # noqa: E402
from table1_followups import Followups  # noqa: E402

from paft_ext.data_files import write_csv, write_lines  # noqa: E402
from paft_ext.evaluation.bootstrap import correctness, difference, paired_bootstrap  # noqa: E402
from paft_ext.evaluation.consistency import consistency_rows  # noqa: E402
from paft_ext.evaluation.plots import plot_all, plt  # noqa: E402  (plots selects the Agg backend)
from paft_ext.evaluation.prompt_results import PromptResult
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.presets import PRESETS  # noqa: E402
from paft_ext.experiments.reproduce import stage_record  # noqa: E402
from paft_ext.pools.perturb import KINDS, perturb_pool  # noqa: E402
from paft_ext.pools.store import load_pool, write_pool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "sampling_ablation"
PROMPTS = 25
BASELINE = "uniform-s0"


def perturbed_set(followups: Followups) -> Path:
    """The mixed perturbed copy of the test prompts (written once; a later run must regenerate it byte for byte)."""
    task = followups.task
    source = load_pool(followups.pool_root / task.pool / "test.jsonl", task.fields)
    prompts = perturb_pool(source, task.fields, list(KINDS), 0, options=task.options, letters=task.choices,
                           mixed=True).prompts
    path = OUT / f"{task.pool}_test_mixed.jsonl"
    if path.exists():
        if load_pool(path, task.fields) != prompts:
            raise SystemExit(f"{path} differs from what `pools perturb --mixed` makes now; move it away to rebuild")
    else:
        write_pool(path, prompts)
    return path


def adapters(followups: Followups) -> dict[str, tuple[Path, str]]:
    """Label -> (work folder holding ``train/``, method) for every finished adapter of the ablation."""
    found = {"fixed": (followups.main, "fixed"), BASELINE: (followups.main, "paft"),
             "uniform-s42": (followups.root / "paft_seed42", "paft")}
    for seed in (0, 42):
        for name in ARMS:
            work = followups.root / arm_name(name, seed)
            if stage_record(work, f"train_{followups.task.name}_paft"):
                found[f"{name}-s{seed}"] = (work, "paft")
    return found


def read(followups: Followups, sets: tuple[str, ...], chosen: list[str] | None) -> list[PromptResult]:
    results, task = [], followups.task
    found = adapters(followups)
    unknown = sorted(set(chosen or ()) - set(found))
    if unknown:
        raise SystemExit(f"--adapters: {', '.join(unknown)} not finished or unknown; finished: {', '.join(found)}")
    if chosen and BASELINE not in chosen:
        raise SystemExit(f"--adapters: include {BASELINE}, the baseline every difference is taken against")
    for label in chosen or found:
        work, method = found[label]
        runner = followups._runner(f"test_{label}", sets, adapters_from=work, prompts=PROMPTS,
                                   eval_dtype="bfloat16")
        done = runner._stage(f"eval_{task.name}_{method}", lambda r=runner, m=method: r.evaluate(task, m))
        results += [dataclasses.replace(r, model=label) for r in collect(Path(done["opencompass_run"]))]
    return results


def kind_drops(results: list[PromptResult], perturbed: str) -> list[dict]:
    """Per adapter and kind: mean accuracy of the perturbed prompts and their mean paired change from the clean one."""
    clean = {(r.model, r.prompt_id): r.accuracy for r in results if r.prompt_set == "test"}
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in results:
        if r.prompt_set == perturbed:
            source, kind = r.prompt_id.split("~")
            groups.setdefault((r.model, kind), []).append((r.accuracy, r.accuracy - clean[(r.model, source)]))
    return [{"model": m, "kind": k, "prompts": len(v), "mean": statistics.fmean(a for a, _ in v),
             "change": statistics.fmean(d for _, d in v)} for (m, k), v in sorted(groups.items())]


TEXT_ONLY = "perturbed, text kinds"  # the perturbed prompts without the option_order ones


def write(results: list[PromptResult]) -> None:
    (perturbed,) = {r.prompt_set for r in results} - {"test"}  # the perturbed file, named as the run recorded it
    order = list(dict.fromkeys(r.model for r in results))
    results = [dataclasses.replace(r, prompt_set="perturbed" if r.prompt_set == perturbed else r.prompt_set)
               for r in results]
    results += [dataclasses.replace(r, prompt_set=TEXT_ONLY) for r in results
                if r.prompt_set == "perturbed" and not r.prompt_id.endswith("~option_order")]
    sets = ["test", "perturbed", TEXT_ONLY]
    summary = [r for r in summarise(results) if r["task"] != "AVERAGE"]
    agreement = {(c["model"], c["prompt_set"]): c for c in consistency_rows(results)}
    diffs = {}
    for prompt_set in sets:
        boot = paired_bootstrap(correctness(results, "sst2", prompt_set), seed=0)
        diffs.update({(m, prompt_set): difference(boot, m, BASELINE, "mean") for m in order if m != BASELINE})
    rows = []
    for r in sorted(summary, key=lambda r: (sets.index(r["prompt_set"]), order.index(r["model"]))):
        c, d = agreement[(r["model"], r["prompt_set"])], diffs.get((r["model"], r["prompt_set"]))
        rows.append({"adapter": r["model"], "prompt_set": r["prompt_set"], "prompts": r["prompts"],
                     "questions": r["questions"], "mean": r["mean"], "std_pop": r["std_pop"], "min": r["min"],
                     "worst_prompt": r["worst_prompt"], "no_answer_pct": r["no_answer_pct"],
                     "consistency_rate": c["consistency_rate"], "pss": c["pss"],
                     "all_correct_pct": c["all_correct_pct"],
                     "minus_uniform_s0": d.value if d else "", "low": d.low if d else "", "high": d.high if d else ""})
    write_csv(OUT / "test_reading.csv", rows)
    lines = ["| adapter | set | prompts | mean | std | worst | consistency % | PSS | all correct % | "
             "− uniform-s0 [95 %] |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['adapter']} | {r['prompt_set']} | {r['prompts']} | {r['mean']:.2f} | {r['std_pop']:.2f} | "
              f"{r['min']:.0f} | {r['consistency_rate']:.1f} | {r['pss']:.3f} | {r['all_correct_pct']:.0f} | "
              + (f"{r['minus_uniform_s0']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}] |" if r["low"] != "" else "– |")
              for r in rows]
    drops = kind_drops(results, "perturbed")
    kinds = list(dict.fromkeys(d["kind"] for d in drops))
    lines += ["", "Perturbed minus clean accuracy, mean over the prompts of each kind (paired prompt by prompt):", "",
              "| adapter | " + " | ".join(f"{k} ({next(d['prompts'] for d in drops if d['kind'] == k)})"
                                         for k in kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for model in order:
        mine = {d["kind"]: d["change"] for d in drops if d["model"] == model}
        lines.append(f"| {model} | " + " | ".join(f"{mine[k]:+.1f}" for k in kinds) + " |")
    write_lines(OUT / "test_reading.md", lines)
    plot_all([r for r in results if r.prompt_set != TEXT_ONLY], OUT / "plots")
    plot_kind_changes(drops, order, kinds, OUT / "plots" / "sst2_perturbation_change.png")
    print("\n".join(lines))


def plot_kind_changes(drops: list[dict], models: list[str], kinds: list[str], path: Path) -> None:
    """Grouped bars: per kind, each adapter's mean perturbed − clean accuracy."""
    change = {(d["model"], d["kind"]): d["change"] for d in drops}
    fig, ax = plt.subplots(figsize=(2 + 1.3 * len(kinds), 4))
    width = 0.8 / len(models)
    for j, model in enumerate(models):
        ax.bar([i + j * width for i in range(len(kinds))], [change[(model, k)] for k in kinds], width, label=model)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(kinds))], kinds)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_ylabel("perturbed − clean accuracy (points)")
    ax.set_title("SST-2: change from each test prompt to its perturbed copy, by kind")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapters", nargs="+", help=f"labels to read (default: every finished one; {BASELINE} is "
                                                      "the baseline of the differences)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    followups = Followups(PRESETS["cpu"], ROOT / "outputs" / "table1_cpu",
                          ["python", "scripts/sampling_ablation_test_reading.py"])
    write(read(followups, ("test", str(perturbed_set(followups))), args.adapters))


if __name__ == "__main__":
    main()
