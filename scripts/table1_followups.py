"""Follow-ups of a finished Table 1 run, chosen and read on prompts that decide nothing in Table 1.

* ``own``: each fixed-prompt baseline on the prompt it was trained on (fixed: the user-specified prompt;
  TopAccuracy: its selected prompt) — the seen side of their seen-vs-unseen gap, which the ``seen_probe`` set
  (train-pool prompts, never seen by the fixed baselines) cannot give.
* ``valid``: the run's fixed-prompt and PAFT adapters, and variants (``--variant name:key=value,...``), on the 20
  validation prompts of the pool. A variant trains one method (``method=paft``, the default, or ``method=fixed``)
  with the run's rows, order and LoRA except for the keys it changes: preset keys (``window_steps``, ``epochs``) or
  LLaMA-Factory keys (``learning_rate``, ``lora_rank``, …). Settings are compared here, never on the test prompts.

    python scripts/table1_followups.py --preset cpu --variant paft_seed42:seed=42

Work folders: ``<work>_followups/{own,valid,<variant>}`` (resumable like the run); results:
``results/table1_<preset>/followups.md`` and ``followups.csv``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys
from pathlib import Path

import yaml
from paft_ext.evaluation.report import collect, summarise
from paft_ext.experiments.presets import METHOD_TITLES, PRESETS, Preset
from paft_ext.experiments.reproduce import Runner, stage_record
from paft_ext.pools.store import Prompt, write_pool
from paft_ext.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
# method: which one a variant trains; seed is the training seed (LLaMA-Factory's and the PAFT schedule's) — the preset
# seed would also redraw the run's rows and questions
PRESET_KEYS = ({f.name for f in dataclasses.fields(Preset)} | {"method"}) - {"seed"}
COLUMNS = ("run", "prompt_set", "prompts", "questions", "mean", "std_pop", "spread_beyond_noise", "min",
           "worst_prompt", "no_answer_pct")


def parse_variant(text: str) -> tuple[str, dict, dict]:
    """``name:key=value,...`` -> (name, preset changes, LLaMA-Factory overrides); values are read as YAML
    (numbers such as ``1e-3`` as numbers)."""
    name, _, assignments = text.partition(":")
    if not name or not assignments:
        raise SystemExit(f"--variant {text!r}: write name:key=value[,key=value]")
    preset, overrides = {}, {}
    for item in assignments.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: {item!r} is not key=value")
        (preset if key in PRESET_KEYS else overrides)[key] = _value(value)
    if "seed" in overrides:
        overrides.setdefault("paft_seed", overrides["seed"])
    return name, preset, overrides


def _value(text: str):
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 1e-3 as a string
        except ValueError:
            return value
    return value


class Followups:
    def __init__(self, preset: Preset, work: Path, command: list[str], *,
                 pool_root: Path = ROOT / "data" / "prompts", train_overrides: dict | None = None) -> None:
        self.preset, self.main, self.command = preset, work.resolve(), command
        self.root, self.pool_root = Path(f"{work}_followups").resolve(), pool_root.resolve()
        self.train_overrides = dict(train_overrides or {})  # the run's own overrides, kept by every variant
        if stage_record(self.main, f"train_{preset.tasks[0]}_paft") is None:
            raise SystemExit(f"{self.main}: the Table 1 run has not finished its trainings")
        self.task = get_task(preset.tasks[0])

    def _runner(self, name: str, prompt_sets: tuple[str, ...], adapters_from: Path | None, **changes) -> Runner:
        """A runner of the work folder ``name`` with the run's rows and questions; ``adapters_from``: a work folder
        whose trained adapters it evaluates (linked as its ``train/``) instead of training its own."""
        overrides = {**self.train_overrides, **changes.pop("train_overrides", {})}
        preset = dataclasses.replace(self.preset, name=f"{self.preset.name}_{name}", prompt_sets=prompt_sets,
                                     **{"prompts": None, **changes})
        runner = Runner(preset, self.root / name, pool_root=self.pool_root, train_overrides=overrides)
        runner.check_or_record(self.command)
        runner._stage("prepare", runner.prepare)  # seeded: the run's rows and questions
        runner._stage("chat_tokenizer", runner.chat_tokenizer)
        if adapters_from is not None:
            link = runner.work / "train"
            if not link.exists():
                link.symlink_to(adapters_from / "train", target_is_directory=True)
        return runner

    def own_prompts(self) -> list[dict]:
        chosen = stage_record(self.main, f"select_{self.task.name}")
        path = self.root / "prompts" / f"own_{self.task.pool}.jsonl"
        write_pool(path, [Prompt("user-specified", self.task.baseline_prompt, "the fixed baseline's training prompt"),
                          Prompt(chosen["prompt_id"], chosen["text"], "the TopAccuracy baseline's training prompt")])
        runner = self._runner("own", (str(path),), adapters_from=self.main)
        rows = []
        for method in ("fixed", "topacc"):
            done = runner._stage(f"eval_{self.task.name}_{method}", lambda m=method: runner.evaluate(self.task, m))
            for r in collect(Path(done["opencompass_run"])):
                rows.append({"run": METHOD_TITLES[method], "prompt_set": f"own: {r.prompt_id}", "prompts": 1,
                             "questions": r.questions, "mean": r.accuracy, "std_pop": 0.0,
                             "spread_beyond_noise": 0.0, "min": r.accuracy, "worst_prompt": r.prompt_id,
                             "no_answer_pct": r.no_answer})
        return rows

    def valid(self, variants: list[tuple[str, dict, dict]]) -> list[dict]:
        valid = (str(self.pool_root / "{pool}" / "valid.jsonl"),)
        runner = self._runner("valid", valid, adapters_from=self.main)
        finished = {m: runner._stage(f"eval_{self.task.name}_{m}", lambda m=m: runner.evaluate(self.task, m))
                    for m in ("fixed", "paft")}
        runs = [(METHOD_TITLES[m], done) for m, done in finished.items()]
        for name, changes, overrides in variants:
            method = changes.pop("method", "paft")
            if method not in ("fixed", "paft"):
                raise SystemExit(f"--variant {name}: method must be fixed or paft, got {method!r}")
            variant = self._runner(name, valid, adapters_from=None, train_overrides=overrides, **changes)
            variant._stage(f"train_{self.task.name}_{method}", lambda v=variant, m=method: v.train(self.task, m))
            runs.append((f"{METHOD_TITLES[method]} {name}", variant._stage(
                f"eval_{self.task.name}_{method}", lambda v=variant, m=method: v.evaluate(self.task, m))))
        rows = []
        for title, done in runs:
            (row,) = [r for r in summarise(collect(Path(done["opencompass_run"]))) if r["task"] != "AVERAGE"]
            rows.append({**row, "run": title, "prompt_set": "valid"})
        return rows


def write(rows: list[dict], out: Path, variants: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "followups.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Table 1 follow-ups", "", f"Variants: {', '.join(variants) or 'none'}. Accuracy in %; spread beyond "
             "noise = sqrt(max(0, variance over prompts − mean binomial variance)).", "",
             "| run | prompt set | prompts × questions | mean | std (ddof 0) | spread beyond noise | worst prompt | "
             "no answer % |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['prompt_set']} | {r['prompts']} × {r['questions']} | {r['mean']:.2f} | "
              f"{r['std_pop']:.2f} | {r['spread_beyond_noise']:.2f} | {r['min']:.2f} ({r['worst_prompt']}) | "
              f"{r['no_answer_pct']:.2f} |" for r in rows]
    (out / "followups.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="cpu")
    parser.add_argument("--work-dir", help="the Table 1 run's work folder (default outputs/table1_<preset>)")
    parser.add_argument("--results", help="default results/table1_<preset>")
    parser.add_argument("--variant", action="append", default=[], help="name:key=value[,key=value] (at most 2)")
    args = parser.parse_args(argv)
    if len(args.variant) > 2:
        raise SystemExit("at most two follow-up variants (the evidence issue's budget)")
    variants = [parse_variant(v) for v in args.variant]
    preset = PRESETS[args.preset]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = ["python", "scripts/table1_followups.py", *(argv if argv is not None else sys.argv[1:])]
    followups = Followups(preset, Path(args.work_dir or ROOT / "outputs" / f"table1_{preset.name}"), command)
    rows = followups.own_prompts() + followups.valid(variants)
    out = Path(args.results or ROOT / "results" / f"table1_{preset.name}")
    write(rows, out, args.variant)
    print((out / "followups.md").read_text())


if __name__ == "__main__":
    main()
