"""Which structure draw can the embedded model learn on the CPU? A pilot before more seeds of the structure evidence.

Seed 0 of ``structure_evidence.py`` trained PAFT with all three draws (option order, symbols AB/12/ab, 0–2 shots) on
the ``cpu`` recipe and read 44–52 % on every form of every unseen set: a training loss that never left chance on the
answer token, so the model learned neither the task nor its old letter-position habit. This trains PAFT with one draw
at a time (same rows, seed and recipe; ``--draws``), side by side, and reads each adapter — and, for reference, the
seed's plain PAFT adapter from the structure run — on the first 5 ``test`` prompts as shipped and as option-order,
symbol and 2-shot variants (the structure run's variant files), 100 questions each, bf16. Writes
``results/structure/<task>/pilot.md``; resumable (``outputs/structure_pilot/<task>/``).

One draw at a time learned nothing either in 300 steps, so the second pilot asks whether the draws (``all``: the three
together) learn with longer training (``--epochs``, 3 in the recipe) or with a share of windows that keep the
dataset's own fixed prompt and structure (``--canonical-ratio``, ``paft_canonical_ratio``) or their pool prompt with
the shipped structure (``--structure-ratio``, ``paft_structure_ratio``); a setting's name carries each
(``all_e9_c0.5``, ``all_r0.5``), and the table gives the mean training loss of the last 50 steps beside the run's mean.

    python scripts/structure_pilot.py --task sst2 --seed 0
    python scripts/structure_pilot.py --task sst2 --seed 0 --draws all --epochs 9 --canonical-ratio 0 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from structure_evidence import kind_of, recipe_suffix, variant_files  # noqa: E402
from validation_runs import ROOT, train_and_read, train_side_by_side, validation_runner  # noqa: E402

from paft_ext.configs.recipes import RECIPES, structure_keys  # noqa: E402
from paft_ext.data_files import write_lines  # noqa: E402
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.reproduce import stage_record  # noqa: E402
from paft_ext.tasks import get_task  # noqa: E402

DRAWS = {"order": "paft_option_order", "symbols": "paft_option_symbols", "shots": "paft_max_shots"}
PILOT_KINDS = ("shipped", "option_order", "symbols", "kshot")
TAIL_STEPS = 50
RECIPE_EPOCHS = RECIPES["cpu"].epochs


def draw_overrides(task: str, name: str) -> dict:
    """The key of draw ``name`` (``all``: every draw) with its value in the generated ``structure`` YAML
    (:func:`structure_keys`, which the structure run trains with all at once), so the pilot's draws are exactly the
    ones that run combines."""
    keys = structure_keys(get_task(task))
    return dict(keys) if name == "all" else {DRAWS[name]: keys[DRAWS[name]]}


def setting_name(draw: str, epochs: int, canonical_ratio: float, structure_ratio: float = 1.0) -> str:
    """``draw`` with what differs from the recipe (:func:`recipe_suffix`, as the evidence run names its folders)."""
    return draw + recipe_suffix({"num_train_epochs": float(epochs), "paft_canonical_ratio": canonical_ratio,
                                 "paft_structure_ratio": structure_ratio})


def setting_overrides(task: str, draw: str, epochs: int, canonical_ratio: float, structure_ratio: float = 1.0
                      ) -> dict:
    extra = {"num_train_epochs": float(epochs)} if epochs != RECIPE_EPOCHS else {}
    return {**draw_overrides(task, draw), **extra,
            **({"paft_canonical_ratio": canonical_ratio} if canonical_ratio else {}),
            **({"paft_structure_ratio": structure_ratio} if structure_ratio != 1.0 else {})}


def tail_loss(train_dir: Path, steps: int = TAIL_STEPS) -> float | None:
    """Mean logged training loss over the last ``steps`` optimizer steps (``trainer_log.jsonl``): the run's mean
    hides a late drop."""
    log = train_dir / "trainer_log.jsonl"
    if not log.is_file():
        return None
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    logged = [(e["current_steps"], e["loss"]) for e in entries if "loss" in e]
    last = logged[-1][0] if logged else 0
    tail = [loss for step, loss in logged if step > last - steps]
    return sum(tail) / len(tail) if tail else None


def pilot_reading(folder: Path, task: str) -> dict | None:
    """Per variant kind of ``test`` in one finished PAFT reading: mean and balanced accuracy; and the training loss."""
    trained, done = (stage_record(folder, f"{stage}_{task}_paft") for stage in ("train", "eval"))
    if trained is None or done is None:
        return None
    found = {"train_loss": trained["train_loss"], "tail_loss": tail_loss(folder / "train" / task / "paft")}
    for row in summarise(collect(Path(done["opencompass_run"]))):
        unseen, kind = kind_of(row["prompt_set"])
        if row["task"] != "AVERAGE" and unseen == "test":
            found[kind] = (row["mean"], row.get("balanced_accuracy"))
    return found


def write_pilot(rows: dict[str, dict], out: Path, commands: list[str]) -> None:
    """``pilot.md``: one row per setting; ``commands``: the commands that trained the pilot's own settings."""
    lines = ["# Structure draws: can the embedded model learn them here? (pilot, one seed)", "",
             "Commands: " + "; ".join(f"`{c}`" for c in commands) + ". PAFT on the `cpu` recipe with the draws "
             "named (same rows and seed), read on the first 5 `test` prompts as shipped and as variants, 100 "
             "questions each; accuracy (balanced accuracy) in %. `none`: plain PAFT, `all`: the three draws "
             "together (both from `structure_evidence.py`); `_e9`: 9 epochs (900 steps) instead of 3; `_c0.5`: "
             "half the windows keep the fixed prompt and shipped structure; `_r0.5`: half the windows draw a "
             "structure, the others keep the shipped one with their pool prompt. Loss: the run's mean, and the mean of "
             f"its last {TAIL_STEPS} steps.", "",
             "| draws | train loss | last-50 loss | " + " | ".join(PILOT_KINDS) + " |",
             "|---" * (3 + len(PILOT_KINDS)) + "|"]
    for name, found in rows.items():
        cells = [f"{found[k][0]:.2f} ({found[k][1]:.2f})" if k in found else "–" for k in PILOT_KINDS]
        tail = "–" if found.get("tail_loss") is None else f"{found['tail_loss']:.4f}"
        lines.append(f"| {name} | {found['train_loss']:.4f} | {tail} | " + " | ".join(cells) + " |")
    write_lines(out / "pilot.md", lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", nargs="+", choices=[*DRAWS, "all"], default=list(DRAWS))
    parser.add_argument("--epochs", type=int, default=RECIPE_EPOCHS)
    parser.add_argument("--canonical-ratio", type=float, nargs="+", default=[0.0])
    parser.add_argument("--structure-ratio", type=float, nargs="+", default=[1.0],
                        help="paft_structure_ratio: the share of windows that draw a structure")
    parser.add_argument("--side-by-side", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/structure_pilot.py", *(argv if argv is not None else sys.argv[1:])]
    variants = ROOT / "outputs" / "structure" / args.task / "variants"
    files = [str(f) for f in variant_files(args.task, ("test",), 5, variants) if kind_of(str(f))[1] in PILOT_KINDS]
    work, out = ROOT / "outputs" / "structure_pilot" / args.task, ROOT / "results" / "structure" / args.task
    settings = {setting_name(d, args.epochs, c, r): setting_overrides(args.task, d, args.epochs, c, r)
                for d in args.draws for c in args.canonical_ratio for r in args.structure_ratio}
    settings.pop("all", None)  # the structure run's own adapter (below)
    runners = {name: validation_runner("structure_pilot", name, overrides, args.seed, work, command,
                                       prompt_sets=files) for name, overrides in settings.items()}
    train_side_by_side([(runner, "paft") for runner in runners.values()], args.side_by_side)
    earlier = sorted(p.name.removesuffix(f"_s{args.seed}") for p in work.glob(f"*_s{args.seed}") if p.is_dir())
    rows: dict[str, dict] = {}
    commands = []
    for name in dict.fromkeys(("none", *earlier, *runners, "all")):
        if name in runners:
            train_and_read(runners[name], "paft")
        folder = work / f"{name}_s{args.seed}"
        if folder.is_dir():
            commands.append(" ".join(json.loads((folder / "run.json").read_text())["command"]))
        else:  # none / all: the structure run's own adapters, read there on these files among others
            arm = "plain" if name == "none" else "structure"
            folder = ROOT / "outputs" / "structure" / args.task / f"{arm}_s{args.seed}"
        found = pilot_reading(folder, args.task)
        if found is not None:
            rows[name] = found
        write_pilot(rows, out, list(dict.fromkeys(commands)))
    print((out / "pilot.md").read_text())


if __name__ == "__main__":
    main()
