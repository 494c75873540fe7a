"""Run a command while a local instruction model answers as an OpenAI-compatible endpoint, and give it the generator
config (``pools generate``'s format) that points there.

No LLM API is reachable where this project is built. BATprompt (``reproduce_table1.py --batprompt-config``) needs
one, so this serves the model that wrote the ``test_llm`` prompts (Qwen2.5-Coder-1.5B-Instruct, fetched and converted
by ``build_llm_test_prompts.py``; ~17–33 s per request on 2 CPU cores) with ``llamafactory-cli api`` on 127.0.0.1,
writes the config to ``--config-out``, runs the command, and stops the server when the command ends (its exit status
is this script's). The server's key is random per run and lives only in the environment of the server and of the
command (``api_key_env`` names it; the config file never holds it). A file at ``--config-out`` that this script did
not write (its first line marks it) is refused before the server starts. The port is part of every cached request's
key (the generator's disk cache, e.g. BATprompt's ``select/batprompt_cache``), so keep the default to reuse earlier
answers.

    python scripts/with_local_llm.py --config-out .cache/local_llm.yaml -- \\
        python scripts/reproduce_table1.py --preset cpu --seeds 0 1 2 --batprompt-config .cache/local_llm.yaml
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_llm_test_prompts import KEY_ENV, MODEL, hf_folder, serve  # noqa: E402

from paft_ext import default_model  # noqa: E402
from paft_ext.pools.generation_config import load_generation_config  # noqa: E402

MARK = "# written by scripts/with_local_llm.py for its local server; rewritten on every run\n"


def check_writable(path: Path) -> None:
    """Refuse a ``--config-out`` that exists and was not written by this script (a user's own generator file)."""
    if path.exists() and not (path.is_file() and path.read_text().startswith(MARK)):
        raise SystemExit(f"{path}: exists and was not written by with_local_llm.py; give another --config-out")


def write_config(path: Path, base_url: str, temperature: float, max_tokens: int) -> None:
    """The one-generator config of the local server (no key in it: ``api_key_env`` names the variable), checked by
    the loader every command uses."""
    check_writable(path)
    generator = {"name": f"qwen-coder-1.5b-t{temperature:g}", "base_url": base_url, "model": MODEL,
                 "api_key_env": KEY_ENV, "temperature": temperature, "max_tokens": max_tokens}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MARK + yaml.safe_dump({"concurrency": 1, "timeout_seconds": 1800, "generators": [generator]},
                                          sort_keys=False))
    load_generation_config(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-out", required=True, help="where to write the generator config")
    parser.add_argument("--port", type=int, default=41703)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    check_writable(Path(args.config_out))
    model, _ = hf_folder(default_model.cache_dir())
    key = secrets.token_hex(16)
    proc, base = serve(model, key, default_model.cache_dir() / "llm_server.log", args.port)
    try:
        write_config(Path(args.config_out), base, args.temperature, args.max_tokens)
        return subprocess.run(command, env={**os.environ, KEY_ENV: key}).returncode
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
