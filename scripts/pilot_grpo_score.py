"""Pilot scorer for GRPO settings: accuracy of the base model and of adapters on N prepared SST-2 eval questions
under the user-specified prompt and the first validation prompts (never test prompts), greedy, 4 new tokens.

    python scripts/pilot_grpo_score.py --questions 100 outputs/rl_pilot/run1 outputs/rl_pilot/run2/checkpoint-20

Reads ``.cache/data/opencompass/data/sst2/test.jsonl`` (``paft-ext prepare --tasks sst2 --eval-samples N``). Prints
(OpenCompass-rule accuracy, strict-rule accuracy) per prompt and model. Used for ``results/rl_grpo_sst2``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from paft_ext import default_model
from paft_ext.pools.store import load_pool
from paft_ext.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]


def score(model, tokenizer, task, prompts: dict[str, str], rows: list[dict], batch: int = 25) -> dict:
    out = {}
    for name, template in prompts.items():
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": task.fill(template, r)}], tokenize=False,
                                               add_generation_prompt=True) for r in rows]
        lenient = strict = 0
        for i in range(0, len(texts), batch):
            enc = tokenizer(texts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=4, do_sample=False)
            for text, row in zip(tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True),
                                 rows[i:i + batch], strict=True):
                lenient += task.extract(text) == row["answer"]
                strict += task.extract(text, strict=True) == row["answer"]
        out[name] = (round(100 * lenient / len(rows), 1), round(100 * strict / len(rows), 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("adapters", nargs="*")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--valid-prompts", type=int, default=3)
    args = parser.parse_args()
    task, path = get_task("sst2"), default_model.model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    data = ROOT / ".cache" / "data" / "opencompass" / "data" / "sst2" / "test.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()][: args.questions]
    prompts = {"user-specified": task.baseline_prompt}
    for prompt in load_pool(ROOT / "data" / "prompts" / "sst2" / "valid.jsonl", task.fields)[: args.valid_prompts]:
        prompts[prompt.id] = prompt.text
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    print("base", score(base, tokenizer, task, prompts, rows), flush=True)
    for adapter in args.adapters:
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), adapter)
        print(adapter, score(model, tokenizer, task, prompts, rows), flush=True)


if __name__ == "__main__":
    main()
