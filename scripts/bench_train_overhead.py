"""Benchmark: what PAFT costs on top of fixed-prompt training, on the embedded default model (CPU).

Same task, data, optimizer steps and seed; the only difference is the prompt keys (``yaml/<task>/cpu_*.yaml``).
* Preprocessing: LLaMA-Factory's ``get_dataset`` in-process (PAFT: schedule + rendering + tokenising the T-epoch
  expansion; baseline: tokenising the rows once), median of ``--repeats``.
* Training: ``llamafactory-cli train`` with ``max_steps``, the trainer's own ``train_runtime``, runs alternated
  baseline/PAFT to spread machine noise; also per 1k trained tokens, because pool prompts differ in length from the
  fixed prompt and that, not the hook, changes compute.
Writes ``results/bench_train_overhead.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


VARIANTS = ("baseline", "paft", "paft_fixed_prompt")


def _config(task: str, variant: str, **overrides) -> dict:
    """``paft_fixed_prompt`` is PAFT with a one-prompt pool holding the baseline prompt: the same tokens as the
    baseline, so its difference to the baseline is the hook's own cost (plus its data order)."""
    name = "baseline" if variant == "baseline" else "paft"
    config = yaml.safe_load((ROOT / "yaml" / task / f"cpu_{name}.yaml").read_text())
    if variant == "paft_fixed_prompt":
        pool = ROOT / ".cache" / f"bench_{task}_fixed_pool.jsonl"
        from paft_ext.tasks import get_task

        pool.write_text(json.dumps({"id": "fixed", "text": get_task(task).baseline_prompt, "source": "baseline"}))
        config["paft_pool"] = str(pool)
    config.update(overrides)
    return config


def preprocessing_seconds(config: dict) -> tuple[float, int]:
    """Wall time of LLaMA-Factory's dataset preparation, and the number of tokens of the train split."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, _, _ = get_train_args(dict(config))
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    start = time.perf_counter()
    module = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)
    seconds = time.perf_counter() - start
    return seconds, sum(len(ids) for ids in module["train_dataset"]["input_ids"])


def training_seconds(config: dict, workdir: Path) -> float:
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([str(Path(sys.executable).parent / "llamafactory-cli"), "train", str(path)], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    return json.loads((Path(config["output_dir"]) / "train_results.json").read_text())["train_runtime"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="piqa")
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.chdir(ROOT)
    variants = VARIANTS
    result: dict = {"task": args.task, "max_steps": args.max_steps, "repeats": args.repeats,
                    "preprocess_s": {}, "train_tokens": {}, "train_s": {v: [] for v in variants}}
    for variant in variants:
        runs = [preprocessing_seconds(_config(args.task, variant, overwrite_cache=True))
                for _ in range(args.repeats + 1)]
        result["preprocess_s"][variant] = [round(s, 3) for s, _ in runs]
        # Tokens trained in max_steps optimizer steps: mean tokens per row of the split × rows trained.
        config = _config(args.task, variant)
        rows_trained = args.max_steps * config["per_device_train_batch_size"] * config["gradient_accumulation_steps"]
        result["train_tokens"][variant] = round(runs[0][1] / _rows(args.task, variant) * rows_trained)
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for variant in variants[repeat % 3:] + variants[: repeat % 3]:  # rotate the order between repeats
                out = Path(tmp) / f"{variant}{repeat}"
                config = _config(args.task, variant, max_steps=args.max_steps, output_dir=str(out), save_steps=10**6,
                                 plot_loss=False)
                result["train_s"][variant].append(round(training_seconds(config, Path(tmp)), 2))
    med = {k: {v: statistics.median(x[v]) for v in variants} for k, x in
           (("preprocess", result["preprocess_s"]), ("train", result["train_s"]))}
    tokens = result["train_tokens"]
    result["ratio"] = {f"{kind}_{v}_over_baseline": round(med[kind][v] / med[kind]["baseline"], 3)
                       for kind in ("preprocess", "train") for v in variants[1:]}
    result["ratio"].update({f"train_per_token_{v}_over_baseline": round(
        (med["train"][v] / tokens[v]) / (med["train"]["baseline"] / tokens["baseline"]), 3) for v in variants[1:]})
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_train_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    header = " | ".join(variants)
    lines = [f"# PAFT training overhead ({args.task}, default model, CPU, {args.max_steps} steps, "
             f"{args.repeats} runs each)", "",
             f"| | {header} |", "|---|" + "---|" * len(variants),
             "| preprocessing, median s | " + " | ".join(f"{med['preprocess'][v]:.2f}" for v in variants) + " |",
             "| training, median s | " + " | ".join(f"{med['train'][v]:.1f}" for v in variants) + " |",
             "| trained tokens (estimate) | " + " | ".join(str(tokens[v]) for v in variants) + " |",
             "| training s per 1k tokens | " + " | ".join(f"{1000 * med['train'][v] / tokens[v]:.3f}"
                                                         for v in variants) + " |", "",
             "Ratios to the baseline: " + ", ".join(f"{k} = {v}" for k, v in result["ratio"].items()), "",
             f"Raw runs: `{json.dumps({k: result[k] for k in ('preprocess_s', 'train_s')})}`", ""]
    (out_dir / "bench_train_overhead.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _rows(task: str, variant: str) -> int:
    """Rows in the train split the preprocessing produced: T·N (PAFT expansion) or N (baseline)."""
    config = _config(task, variant)
    n = config["max_samples"]
    return n * int(config["num_train_epochs"]) if variant != "baseline" else n


if __name__ == "__main__":
    main()
