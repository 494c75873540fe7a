"""GRPO with PAFT prompts against GRPO with the fixed prompt, on the embedded model and SST-2 (CPU), with a
before/after robustness report.

    python scripts/run_grpo_evidence.py            # ~2 x 17 min training + ~15 min evaluation on 2 CPU cores

Both runs use the generated YAMLs ``yaml/sst2/cpu_{paft,fixed}_grpo.yaml`` unchanged except ``output_dir``
(``outputs/rl_grpo_sst2/<variant>``), so rows, steps, LoRA, seed and rewards are identical and only the prompt
source differs. Then one ``paft-ext eval`` run scores the base model and both adapters on the same questions over the
first ``--prompts`` unseen test prompts and the seen-prompt probe. Written to ``results/rl_grpo_sst2/``: the report
(Markdown/CSV, plots), the share of A/B/no answers per model (``answers.json``), reward curves per run
(``rewards.csv``, ``rewards.png``) and ``run.json`` (commit, commands, times). Nothing there is edited by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VARIANTS = ("paft", "fixed")


def _run(command: list[str], log: Path, env: dict[str, str]) -> float:
    start = time.time()
    with log.open("w") as handle:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"[grpo-evidence] {' '.join(command)} failed (exit {done.returncode}); see {log}")
    return round(time.time() - start, 1)


def _rewards(output_dir: Path) -> list[dict]:
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    keys = ("rewards/correct/mean", "rewards/format/mean", "rewards/answered/mean", "entropy")
    return [{"step": h["step"], **{k.split("/")[1] if "/" in k else k: h[k] for k in keys}} for h in history
            if "rewards/correct/mean" in h]


def _answer_shares(run: Path) -> dict[str, dict[str, float]]:
    """Per model and prompt set, the share of predictions that are A, B or neither (strict rule): a policy that
    answers one letter to everything scores the majority share on accuracy and is visible only here."""
    from paft_ext.tasks import get_task

    task, shares = get_task("sst2"), {}
    for folder in sorted((run / "predictions").iterdir()):
        for prompt_set, infix in (("test", "sst2_p"), ("seen_probe", "sst2_seen_p")):
            counts = {"A": 0, "B": 0, "none": 0}
            for path in folder.glob(f"{infix}*.json"):
                for item in json.loads(path.read_text()).values():
                    counts[task.extract(item["prediction"], strict=True) or "none"] += 1
            total = sum(counts.values()) or 1
            shares[f"{folder.name}/{prompt_set}"] = {k: round(100 * v / total, 2) for k, v in counts.items()}
    return shares


def _plot(curves: dict[str, list[dict]], path: Path, window: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, rows in curves.items():
        steps = np.array([r["step"] for r in rows])
        correct = np.array([r["correct"] for r in rows])
        smooth = np.convolve(correct, np.ones(window) / window, mode="valid")
        ax.plot(steps, correct, alpha=0.25, linewidth=0.8)
        ax.plot(steps[window - 1:], smooth, label=f"{name} (moving mean of {window} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("reward: share of correct completions")
    ax.set_title("GRPO on SST-2 (SmolLM2-135M-Instruct, CPU): training reward")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=25, help="first N prompts of the test set")
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--work", default="outputs/rl_grpo_sst2")
    parser.add_argument("--results", default="results/rl_grpo_sst2")
    args = parser.parse_args()
    work, results = ROOT / args.work, ROOT / args.results
    if work.exists():
        raise SystemExit(f"[grpo-evidence] {work} exists; remove it (this script never reuses or overwrites a run)")
    work.mkdir(parents=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record: dict = {"commit": commit, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": {}, "commands": []}
    prepare = [str(BIN / "paft-ext"), "prepare", "--tasks", "sst2", "--eval-samples", str(args.questions),
               "--seed", "0"]
    record["seconds"]["prepare"] = _run(prepare, work / "prepare.log", env)
    record["commands"].append(" ".join(prepare[1:]))
    for variant in VARIANTS:
        config = yaml.safe_load((ROOT / "yaml" / "sst2" / f"cpu_{variant}_grpo.yaml").read_text())
        config["output_dir"] = str(work / variant)
        path = work / f"{variant}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        record["seconds"][f"train_{variant}"] = _run([str(BIN / "paft-ext"), "rl", str(path)],
                                                     work / f"train_{variant}.log", env)
        record["commands"].append(f"paft-ext rl yaml/sst2/cpu_{variant}_grpo.yaml (output_dir {work / variant})")
    evaluate = [str(BIN / "paft-ext"), "eval", "--tasks", "sst2", *[a for v in VARIANTS for a in
                ("--adapter", f"grpo_{v}={work / v}")], "--prompt-set", "test", "--prompt-set", "seen_probe",
                "--prompts", str(args.prompts), "--max-out-len", "4", "--batch-size", "8",
                "--data", ".cache/data/opencompass", "--work-dir", str(work / "eval")]
    record["seconds"]["eval"] = _run(evaluate, work / "eval.log", env)
    record["commands"].append(" ".join(evaluate[1:]))
    report = sorted((work / "eval").glob("*/paft_report"))[-1]
    results.mkdir(parents=True, exist_ok=True)
    for name in ("report.md", "report.csv", "per_prompt.csv"):
        shutil.copy(report / name, results / name)
    for plot in (report / "plots").glob("*.png"):
        shutil.copy(plot, results / plot.name)
    (results / "answers.json").write_text(json.dumps(_answer_shares(report.parent), indent=1))
    curves = {variant: _rewards(work / variant) for variant in VARIANTS}
    with (results / "rewards.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["run", "step", "correct", "format", "answered", "entropy"])
        writer.writeheader()
        writer.writerows({"run": v, **row} for v, rows in curves.items() for row in rows)
    _plot(curves, results / "rewards.png")
    record["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    record["train_runs"] = {v: json.loads((work / v / "paft_rl_run.json").read_text()) for v in VARIANTS}
    (results / "run.json").write_text(json.dumps(record, indent=1))
    print((results / "report.md").read_text())


if __name__ == "__main__":
    main()
