"""Which structure draw can the embedded model learn on the CPU? A pilot before more seeds of the structure evidence.

Seed 0 of ``structure_evidence.py`` trained PAFT with all three draws (option order, symbols AB/12/ab, 0–2 shots) on
the ``cpu`` recipe and read 44–52 % on every form of every unseen set: a training loss that never left chance on the
answer token, so the model learned neither the task nor its old letter-position habit. This trains PAFT with one draw
at a time (same rows, seed and recipe; ``--draws``), side by side, and reads each adapter — and, for reference, the
seed's plain PAFT adapter from the structure run — on the first 5 ``test`` prompts as shipped and as option-order,
symbol and 2-shot variants (the structure run's variant files), 100 questions each, bf16. Writes
``results/structure/<task>/pilot.md``; resumable (``outputs/structure_pilot/<task>/``).

    python scripts/structure_pilot.py --task sst2 --seed 0
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from structure_evidence import kind_of, variant_files  # noqa: E402
from validation_runs import ROOT, train_and_read, train_side_by_side, validation_runner  # noqa: E402

from paft_ext.configs.recipes import structure_keys  # noqa: E402
from paft_ext.data_files import write_lines  # noqa: E402
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.reproduce import stage_record  # noqa: E402
from paft_ext.tasks import get_task  # noqa: E402

DRAWS = {"order": "paft_option_order", "symbols": "paft_option_symbols", "shots": "paft_max_shots"}
PILOT_KINDS = ("shipped", "option_order", "symbols", "kshot")


def draw_overrides(task: str, name: str) -> dict:
    """The one key of draw ``name`` with its value in the generated ``structure`` YAML (:func:`structure_keys`, which
    the structure run trains with all at once), so the pilot's draws are exactly the ones that run combines."""
    key = DRAWS[name]
    return {key: structure_keys(get_task(task))[key]}


def pilot_reading(folder: Path, task: str) -> dict | None:
    """Per variant kind of ``test`` in one finished PAFT reading: mean and balanced accuracy; and the training loss."""
    trained, done = (stage_record(folder, f"{stage}_{task}_paft") for stage in ("train", "eval"))
    if trained is None or done is None:
        return None
    found = {"train_loss": trained["train_loss"]}
    for row in summarise(collect(Path(done["opencompass_run"]))):
        unseen, kind = kind_of(row["prompt_set"])
        if row["task"] != "AVERAGE" and unseen == "test":
            found[kind] = (row["mean"], row.get("balanced_accuracy"))
    return found


def write_pilot(rows: dict[str, dict], out: Path, command: list[str]) -> None:
    lines = ["# Structure draws one at a time: can the embedded model learn them here? (pilot, one seed)", "",
             f"Command: `{' '.join(command)}`. PAFT on the `cpu` recipe with one structure draw each (same rows and "
             "seed), read on the first 5 `test` prompts as shipped and as variants, 100 questions each; accuracy "
             "(balanced accuracy) in %. `none`: plain PAFT, `all`: the three draws together (both from "
             "`structure_evidence.py`).", "",
             "| draws | train loss | " + " | ".join(PILOT_KINDS) + " |", "|---" * (2 + len(PILOT_KINDS)) + "|"]
    for name, found in rows.items():
        cells = [f"{found[k][0]:.2f} ({found[k][1]:.2f})" if k in found else "–" for k in PILOT_KINDS]
        lines.append(f"| {name} | {found['train_loss']:.4f} | " + " | ".join(cells) + " |")
    write_lines(out / "pilot.md", lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", nargs="+", choices=list(DRAWS), default=list(DRAWS))
    parser.add_argument("--side-by-side", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/structure_pilot.py", *(argv if argv is not None else sys.argv[1:])]
    variants = ROOT / "outputs" / "structure" / args.task / "variants"
    files = [str(f) for f in variant_files(args.task, ("test",), 5, variants) if kind_of(str(f))[1] in PILOT_KINDS]
    work, out = ROOT / "outputs" / "structure_pilot" / args.task, ROOT / "results" / "structure" / args.task
    runners = {name: validation_runner("structure_pilot", name, draw_overrides(args.task, name), args.seed, work,
                                       command, prompt_sets=files) for name in args.draws}
    train_side_by_side([(runner, "paft") for runner in runners.values()], args.side_by_side)
    rows: dict[str, dict] = {}
    for name in ("none", *args.draws, "all"):
        if name in runners:
            train_and_read(runners[name], "paft")
            found = pilot_reading(runners[name].work, args.task)
        else:  # the structure run's own adapters, read there on these files among others
            arm = "plain" if name == "none" else "structure"
            found = pilot_reading(ROOT / "outputs" / "structure" / args.task / f"{arm}_s{args.seed}", args.task)
        if found is not None:
            rows[name] = found
        write_pilot(rows, out, command)
    print((out / "pilot.md").read_text())


if __name__ == "__main__":
    main()
