"""Which structure draw can the embedded model learn on the CPU? A pilot before more seeds of the structure evidence.

Seed 0 of ``structure_evidence.py`` trained PAFT with all three draws (option order, symbols AB/12/ab, 0–2 shots) on
the ``cpu`` recipe and read 44–52 % on every form of every unseen set: a training loss that never left chance on the
answer token, so the model learned neither the task nor its old letter-position habit. This trains PAFT with one draw
at a time (same rows, seed and recipe; ``--draws``), side by side, and reads each adapter — and, for reference, the
seed's plain PAFT adapter from the structure run — on the first 5 ``test`` prompts as shipped and as option-order,
symbol and 2-shot variants (the structure run's variant files), 100 questions each, bf16. Those pilots read the
first 5 ``test`` prompts, which the evidence run reads too — a slip against choosing on validation prompts; their
table is kept as committed in ``results/structure/<task>/pilot.md``. This script now reads the first 5 ``valid``
prompts and their variants and writes ``pilot_valid.md`` beside it; resumable
(``outputs/structure_pilot_valid/<task>/``); rows of settings whose work folders this checkout lacks stay as
committed.

One draw at a time learned nothing either in 300 steps, so the second pilot asks whether the draws (``all``: the three
together) learn with longer training (``--epochs``, 3 in the recipe) or with a share of windows that keep the
dataset's own fixed prompt and structure (``--canonical-ratio``, ``paft_canonical_ratio``) or their pool prompt with
the shipped structure (``--structure-ratio``, ``paft_structure_ratio``); a setting's name carries each
(``all_e9_c0.5``, ``all_r0.5``), and the table gives the mean training loss of the last 50 steps beside the run's mean.
``all_e9_c0.5`` taught seed 0 the draws and left seed 1 answering by letter position, so ``--canonical-decay on``
(``paft_canonical_decay``, suffix ``d``: ``all_e9_c0.5d``) places the fixed-prompt windows early in training, their
share falling to none at the end, where no window rewards the position shortcut.

    python scripts/structure_pilot.py --task sst2 --seed 0
    python scripts/structure_pilot.py --task sst2 --seed 1 --draws all --epochs 9 --canonical-ratio 0.5 \
        --canonical-decay off on
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from structure_evidence import kind_of, recipe_suffix, variant_files  # noqa: E402
from validation_runs import ROOT, adopt_training, train_and_read, train_side_by_side, validation_runner  # noqa: E402

from paft_ext.configs.recipes import RECIPES, structure_keys  # noqa: E402
from paft_ext.data_files import write_lines  # noqa: E402
from paft_ext.evaluation.report import collect, summarise  # noqa: E402
from paft_ext.experiments.reproduce import stage_record  # noqa: E402
from paft_ext.pools.store import PoolError  # noqa: E402
from paft_ext.tasks import get_task  # noqa: E402

DRAWS = {"order": "paft_option_order", "symbols": "paft_option_symbols", "shots": "paft_max_shots"}
PILOT_KINDS = ("shipped", "option_order", "symbols", "kshot")
TAIL_STEPS = 50
COMMANDS_END = ". PAFT on"  # where the commands of the table's header end
READ = ("valid", "valid_indep")  # the prompts a pilot chooses on: never the test prompts the evidence reads
RECIPE_EPOCHS = RECIPES["cpu"].epochs


def draw_overrides(task: str, name: str) -> dict:
    """The key of draw ``name`` (``all``: every draw; ``none``: plain PAFT, the reference) with its value in the
    generated ``structure`` YAML (:func:`structure_keys`, which the structure run trains with all at once), so the
    pilot's draws are exactly the ones that run combines."""
    keys = structure_keys(get_task(task))
    return dict(keys) if name == "all" else {} if name == "none" else {DRAWS[name]: keys[DRAWS[name]]}


def setting_name(draw: str, epochs: int, canonical_ratio: float, structure_ratio: float = 1.0,
                 decay: bool = False, prose: float = 0.0, prose_alone: bool = False) -> str:
    """``draw`` with what differs from the recipe (:func:`recipe_suffix`, as the evidence run names its folders)."""
    return draw + recipe_suffix(recipe_changes(epochs, canonical_ratio, structure_ratio, decay, prose, prose_alone))


def setting_overrides(task: str, draw: str, epochs: int, canonical_ratio: float, structure_ratio: float = 1.0,
                      decay: bool = False, prose: float = 0.0, prose_alone: bool = False) -> dict:
    """The keys a setting trains with besides the recipe's: its draws and :func:`recipe_changes`."""
    return {**draw_overrides(task, draw),
            **recipe_changes(epochs, canonical_ratio, structure_ratio, decay, prose, prose_alone)}


def recipe_changes(epochs: int, canonical_ratio: float, structure_ratio: float, decay: bool,
                   prose: float = 0.0, prose_alone: bool = False) -> dict:
    """The keys besides the draws where a setting differs from the recipe (none where it does not)."""
    if decay and not canonical_ratio:
        raise SystemExit("--canonical-decay on needs a --canonical-ratio above 0 (the share it places early)")
    if prose_alone and not prose:
        raise SystemExit("--prose-alone on needs a --prose share above 0 (the windows it keeps to the sentence)")
    return {**({"num_train_epochs": float(epochs)} if epochs != RECIPE_EPOCHS else {}),
            **({"paft_canonical_ratio": canonical_ratio} if canonical_ratio else {}),
            **({"paft_canonical_decay": True} if decay else {}),
            **({"paft_structure_ratio": structure_ratio} if structure_ratio != 1.0 else {}),
            **({"paft_option_prose": prose} if prose else {}),
            **({"paft_option_prose_alone": True} if prose_alone else {})}


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


def pilot_reading(folder: Path, task: str, unseen_set: str = READ[0]) -> dict | None:
    """Per variant kind of ``unseen_set`` in one finished PAFT reading: mean and balanced accuracy; and the training
    loss (None: not finished, or not read on that set)."""
    trained, done = (stage_record(folder, f"{stage}_{task}_paft") for stage in ("train", "eval"))
    if trained is None or done is None:
        return None
    found = {"train_loss": trained["train_loss"], "tail_loss": tail_loss(folder / "train" / task / "paft")}
    for row in summarise(collect(Path(done["opencompass_run"]))):
        unseen, kind = kind_of(row["prompt_set"])
        if row["task"] != "AVERAGE" and unseen == unseen_set:
            found[kind] = (row["mean"], row.get("balanced_accuracy"))
    return found if set(found) & set(PILOT_KINDS) else None


def committed_table(path: Path) -> tuple[list[str], dict[str, str]]:
    """The commands and table rows (by setting) of an earlier ``pilot_valid.md`` (none where there is none), so a
    rerun in a checkout that lacks an earlier setting's work folder keeps its committed row instead of dropping it."""
    if not path.is_file():
        return [], {}
    lines = path.read_text().splitlines()
    header = next((line for line in lines if line.startswith("Commands: ")), "")
    commands = re.findall(r"`([^`]+)`", header.split(COMMANDS_END, 1)[0])
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| setting |")]
    return commands, {line.split(" | ", 1)[0][2:]: line for line in table}


def write_pilot(rows: dict[str, dict], out: Path, commands: list[str], read: str = READ[0]) -> None:
    """``pilot_<read>.md``: one row per setting; ``commands``: the commands that trained the pilot's own settings.
    Rows and commands of an earlier table whose settings ``rows`` lacks are kept as committed."""
    path = out / f"pilot_{read}.md"
    kept_commands, kept_rows = committed_table(path)
    table = {name: line for name, line in kept_rows.items() if name not in rows}
    for name, found in rows.items():
        cells = [f"{found[k][0]:.2f} ({found[k][1]:.2f})" if k in found else "–" for k in PILOT_KINDS]
        tail = "–" if found.get("tail_loss") is None else f"{found['tail_loss']:.4f}"
        table[name] = f"| {name} | {found['train_loss']:.4f} | {tail} | " + " | ".join(cells) + " |"
    commands = list(dict.fromkeys([*kept_commands, *commands]))
    lines = ["# Structure draws: which setting learns them here? (pilot on validation prompts)", "",
             "Commands: " + "; ".join(f"`{c}`" for c in commands) + COMMANDS_END + " the `cpu` recipe with the draws "
             f"named (same rows), read on the first 5 `{read}` prompts as shipped and as variants, 100 "
             "questions each; accuracy (balanced accuracy) in %. `all`: the three draws together; `_e9`: 9 epochs "
             "(900 steps) instead of 3; `_c0.5`: half the windows keep the fixed prompt and shipped structure, "
             "spread over training, `_c0.5d` placed early (`paft_canonical_decay`); `_p0.5`: half the drawing "
             "windows write the options as a sentence (`paft_option_prose`), `_p0.25a` with the letters in order "
             "and no examples in those windows (`paft_option_prose_alone`); `_r0.5`: half the windows draw a "
             "structure, the others keep the shipped one with their pool prompt; `_s<k>`: the seed. Loss: the run's "
             f"mean, and the mean of its last {TAIL_STEPS} steps.", "",
             "| setting | train loss | last-50 loss | " + " | ".join(PILOT_KINDS) + " |",
             "|---" * (3 + len(PILOT_KINDS)) + "|", *(table[name] for name in sorted(table))]
    write_lines(path, lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--draws", nargs="+", choices=[*DRAWS, "all", "none"], default=list(DRAWS),
                        help="none: plain PAFT (no draw), read beside the settings as the reference")
    parser.add_argument("--epochs", type=int, default=RECIPE_EPOCHS)
    parser.add_argument("--canonical-ratio", type=float, nargs="+", default=[0.0])
    parser.add_argument("--canonical-decay", nargs="+", choices=["off", "on"], default=["off"],
                        help="paft_canonical_decay: the fixed-prompt windows placed early (on) or spread (off)")
    parser.add_argument("--structure-ratio", type=float, nargs="+", default=[1.0],
                        help="paft_structure_ratio: the share of windows that draw a structure")
    parser.add_argument("--prose", type=float, nargs="+", default=[0.0],
                        help="paft_option_prose: the share of drawing windows whose options are written as a sentence")
    parser.add_argument("--prose-alone", nargs="+", choices=["off", "on"], default=["off"],
                        help="paft_option_prose_alone: those windows keep the letters in order and show no examples")
    parser.add_argument("--side-by-side", type=int, default=2)
    parser.add_argument("--read", choices=READ, default=READ[0],
                        help="the validation prompts read: valid (composed like the pool) or valid_indep (written "
                             "apart, for failures the composed prompts do not show); work folders and table per set")
    parser.add_argument("--adopt-from", type=Path, metavar="WORK_DIR",
                        help="take each setting's training from WORK_DIR/<setting>_s<seed> (e.g. the valid pilot's "
                             "folder) where it finished there, instead of training it again; refused unless it is "
                             "the same training")
    parser.add_argument("--adopt-name", metavar="SETTING",
                        help="with --adopt-from: the folders there are SETTING_s<seed> (e.g. the ablation grid's "
                             "K4_T3_Nall for --draws none)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/structure_pilot.py", *(argv if argv is not None else sys.argv[1:])]
    grid = [(d, c, r, decay == "on", prose, alone == "on") for d in args.draws for c in args.canonical_ratio
            for r in args.structure_ratio for decay in args.canonical_decay for prose in args.prose
            for alone in args.prose_alone]
    settings = {setting_name(d, args.epochs, *changes): setting_overrides(args.task, d, args.epochs, *changes)
                for d, *changes in grid}  # a bad combination is refused here, before anything runs
    variants = ROOT / "outputs" / "structure" / args.task / "variants"
    read = args.read
    files = [str(f) for f in variant_files(args.task, (read,), 5, variants) if kind_of(str(f))[1] in PILOT_KINDS]
    work, out = ROOT / "outputs" / f"structure_pilot_{read}" / args.task, ROOT / "results" / "structure" / args.task
    runners = [validation_runner(f"structure_pilot_{read}", name, overrides, seed, work, command, prompt_sets=files,
                                 folder=f"{name}_s{seed}", task=args.task)
               for seed in args.seeds for name, overrides in settings.items()]
    for runner in runners if args.adopt_from else []:
        source = args.adopt_from / (f"{args.adopt_name}_s{runner.train_overrides['seed']}" if args.adopt_name
                                    else runner.work.name)
        if stage_record(source, f"train_{args.task}_paft") is not None:
            adopt_training(runner, "paft", source)
    train_side_by_side([(runner, "paft") for runner in runners], args.side_by_side)
    for runner in runners:
        train_and_read(runner, "paft")
    rows: dict[str, dict] = {}
    commands = []
    for folder in sorted(p for p in work.iterdir() if (p / "run.json").is_file()):
        try:
            found = pilot_reading(folder, args.task, read)
        except PoolError as error:  # read in another checkout whose variant files are gone: keep its committed row
            if folder.name not in committed_table(out / f"pilot_{read}.md")[1]:
                raise SystemExit(f"{folder}: its reading cannot be collected here and no committed row holds it "
                                 f"({error})") from error
            print(f"[structure_pilot] {folder.name}: reading not collected here, its committed row stays ({error})")
            continue
        if found is not None:
            rows[folder.name] = found
            commands.append(" ".join(json.loads((folder / "run.json").read_text())["command"]))
    write_pilot(rows, out, list(dict.fromkeys(commands)), read)
    print((out / f"pilot_{read}.md").read_text())


if __name__ == "__main__":
    main()
