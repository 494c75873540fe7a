"""Structure draws, the evidence (issue 28): fixed-prompt SFT, PAFT, and PAFT with structure draws, seeds as the
unit, read on unseen prompts in their shipped form and in option-order, symbol, k-shot and circular variants.

    python scripts/structure_evidence.py --task sst2 --seeds 0 1 2 --commit \
        --adopt 0:outputs/structure_pilot_valid/sst2/all_e9_c0.5d_s0

Per seed (``seed`` and ``paft_seed``: LoRA init, data order, schedule) and the ``cpu`` recipe on Table 1 ``cpu``'s
rows: fixed and PAFT trained through the hook as in ``select_cpu_recipe.py`` (one work folder, so both see the same
rows in the same order), and PAFT with the generated ``structure`` YAML's keys (``paft_option_order: true``,
``paft_option_symbols: [AB, "12", ab]`` for two options, ``paft_max_shots: 2``, and the ``cpu`` recipe's
``structure_extra``: 9 epochs, half the windows on the fixed prompt and shipped structure, placed early, from the
pilots; its own folder named after that setting, e.g. ``structure_e9_c0.5d_s0``, same rows and seed).
``--adopt 0:<pilot folder>`` takes a pilot's training of exactly that setting instead of training it again (refused
unless it is the same).
Every adapter is read on the first ``--prompts`` prompts of ``test`` and ``test_indep`` as shipped and as
``paft-ext pools perturb`` variants built once (seeded): ``option_order``, ``symbols``, ``kshot`` (2 solved training
records) and ``--circular`` (every rotation, for CircularEval), 100 questions each. Trainings run two at a time, one
thread each (``--side-by-side``; bit-identical adapters), then the readings. Resumable stage by stage
(``outputs/structure/<task>/``); ``--commit`` commits ``results/structure/<task>/`` (readings.csv, structure.md,
accuracy_per_kind.png) after every reading. A reading committed to readings.csv (its ``folder`` column names the
work folder it was read from) is kept as it is when that folder is gone — a new checkout has no ``outputs/`` — so a
rerun neither trains nor reads it again; a work folder that holds the reading wins over the committed row.

The issue's goal, checked in structure.md: with structure draws, every variant kind within 3 points of the shipped
form, CircularEval accuracy ≥ 80 %, and on the shipped form no more than 1 point below PAFT without them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validation_runs import (  # noqa: E402
    ROOT,
    adopt_training,
    train_and_read,
    train_side_by_side,
    validation_runner,
)

from paft_ext.configs.recipes import RECIPES, structure_training_keys  # noqa: E402
from paft_ext.data_files import read_csv, typed_cell, write_csv, write_lines  # noqa: E402
from paft_ext.evaluation.circular import circular_rows  # noqa: E402
from paft_ext.evaluation.prompt_sets import dataset_abbr, parse_prompt_set  # noqa: E402
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.reproduce import commit_folder, stage_record  # noqa: E402
from paft_ext.pools.store import load_pool, write_pool  # noqa: E402
from paft_ext.tasks import get_task  # noqa: E402
from paft_ext.tasks.answers import extract_choice_strict, original_letter  # noqa: E402

KINDS = ("shipped", "option_order", "symbols", "kshot", "circular")
ARMS = (("plain", "fixed"), ("plain", "paft"), ("structure", "paft"))  # (work folder, method)
TITLES = {("plain", "fixed"): "fixed prompt", ("plain", "paft"): "PAFT", ("structure", "paft"): "PAFT + structure"}
BIN = Path(sys.executable).parent
COLUMNS = ("seed", "arm", "folder", "unseen_set", "kind", "mean", "prompts", "questions", "balanced_accuracy",
           "collapse", "circular_accuracy", "task_letters", "task_letters_right")


def variant_files(task: str, sets: tuple[str, ...], prompts: int, out: Path) -> list[Path]:
    """The first ``prompts`` prompts of each shipped set, and its variants (built once; never over a file)."""
    spec, files = get_task(task), []
    for name in sets:
        shipped = out / f"unseen_{name}.jsonl"  # a stem of its own: "test" would clash with the shipped set's tag
        if not shipped.is_file():
            source = load_pool(ROOT / "data" / "prompts" / spec.pool / f"{name}.jsonl", spec.fields)[:prompts]
            write_pool(shipped, source)
        files.append(shipped)
        for kind in KINDS[1:]:
            target = out / f"unseen_{name}.{kind}.jsonl"
            if not target.is_file():
                extra = ["--circular"] if kind == "circular" else ["--kinds", kind, "--shots", "2"]
                subprocess.run([str(BIN / "paft-ext"), "pools", "perturb", "--task", task, "--from", str(shipped),
                                "--out", str(target), "--seed", "0", *extra], check=True, capture_output=True)
            files.append(target)
    return files


def recipe_suffix(overrides: dict) -> str:
    """What a setting changes beside its draws, for its folder name: ``_e<epochs>`` (other than the recipe's),
    ``_c<paft_canonical_ratio>`` (``d`` after it with ``paft_canonical_decay``), ``_r<paft_structure_ratio>`` (other
    than 1), ``_p<paft_option_prose>`` (options written as a sentence; ``a`` after it with
    ``paft_option_prose_alone``). A work folder holds one setting
    (``Runner.check_or_record``), so a changed recipe trains in a folder of its own."""
    epochs = overrides.get("num_train_epochs", RECIPES["cpu"].epochs)
    canonical, ratio = overrides.get("paft_canonical_ratio", 0), overrides.get("paft_structure_ratio", 1.0)
    decay = "d" if overrides.get("paft_canonical_decay") else ""
    prose = overrides.get("paft_option_prose", 0)
    alone = "a" if overrides.get("paft_option_prose_alone") else ""
    return ((f"_e{epochs:g}" if epochs != RECIPES["cpu"].epochs else "")
            + (f"_c{canonical:g}{decay}" if canonical else "") + (f"_r{ratio:g}" if ratio != 1.0 else "")
            + (f"_p{prose:g}{alone}" if prose else ""))


def parse_adopt(values: list[str]) -> dict[int, Path]:
    """``--adopt SEED:FOLDER`` values: per seed, a finished training of the structure arm's exact setting."""
    found = {}
    for value in values:
        seed, sep, folder = value.partition(":")
        if not (sep and seed.isdigit() and Path(folder).is_dir()):
            raise SystemExit(f"--adopt {value!r}: expected SEED:FOLDER with an existing work folder")
        found[int(seed)] = Path(folder)
    return found


def kind_of(prompt_set: str) -> tuple[str, str]:
    """(unseen set, variant kind) of a reading's prompt-set path ``unseen_<set>[.<kind>].jsonl``."""
    stem = Path(prompt_set).name.removesuffix(".jsonl").removeprefix("unseen_")
    name, _, kind = stem.partition(".")
    return name, kind or "shipped"


def letter_slips(run: Path, method: str, task_name: str, prompt_set: str) -> tuple[float, float]:
    """For a symbol variant file: the % of answers given in the task's own letters instead of the symbols shown (``A``
    where the prompt labels the options a/b or 1/2), and the % of answers that are such a letter naming the right
    option. Strict scoring counts these as no answer; they tell a model that knows the answer but not the format
    from one that does not know it."""
    task, prompt_sets = get_task(task_name), parse_prompt_set(prompt_set)
    slips = right = total = 0
    for index, prompt in enumerate(load_pool(Path(prompt_set), task.fields)):
        path = run / "predictions" / method / f"{dataset_abbr(task.opencompass_abbr, prompt_sets, index)}.json"
        for item in json.loads(path.read_text()).values():
            total += 1
            letter = "" if extract_choice_strict(item["prediction"], prompt.symbols) else extract_choice_strict(
                item["prediction"], task.choices)
            slips += bool(letter)
            right += bool(letter) and original_letter(letter, task.choices, prompt.option_order) == item["gold"]
    return 100 * slips / total, 100 * right / total


def committed_readings(path: Path) -> list[dict]:
    """The rows of a committed readings.csv, typed as :func:`readings` makes them (empty cells: None); none if the
    file is absent. A file without the ``folder`` column cannot say which training a row belongs to: refused."""
    if not path.is_file():
        return []
    rows = []
    for where, raw in read_csv(path, SystemExit):
        if set(raw) != set(COLUMNS):
            raise SystemExit(f"{where}: columns {sorted(raw)}, expected {list(COLUMNS)}")
        row = {key: typed_cell(value) for key, value in raw.items()}
        if not isinstance(row["collapse"], bool):
            raise SystemExit(f"{where}: collapse {raw['collapse']!r}: expected True or False")
        rows.append(row)
    return rows


def foreign_readings(rows: list[dict], folders: dict[str, str]) -> list[str]:
    """Committed rows whose work folder is not the one this run reads their arm and seed from (``folders``: work
    folder per arm, seed suffix left off), each as ``line N: seed, arm, folder``. Rewriting readings.csv keeps only
    the rows of this run's folders, so these would be lost without a word."""
    expected = {title: folders[arm] for (arm, _), title in TITLES.items()}
    return [f"line {line}: seed {r['seed']}, {r['arm']}, {r['folder']}" for line, r in enumerate(rows, start=2)
            if r["arm"] not in expected or r["folder"] != f"{expected[r['arm']]}_s{r['seed']}"]


def readings(folder: Path, method: str, task: str, seed: int, arm: str) -> list[dict]:
    """Per variant file of one finished evaluation: mean accuracy (and CircularEval for the circular file)."""
    done = stage_record(folder, f"eval_{task}_{method}")
    if done is None:
        return []
    results = collect(Path(done["opencompass_run"]))
    circular = {r["prompt_set"]: r for r in circular_rows(results)}
    rows = []
    for row in summarise(results):
        if row["task"] == "AVERAGE":
            continue
        unseen, kind = kind_of(row["prompt_set"])
        found = {"seed": seed, "arm": TITLES[(arm, method)], "folder": folder.name, "unseen_set": unseen, "kind": kind,
                 "mean": row["mean"], "prompts": row["prompts"], "questions": row["questions"],
                 "balanced_accuracy": row.get("balanced_accuracy"), "collapse": row.get("collapse")}
        if kind == "circular":
            found["circular_accuracy"] = circular.get(row["prompt_set"], {}).get("circular_accuracy")
        if kind == "symbols":
            found["task_letters"], found["task_letters_right"] = letter_slips(
                Path(done["opencompass_run"]), method, task, row["prompt_set"])
        rows.append(found)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per arm, unseen set and kind: mean ± sd over seeds; the drop against the same arm's shipped form, per seed."""
    out = []
    keys = sorted({(r["arm"], r["unseen_set"], r["kind"]) for r in rows}, key=lambda k: (k[0], k[1], KINDS.index(k[2])))
    for arm, unseen, kind in keys:
        mine = {r["seed"]: r for r in rows if (r["arm"], r["unseen_set"], r["kind"]) == (arm, unseen, kind)}
        shipped = {r["seed"]: r["mean"] for r in rows if (r["arm"], r["unseen_set"], r["kind"]) ==
                   (arm, unseen, "shipped")}
        means = [r["mean"] for r in mine.values()]
        drops = [mine[s]["mean"] - shipped[s] for s in mine if s in shipped]
        circ = [r["circular_accuracy"] for r in mine.values() if r.get("circular_accuracy") is not None]
        slips = [(r["task_letters"], r["task_letters_right"]) for r in mine.values()
                 if r.get("task_letters") is not None]
        out.append({"arm": arm, "unseen_set": unseen, "kind": kind, "seeds": len(means),
                    "mean": statistics.fmean(means), "sd": statistics.stdev(means) if len(means) > 1 else None,
                    "vs_shipped": statistics.fmean(drops) if drops else None,
                    "circular_accuracy": statistics.fmean(circ) if circ else None,
                    "task_letters": statistics.fmean(a for a, _ in slips) if slips else None,
                    "task_letters_right": statistics.fmean(b for _, b in slips) if slips else None})
    return out


def goal_lines(table: list[dict]) -> list[str]:
    """The issue's three goals for PAFT + structure, per unseen set, on seed means."""
    lines = []
    for unseen in sorted({r["unseen_set"] for r in table}):
        mine = {r["kind"]: r for r in table if r["arm"] == "PAFT + structure" and r["unseen_set"] == unseen}
        plain = next((r for r in table if (r["arm"], r["unseen_set"], r["kind"]) == ("PAFT", unseen, "shipped")), None)
        if "shipped" not in mine:
            continue
        worst = max((abs(r["vs_shipped"]) for k, r in mine.items() if k != "shipped" and r["vs_shipped"] is not None),
                    default=None)
        circ = mine.get("circular", {}).get("circular_accuracy")
        gap = mine["shipped"]["mean"] - plain["mean"] if plain else None
        lines += [f"- `{unseen}`: largest |variant − shipped| {_num(worst)} (goal ≤ 3): "
                  f"{_holds(worst is not None and worst <= 3)}; CircularEval {_num(circ)} (goal ≥ 80): "
                  f"{_holds(circ is not None and circ >= 80)}; shipped form vs PAFT without structure {_num(gap, '+')} "
                  f"(goal ≥ −1): {_holds(gap is not None and gap >= -1)}"]
    return lines


def _num(value: float | None, sign: str = "") -> str:
    return "–" if value is None else f"{value:{sign}.2f}"


def _mean_sd(row: dict) -> str:
    return f"{row['mean']:.2f}" + ("" if row["sd"] is None else f" ± {row['sd']:.2f}")


def _holds(ok: bool) -> str:
    return "**holds**" if ok else "does not hold"


def write_results(rows: list[dict], out: Path, command: list[str], structure: dict | None = None) -> None:
    """readings.csv, structure.md (``structure``: the keys PAFT + structure trains with besides the recipe's) and
    the plot."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "readings.csv", rows, COLUMNS)
    table = summary(rows)
    lines = ["# Structure draws: accuracy per variant kind (seeds as the unit)", "",
             f"Command: `{' '.join(command)}`. Seeds read: {sorted({r['seed'] for r in rows})}. Mean ± sd over seeds; "
             "`vs shipped`: the variant's mean minus the same arm's shipped-form mean, per seed, averaged. "
             "`A/B for symbols` (symbol variants): % of answers in the task's letters instead of the symbols shown "
             "(scored as no answer), and in brackets % that name the right option that way."
             + ("" if structure is None else " PAFT + structure trains with "
                + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in structure.items())
                + "; fixed and PAFT with the `cpu` recipe as it is."), "",
             "| arm | unseen set | kind | seeds | mean ± sd | vs shipped | CircularEval | A/B for symbols |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['arm']} | {r['unseen_set']} | {r['kind']} | {r['seeds']} | {_mean_sd(r)} | "
              f"{_num(r['vs_shipped'], '+')} | {_num(r['circular_accuracy'])} | "
              + ("–" if r.get("task_letters") is None else f"{r['task_letters']:.2f} ({r['task_letters_right']:.2f})")
              + " |" for r in table]
    lines += ["", "Goals for PAFT + structure (issue 28):", "", *goal_lines(table)]
    write_lines(out / "structure.md", lines)
    plot(table, out / "accuracy_per_kind.png")


def plot(table: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(dict.fromkeys(r["arm"] for r in table))
    sets = sorted({r["unseen_set"] for r in table})
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4), squeeze=False)
    for ax, unseen in zip(axes[0], sets, strict=True):
        for i, arm in enumerate(arms):
            mine = {r["kind"]: r for r in table if (r["arm"], r["unseen_set"]) == (arm, unseen)}
            xs = [k + i * 0.27 for k in range(len(KINDS))]
            ax.bar(xs, [mine[k]["mean"] if k in mine else 0 for k in KINDS], width=0.27, label=arm,
                   yerr=[mine[k]["sd"] or 0 if k in mine else 0 for k in KINDS])
        ax.set_xticks([k + 0.27 for k in range(len(KINDS))], KINDS, rotation=20)
        ax.set_ylim(0, 100)
        ax.set_title(f"{unseen}: accuracy per variant kind")
    axes[0][0].set_ylabel("accuracy % (mean over seeds)")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--prompts", type=int, default=5, help="first N prompts of test and of test_indep")
    parser.add_argument("--commit", action="store_true")
    parser.add_argument("--side-by-side", type=int, default=2,
                        help="trainings run at once, one thread each (1: one after the other with every thread)")
    parser.add_argument("--adopt", nargs="*", default=[], metavar="SEED:FOLDER",
                        help="take the structure arm's training of SEED from FOLDER (a pilot's work folder of the "
                             "same setting) instead of training it again; refused unless it is the same training")
    args = parser.parse_args(argv)
    adopt = parse_adopt(args.adopt)
    if set(adopt) - set(args.seeds):
        raise SystemExit(f"--adopt names seeds {sorted(set(adopt) - set(args.seeds))} that --seeds does not run")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/structure_evidence.py", *(argv if argv is not None else sys.argv[1:])]
    work, out = ROOT / "outputs" / "structure" / args.task, ROOT / "results" / "structure" / args.task
    structure = structure_training_keys(get_task(args.task), RECIPES["cpu"])
    folders = {"plain": "plain", "structure": "structure" + recipe_suffix(structure)}
    committed = committed_readings(out / "readings.csv")
    if stray := foreign_readings(committed, folders):
        raise SystemExit(f"{out / 'readings.csv'}: rows this run would drop when it rewrites the file, read from work "
                         f"folders it does not train ({'; '.join(stray)}): move them to another file under {out} "
                         "(e.g. readings_<setting>.csv) or run the setting that wrote them")
    files = [str(f) for f in variant_files(args.task, ("test", "test_indep"), args.prompts, work / "variants")]

    def kept(seed: int, arm: str, method: str) -> list[dict]:
        return [r for r in committed
                if (r["seed"], r["folder"], r["arm"]) == (seed, f"{folders[arm]}_s{seed}", TITLES[(arm, method)])]

    def current(seed: int, arm: str, method: str) -> list[dict]:
        return readings(work / f"{folders[arm]}_s{seed}", method, args.task, seed, arm) or kept(seed, arm, method)

    seeds = sorted(set(args.seeds) | {r["seed"] for r in committed})  # a rerun of one seed keeps the others
    for seed in args.seeds:
        runners = {arm: validation_runner("structure", arm, overrides, seed, work, command, prompt_sets=files,
                                          folder=f"{folders[arm]}_s{seed}", task=args.task)
                   for arm, overrides in (("plain", {}), ("structure", structure))}
        todo = [(arm, method) for arm, method in ARMS  # a finished stage is enough: its reading is not parsed here
                if stage_record(work / f"{folders[arm]}_s{seed}", f"eval_{args.task}_{method}") is None
                and not kept(seed, arm, method)]
        for arm, method in set(ARMS) - set(todo):
            print(f"[structure] seed {seed}, {TITLES[(arm, method)]}: kept as committed in {out / 'readings.csv'}")
        if seed in adopt and ("structure", "paft") in todo:
            adopt_training(runners["structure"], "paft", adopt[seed])
        train_side_by_side([(runners[arm], method) for arm, method in todo], args.side_by_side)
        for arm, method in todo:
            train_and_read(runners[arm], method)
            rows = [r for s in seeds for a, m in ARMS for r in current(s, a, m)]
            write_results(rows, out, command, structure)
            if args.commit:
                commit_folder(out, f"Structure evidence ({args.task}): seed {seed}, {TITLES[(arm, method)]} read")
    print((out / "structure.md").read_text())


if __name__ == "__main__":
    main()
