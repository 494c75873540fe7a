"""Generating candidate prompts with several LLMs over OpenAI-compatible APIs.

* Generators come from a YAML/JSON file (:func:`load_generation_config`): base URL, the *name* of the environment
  variable holding the key (keys are read at call time and never written anywhere), model, sampling settings, and
  how many requests per strategy (few-shot, zero-shot).
* Meta-prompts are jinja2 templates (``metaprompts/*.j2`` in this package, or the user's own files).
* Requests run concurrently up to a limit, retry with exponential backoff on rate limits, server errors, timeouts
  and connection failures, and are cached on disk under a hash of the request: a rerun sends nothing, an interrupted
  run resumes where it stopped. Token usage per generator and in total (with cost, when prices are given) goes into
  the pool manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import jinja2

import yaml
from paft_ext.tasks import TaskSpec

from .build import Candidate
from .compose import few_shot_examples

STRATEGIES = ("few_shot", "zero_shot")
META_PROMPT_DIR = Path(__file__).parent / "metaprompts"


class GenerationError(RuntimeError):
    """A generator that cannot be used or reached; the message names it."""


@dataclass(frozen=True)
class GeneratorSpec:
    name: str
    base_url: str
    model: str
    api_key_env: str
    requests: dict[str, int] = field(default_factory=lambda: {"few_shot": 2, "zero_shot": 2})
    prompts_per_request: int = 10
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1500
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None


@dataclass(frozen=True)
class GenerationConfig:
    generators: tuple[GeneratorSpec, ...]
    concurrency: int = 4
    max_retries: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 120.0
    meta_prompts: dict[str, str] = field(default_factory=dict)  # strategy -> path of a user jinja2 template


def _typed(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise GenerationError(f"{where}: expected a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GenerationError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**raw)
    except TypeError as err:
        raise GenerationError(f"{where}: {err}") from None


def load_generation_config(path: str | Path) -> GenerationConfig:
    """Read and check a generator file; errors name the file and key."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not raw.get("generators"):
        raise GenerationError(f"{path}: needs a non-empty 'generators' list")
    for i, g in enumerate(raw["generators"]):
        if isinstance(g, dict) and {"api_key", "key"} & set(g):
            raise GenerationError(f"{path}: generators[{i}]: never put a key in the file; name the environment "
                                  f"variable that holds it in api_key_env")
    gens = tuple(_typed(GeneratorSpec, g, f"{path}: generators[{i}]") for i, g in enumerate(raw["generators"]))
    for i, gen in enumerate(gens):
        bad = sorted(set(gen.requests) - set(STRATEGIES))
        if bad:
            raise GenerationError(f"{path}: generators[{i}].requests: unknown strategy {bad}; use {STRATEGIES}")
    if len({g.name for g in gens}) != len(gens):
        raise GenerationError(f"{path}: generator names must be unique")
    return _typed(GenerationConfig, {**raw, "generators": gens}, str(path))


@dataclass(frozen=True)
class Request:
    generator: GeneratorSpec
    strategy: str
    index: int
    messages: tuple[dict[str, str], ...]

    @property
    def payload(self) -> dict:
        g = self.generator
        return {"base_url": g.base_url, "model": g.model, "messages": list(self.messages), "seed": self.index,
                "temperature": g.temperature, "top_p": g.top_p, "max_tokens": g.max_tokens}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.payload, sort_keys=True).encode()).hexdigest()


def _meta_prompt(strategy: str, config: GenerationConfig) -> jinja2.Template:
    path = Path(config.meta_prompts.get(strategy, META_PROMPT_DIR / f"{strategy}.j2"))
    if not path.is_file():
        raise GenerationError(f"meta-prompt for {strategy} not found: {path}")
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
        path.read_text(encoding="utf-8"))


def plan_requests(task: TaskSpec, config: GenerationConfig) -> list[Request]:
    templates = {s: _meta_prompt(s, config) for s in STRATEGIES}
    examples = few_shot_examples(task.pool)
    requests = []
    for gen in config.generators:
        for strategy, count in gen.requests.items():
            text = templates[strategy].render(task=task, examples=examples, n=gen.prompts_per_request)
            requests += [Request(gen, strategy, i, ({"role": "user", "content": text},)) for i in range(count)]
    return requests


def parse_templates(text: str) -> list[str]:
    """Split a generator's answer into candidate templates: '---' separator lines, else numbered items, else the
    whole text. Nothing is filtered here: every candidate goes through validation, and rejects are kept."""
    blocks = [b for b in re.split(r"^\s*-{3,}\s*$", text, flags=re.MULTILINE) if b.strip()]
    if len(blocks) <= 1:
        items = re.split(r"^\s*\d{1,2}[.)]\s+", text, flags=re.MULTILINE)
        blocks = [b for b in items if b.strip()] if len(items) > 2 else blocks
    cleaned = [b.strip().strip("`\"'").strip() for b in blocks]
    return [b for b in cleaned if b]


class Generator:
    """Runs planned requests through the cache and the APIs; counts what it sends."""

    def __init__(self, config: GenerationConfig, cache_dir: Path) -> None:
        self.config = config
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.sent: dict[str, int] = {}
        self._lock = threading.Lock()

    def _client(self, gen: GeneratorSpec):
        import openai

        key = os.environ.get(gen.api_key_env)
        if key is None:
            raise GenerationError(f"generator {gen.name}: environment variable {gen.api_key_env} is not set")
        return openai.OpenAI(base_url=gen.base_url, api_key=key, max_retries=0, timeout=self.config.timeout_seconds)

    def _call(self, request: Request) -> dict:
        import openai

        gen = request.generator
        client = self._client(gen)
        retryable = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                     openai.InternalServerError)
        for attempt in range(self.config.max_retries + 1):
            try:
                with self._lock:
                    self.sent[gen.name] = self.sent.get(gen.name, 0) + 1
                p = request.payload
                reply = client.chat.completions.create(model=p["model"], messages=p["messages"], seed=p["seed"],
                                                       temperature=p["temperature"], top_p=p["top_p"],
                                                       max_tokens=p["max_tokens"])
                usage = reply.usage
                return {"text": reply.choices[0].message.content or "",
                        "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
                        "completion_tokens": getattr(usage, "completion_tokens", 0) or 0}
            except retryable as err:
                if attempt == self.config.max_retries:
                    raise GenerationError(f"generator {gen.name} at {gen.base_url}: {type(err).__name__} after "
                                          f"{attempt + 1} attempt(s): {err}") from None
                time.sleep(self.config.backoff_seconds * 2**attempt)
            except openai.APIStatusError as err:
                raise GenerationError(f"generator {gen.name} at {gen.base_url}: HTTP {err.status_code}: "
                                      f"{err.message}") from None
        raise AssertionError("unreachable")

    def fetch(self, request: Request) -> tuple[dict, bool]:
        """(result, from_cache). A finished request is written to the cache atomically before it counts as done."""
        path = self.cache_dir / f"{request.key}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))["result"], True
        result = self._call(request)
        tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"request": request.payload, "result": result}, ensure_ascii=False),
                       encoding="utf-8")
        os.replace(tmp, path)
        return result, False

    def run(self, task: TaskSpec) -> tuple[list[Candidate], dict]:
        """All candidates from all generators, and the usage/provenance record for the manifest."""
        requests = plan_requests(task, self.config)
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            results = list(pool.map(self.fetch, requests))
        candidates: list[Candidate] = []
        usage: dict[str, dict] = {}
        for request, (result, cached) in zip(requests, results, strict=True):
            gen = request.generator
            row = usage.setdefault(gen.name, {"model": gen.model, "requests": 0, "from_cache": 0,
                                              "prompt_tokens": 0, "completion_tokens": 0, "candidates": 0})
            row["requests"] += 1
            row["from_cache"] += cached
            row["prompt_tokens"] += result["prompt_tokens"]
            row["completion_tokens"] += result["completion_tokens"]
            texts = parse_templates(result["text"])
            row["candidates"] += len(texts)
            candidates += [Candidate(t, f"{gen.model}/{request.strategy}") for t in texts]
        for gen in self.config.generators:
            row = usage.get(gen.name)
            if row and gen.price_per_1k_input is not None and gen.price_per_1k_output is not None:
                row["cost"] = round(row["prompt_tokens"] / 1000 * gen.price_per_1k_input
                                    + row["completion_tokens"] / 1000 * gen.price_per_1k_output, 6)
        total = {k: sum(r.get(k, 0) for r in usage.values())
                 for k in ("requests", "from_cache", "prompt_tokens", "completion_tokens", "candidates")}
        if any("cost" in r for r in usage.values()):
            total["cost"] = round(sum(r.get("cost", 0.0) for r in usage.values()), 6)
        provenance = {"generation": {"generators": [asdict(g) for g in self.config.generators], "usage": usage,
                                     "total": total, "sent_this_run": dict(self.sent)}}
        return candidates, provenance
