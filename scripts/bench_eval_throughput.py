"""Benchmark: evaluation throughput on CPU — seconds per item of a real ``paft-ext eval`` run, and how much of its
generation time a bare ``model.generate`` loop on the same rendered prompts would need (the framework's share),
in float32 and in bfloat16.

    python scripts/bench_eval_throughput.py          # SST-2, 2 test prompts x 100 questions, ~5 min on 2 cores

Both paths use the embedded default model, the same chat-templated prompts (read back from OpenCompass's
predictions), batch size, greedy decoding and ``max_out_len``. OpenCompass's per-dataset timer covers its
generation loop (tokenising, padding, generate, decoding); ``efficiency`` = bare loop seconds / that timer (1.0 = no
overhead beyond generate itself). Writes ``results/bench_eval_throughput.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def oc_run(extra: dict, args, data: Path, work: Path) -> tuple[float, float, list[str], list[str]]:
    """(wall seconds, OpenCompass generation seconds, rendered prompts, predictions) of one run of the base model with
    the ``extra`` settings (e.g. dtype)."""
    from paft_ext.evaluation.launch import run_opencompass
    from paft_ext.evaluation.prompt_sets import rendered_user_text

    settings = {"tasks": args.task, "prompts": args.prompts, "max_out_len": args.max_out_len,
                "batch_size": args.batch_size, "include_base": "1", **extra}
    start = time.perf_counter()
    with work.with_suffix(".log").open("w") as log:
        run = run_opencompass(settings, data, work, log=log, cwd=work.parent)
    wall = time.perf_counter() - start
    generation = sum(json.loads(line)["time"] for line in (run / "predictions" / "base" / "timer" /
                                                          "time.jsonl").read_text().splitlines() if line.strip())
    prompts, predictions = [], []
    for path in sorted((run / "predictions" / "base").glob("*.json")):
        for item in json.loads(path.read_text()).values():
            prompts.append(rendered_user_text(item["origin_prompt"]))
            predictions.append(item["prediction"])
    return wall, generation, prompts, predictions


def _bare_loop(dtype: str, prompts: list[str], batch_size: int, max_out_len: int) -> tuple[float, list[str]]:
    """Seconds of tokenise + generate + decode over ``prompts`` (the user turns OpenCompass rendered; the chat
    template, with its default system prompt, is applied here as OpenCompass's chat model does)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from paft_ext import default_model

    path = default_model.model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True) for p in prompts]
    outputs = []
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(texts[i:i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            ids = model.generate(**batch, max_new_tokens=max_out_len, do_sample=False,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            outputs += tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return time.perf_counter() - start, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--max-out-len", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([str(BIN / "paft-ext"), "prepare", "--tasks", args.task, "--eval-samples",
                        str(args.questions), "--train-samples", "10", "--out", str(tmp / "data")], check=True,
                       capture_output=True)
        for dtype in ("float32", "bfloat16"):
            wall, generation, prompts, predictions = oc_run({"dtype": dtype}, args, tmp / "data" / "opencompass",
                                                            tmp / f"oc_{dtype}")
            bare, outputs = _bare_loop(dtype, prompts, args.batch_size, args.max_out_len)
            same = sum(a.strip() == b.strip() for a, b in zip(predictions, outputs, strict=True))
            rows[dtype] = {"items": len(prompts), "wall_s": round(wall, 1), "opencompass_generation_s":
                           round(generation, 1), "s_per_item": round(generation / len(prompts), 4),
                           "bare_loop_s": round(bare, 1), "efficiency": round(bare / generation, 3),
                           "bare_outputs_equal_predictions": f"{same}/{len(prompts)}"}
    fp32 = rows["float32"]["opencompass_generation_s"]
    rows["bfloat16"]["speedup_vs_float32"] = round(fp32 / rows["bfloat16"]["opencompass_generation_s"], 3)
    doc = {"task": args.task, "prompts": args.prompts, "questions": args.questions, "max_out_len": args.max_out_len,
           "batch_size": args.batch_size, "runs": rows}
    out = ROOT / "results"
    (out / "bench_eval_throughput.json").write_text(json.dumps(doc, indent=1))
    lines = [f"# Evaluation throughput ({args.task}, {args.prompts} prompts x {args.questions} questions, batch "
             f"{args.batch_size}, max_out_len {args.max_out_len}, embedded model, 2-core CPU)", "",
             "| dtype | items | wall s | OpenCompass generation s | s/item | bare loop s | efficiency | same outputs |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {d} | {r['items']} | {r['wall_s']} | {r['opencompass_generation_s']} | {r['s_per_item']} | "
              f"{r['bare_loop_s']} | {r['efficiency']} | {r['bare_outputs_equal_predictions']} |"
              for d, r in rows.items()]
    lines += ["", f"bfloat16 generation speed-up over float32: {rows['bfloat16']['speedup_vs_float32']}x. "
              "Efficiency = bare generate loop seconds / OpenCompass generation seconds on the same prompts."]
    (out / "bench_eval_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
