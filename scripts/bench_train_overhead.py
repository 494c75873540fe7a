"""Benchmark: what PAFT costs on top of fixed-prompt training, on the embedded default model (CPU).

Same task, data, optimizer steps and seed; the only difference is the prompt keys (``yaml/<task>/cpu_*.yaml``).
* Preprocessing: LLaMA-Factory's ``get_dataset`` in-process (PAFT: schedule + rendering + tokenising the T-epoch
  expansion; baseline: tokenising the rows once), median of ``--repeats``.
* Training: ``llamafactory-cli train`` with ``max_steps``, the trainer's own ``train_runtime``, runs alternated
  baseline/PAFT to spread machine noise; also per 1k trained tokens, because pool prompts differ in length from the
  fixed prompt and that, not the hook, changes compute. Tokens are the trainer's own count
  (``num_input_tokens_seen``, padding included), so batches of different lengths are compared fairly.
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
        from paft_ext.pools.store import Prompt, write_pool
        from paft_ext.tasks import get_task

        pool = ROOT / ".cache" / f"bench_{task}_fixed_pool.jsonl"
        write_pool(pool, [Prompt("fixed", get_task(task).baseline_prompt, "baseline")])
        config["paft_pool"] = str(pool)
    config.update(overrides)
    return config


def preprocessing_seconds(config: dict) -> float:
    """Wall time of LLaMA-Factory's dataset preparation (in-process, after imports and tokenizer loading)."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, _, _ = get_train_args(dict(config))
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    start = time.perf_counter()
    get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)
    return time.perf_counter() - start


def training_run(config: dict, workdir: Path) -> tuple[float, int]:
    """(trainer's train_runtime, tokens the trainer processed including padding)."""
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump({**config, "include_num_input_tokens_seen": "all"}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([str(Path(sys.executable).parent / "llamafactory-cli"), "train", str(path)], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    out = Path(config["output_dir"])
    state = json.loads((out / "trainer_state.json").read_text())
    return json.loads((out / "train_results.json").read_text())["train_runtime"], state["num_input_tokens_seen"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="piqa")
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.chdir(ROOT)
    variants = VARIANTS
    result: dict = {"task": args.task, "max_steps": args.max_steps, "repeats": args.repeats,
                    "preprocess_s": {}, "train_tokens": {v: [] for v in variants}, "train_s": {v: [] for v in variants}}
    for variant in variants:
        runs = [preprocessing_seconds(_config(args.task, variant, overwrite_cache=True))
                for _ in range(args.repeats + 1)]
        result["preprocess_s"][variant] = [round(s, 3) for s in runs]
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for variant in variants[repeat % 3:] + variants[: repeat % 3]:  # rotate the order between repeats
                out = Path(tmp) / f"{variant}{repeat}"
                config = _config(args.task, variant, max_steps=args.max_steps, output_dir=str(out), save_steps=10**6,
                                 plot_loss=False)
                seconds, tokens_seen = training_run(config, Path(tmp))
                result["train_s"][variant].append(round(seconds, 2))
                result["train_tokens"][variant].append(tokens_seen)
    med = {k: {v: statistics.median(x[v]) for v in variants} for k, x in
           (("preprocess", result["preprocess_s"]), ("train", result["train_s"]))}
    per_token = {v: statistics.median(1000 * t / n for t, n in zip(result["train_s"][v], result["train_tokens"][v],
                                                                 strict=True)) for v in variants}
    tokens = {v: statistics.median(result["train_tokens"][v]) for v in variants}
    result["ratio"] = {f"{kind}_{v}_over_baseline": round(med[kind][v] / med[kind]["baseline"], 3)
                       for kind in ("preprocess", "train") for v in variants[1:]}
    result["ratio"].update({f"train_per_token_{v}_over_baseline": round(per_token[v] / per_token["baseline"], 3)
                            for v in variants[1:]})
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_train_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    header = " | ".join(variants)
    lines = [f"# PAFT training overhead ({args.task}, default model, CPU, {args.max_steps} steps, "
             f"{args.repeats} runs each)", "",
             f"| | {header} |", "|---|" + "---|" * len(variants),
             "| preprocessing, median s | " + " | ".join(f"{med['preprocess'][v]:.2f}" for v in variants) + " |",
             "| training, median s | " + " | ".join(f"{med['train'][v]:.1f}" for v in variants) + " |",
             "| tokens processed incl. padding, median | " + " | ".join(str(tokens[v]) for v in variants) + " |",
             "| training s per 1k tokens, median | " + " | ".join(f"{per_token[v]:.3f}" for v in variants) + " |", "",
             "Ratios to the baseline: " + ", ".join(f"{k} = {v}" for k, v in result["ratio"].items()), "",
             f"Raw runs: `{json.dumps({k: result[k] for k in ('preprocess_s', 'train_s')})}`", ""]
    (out_dir / "bench_train_overhead.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
