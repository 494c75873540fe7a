"""Helpers for tests that train for real with LLaMA-Factory on a tiny Llama built locally (no downloads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from paft_ext.tasks import fill_template

VENV_BIN = Path(sys.executable).parent
PIQA_FIELDS = ("goal", "sol1", "sol2")
POOL_TEXTS = [
    "Goal: {goal}\nA. {sol1}\nB. {sol2}\nAnswer with A or B.",
    "Which solution works for \"{goal}\"?\n(A) {sol1}\n(B) {sol2}\nAnswer:",
    "{goal}\nOption A: {sol1}\nOption B: {sol2}\nReply with the letter only.",
    "Pick the better way.\nTask: {goal}\nA) {sol1}\nB) {sol2}",
    "Q: {goal}\nA: {sol1}\nB: {sol2}\nThe correct letter is",
    "You are a handy person. {goal}? First idea: {sol1} Second idea: {sol2} Which idea, A or B?",
    "Solution A = {sol1}\nSolution B = {sol2}\nObjective = {goal}\nBest solution letter:",
    "PHYSICAL REASONING\n{goal}\n[A] {sol1}\n[B] {sol2}",
    "Help me out: {goal}. Should I go with A ({sol1}) or B ({sol2})?",
    "Consider the goal '{goal}'. Candidate A: {sol1}. Candidate B: {sol2}. Respond with one letter.",
]


def build_tiny_model(target: Path, tokenizer_source: Path) -> Path:
    """A 2-layer, 16-wide random Llama with the default model's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def write_pool(path: Path, texts: list[str] = POOL_TEXTS) -> Path:
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": t, "source": "handwritten"}) + "\n"
                            for i, t in enumerate(texts)))
    return path


def train_config(model: Path, data_dir: Path, output_dir: Path, **overrides: Any) -> dict[str, Any]:
    config = {
        "model_name_or_path": str(model), "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "lora_target": "all", "lora_rank": 4, "dataset_dir": str(data_dir), "dataset": "piqa_paft",
        "template": "smollm2", "cutoff_len": 1024, "output_dir": str(output_dir), "overwrite_output_dir": True,
        "per_device_train_batch_size": 3, "gradient_accumulation_steps": 3, "num_train_epochs": 2.0,
        "learning_rate": 1e-3, "lr_scheduler_type": "constant", "use_cpu": True, "bf16": False,
        "report_to": "none", "logging_steps": 1, "save_strategy": "no", "disable_shuffling": True,
        "dataloader_num_workers": 0, "preprocessing_num_workers": 1, "overwrite_cache": True, "seed": 7,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def run_cli(config: dict[str, Any], workdir: Path, env: dict[str, str] | None = None,
            name: str = "run.yaml") -> subprocess.CompletedProcess:
    """The stock ``llamafactory-cli train <yaml>`` in a subprocess of the test environment."""
    path = workdir / name
    path.write_text(yaml.safe_dump(config))
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run([str(VENV_BIN / "llamafactory-cli"), "train", str(path)], cwd=workdir, env=full_env,
                          capture_output=True, text=True, timeout=900)


def read_trace(output_dir: Path, rank: int = 0) -> list[dict]:
    return [json.loads(line) for line in (output_dir / f"paft_trace.rank{rank}.jsonl").read_text().splitlines()]


def losses(output_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (output_dir / "trainer_log.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if "loss" in row]


def rows_per_window(schedule: dict) -> int:
    geometry = schedule["spec"]["geometry"]
    rows_per_step = geometry["batch_size"] * geometry["grad_accum"] * geometry["world_size"]
    return schedule["spec"]["window"] * (rows_per_step if schedule["spec"]["window_unit"] == "step" else 1)


def expected_text(schedule: dict, rows: list[dict], position: int) -> str:
    """The user message the schedule says is trained at ``position``."""
    window = schedule["windows"][position // rows_per_window(schedule)]
    row = rows[schedule["order"][position]]
    if window["prompt_id"] == "canonical":  # paft_canonical_ratio: the row keeps its own fixed prompt
        return row["instruction"]
    return fill_template(schedule["prompts"][window["prompt_id"]], {f: row[f] for f in PIQA_FIELDS})


@dataclass
class FakeAPI:
    """An OpenAI-compatible chat endpoint on 127.0.0.1: it answers from ``script`` (content type, body, status,
    headers) while that lasts, then with a good completion whose content is ``answer(request)``."""

    url: str = ""
    script: list = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    answer: Callable[[dict], str] = lambda request: ""


@contextmanager
def serve_fake_api() -> Iterator[FakeAPI]:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    api = FakeAPI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if api.script:
                kind, body, status, headers = api.script.pop(0)
            else:
                message = {"role": "assistant", "content": api.answer(request)}
                body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
                kind, status, headers = "application/json", 200, {}
            api.hits.append(body[:20])
            self.send_response(status)
            self.send_header("content-type", kind)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield api
    finally:
        server.shutdown()
