"""Generating candidate prompts with several LLMs over OpenAI-compatible APIs.

* Generators come from a YAML/JSON file (:mod:`.generation_config`): base URL, the *name* of the environment
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
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jinja2

from paft_ext.data_files import read_text
from paft_ext.tasks import TaskSpec

from .build import Candidate
from .compose import few_shot_examples, task_parts
from .generation_config import STRATEGIES, GenerationConfig, GenerationError, GeneratorSpec
from .replies import echoes_meta_prompt, parse_templates, rename_placeholders, trim_echoes

# Register hints cycled over a generator's requests (``style`` in the meta-prompt), so that requests differ in more
# than their seed: small models otherwise return near-identical templates.
STYLES = ("terse", "verbose and formal", "friendly and conversational", "like an exam question",
          "addressing the reader as 'you'", "a numbered list of instructions", "one single question",
          "the instruction after the data", "the answer instruction first")
META_PROMPT_DIR = Path(__file__).parent / "metaprompts"


class MalformedResponse(Exception):
    """A reply that is not a usable chat completion (retried like a transient error)."""


def _reply_result(reply: Any) -> dict:
    """Texts and token counts of a chat completion; anything else (an HTML page, ``choices: []``, null content)
    raises :class:`MalformedResponse` saying what was wrong."""
    choices = getattr(reply, "choices", None)
    if not isinstance(choices, list):
        raise MalformedResponse(f"the body is not a chat completion (got {type(reply).__name__})")
    if not choices:
        raise MalformedResponse("'choices' is empty")
    texts = [getattr(getattr(choice, "message", None), "content", None) for choice in choices]
    if any(not isinstance(t, str) for t in texts):
        raise MalformedResponse("a choice has no message content (null)")
    usage = getattr(reply, "usage", None)
    return {"texts": texts, "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
            "completion_tokens": getattr(usage, "completion_tokens", 0) or 0}


@dataclass(frozen=True)
class Request:
    generator: GeneratorSpec
    strategy: str
    index: int
    messages: tuple[dict[str, str], ...]

    @property
    def payload(self) -> dict:
        g = self.generator
        payload = {"base_url": g.base_url, "model": g.model, "messages": list(self.messages), "seed": self.index,
                   "temperature": g.temperature, "top_p": g.top_p, "max_tokens": g.max_tokens}
        return {**payload, "n": g.completions_per_request} if g.completions_per_request > 1 else payload

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.payload, sort_keys=True).encode()).hexdigest()


def meta_prompt(strategy: str, config: GenerationConfig) -> jinja2.Template:
    """The jinja2 meta-prompt of ``strategy``: the config's own file for it, else the package's."""
    path = Path(config.meta_prompts.get(strategy, META_PROMPT_DIR / f"{strategy}.j2"))
    if not path.is_file():
        raise GenerationError(f"meta-prompt for {strategy} not found: {path}")
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
        path.read_text(encoding="utf-8"))


class _ShownTask:
    """The task as meta-prompts show it: its placeholders under their readable ``generation_names``."""

    def __init__(self, task: TaskSpec) -> None:
        self._task = task
        self.fields = tuple(task.generation_names.get(f, f) for f in task.fields)
        self.field_roles = {task.generation_names.get(f, f): role for f, role in task.field_roles.items()}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


def plan_requests(task: TaskSpec, config: GenerationConfig) -> list[Request]:
    templates = {s: meta_prompt(s, config) for s in STRATEGIES}
    examples = [rename_placeholders(e, dict(task.generation_names)) for e in few_shot_examples(task_parts(task))]
    shown = _ShownTask(task)
    requests = []
    for gen in config.generators:
        for strategy, count in gen.requests.items():
            for i in range(count):
                text = templates[strategy].render(task=shown, examples=examples, n=gen.prompts_per_request,
                                                  style=STYLES[i % len(STYLES)])
                requests.append(Request(gen, strategy, i, ({"role": "user", "content": text},)))
    return requests


def _redacted(text: str, key: str | None) -> str:
    """``text`` without the API key: servers echo it in error bodies (a 401's "invalid key sk-…"), and error messages
    reach terminals and CI logs."""
    return text.replace(key, "[API key redacted]") if key and len(key) >= 4 else text


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
                     openai.InternalServerError, MalformedResponse)
        where = f"generator {gen.name} at {gen.base_url}, request {request.key[:16]}"
        for attempt in range(self.config.max_retries + 1):
            try:
                with self._lock:
                    self.sent[gen.name] = self.sent.get(gen.name, 0) + 1
                p = request.payload
                try:
                    reply = client.chat.completions.create(model=p["model"], messages=p["messages"], seed=p["seed"],
                                                           temperature=p["temperature"], top_p=p["top_p"],
                                                           max_tokens=p["max_tokens"], n=p.get("n", 1))
                except (openai.APIResponseValidationError, json.JSONDecodeError) as err:
                    raise MalformedResponse(f"the body is not a chat completion ({type(err).__name__})") from None
                return _reply_result(reply)
            except retryable as err:
                if attempt == self.config.max_retries:
                    what = f"malformed response: {err}" if isinstance(err, MalformedResponse) else \
                        f"{type(err).__name__}: {err}"
                    raise GenerationError(_redacted(f"{where}: {what} (after {attempt + 1} attempt(s))", client.api_key)
                                          ) from None
                time.sleep(self._backoff(attempt, err))
            except openai.APIStatusError as err:
                raise GenerationError(_redacted(f"{where}: HTTP {err.status_code}: {err.message}", client.api_key)
                                      ) from None
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, err: Exception) -> float:
        """Exponential backoff with up to 25 % jitter (parallel workers do not retry in lockstep), or the server's
        ``Retry-After`` when it asks for longer."""
        delay = self.config.backoff_seconds * 2**attempt * (1 + 0.25 * random.random())
        response = getattr(err, "response", None)
        try:
            asked = float(response.headers.get("retry-after", "")) if response is not None else 0.0
        except ValueError:
            asked = 0.0
        return max(delay, asked)

    def _cache_path(self, request: Request) -> Path:
        return self.cache_dir / f"{request.key}.json"

    def fetch(self, request: Request) -> tuple[dict, bool]:
        """(result, from_cache). A finished request is written to the cache atomically before it counts as done; a
        cache entry that cannot be read (truncated, edited, not UTF-8) is requested again, not fatal."""
        path = self._cache_path(request)
        if path.is_file():
            try:
                cached = json.loads(read_text(path))["result"]
                if isinstance(cached, dict) and ("texts" in cached or "text" in cached):
                    return cached, True
            except (ValueError, KeyError, TypeError):
                pass
        result = self._call(request)
        tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"request": request.payload, "result": result}, ensure_ascii=False),
                       encoding="utf-8")
        os.replace(tmp, path)
        return result, False

    def run(self, task: TaskSpec, *, cached_only: bool = False) -> tuple[list[Candidate], dict]:
        """All candidates from all generators, and the usage/provenance record for the manifest. ``cached_only``:
        use just the planned requests already answered in the cache (an interrupted run, no server needed)."""
        requests = plan_requests(task, self.config)
        if cached_only:
            requests = [r for r in requests if self._cache_path(r).is_file()]
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            results = list(pool.map(self.fetch, requests))
        back = {shown: f for f, shown in task.generation_names.items()}
        candidates: list[Candidate] = []
        usage: dict[str, dict] = {}
        records: list[dict] = []
        for request, (result, cached) in zip(requests, results, strict=True):
            gen = request.generator
            row = usage.setdefault(gen.name, {"model": gen.model, "requests": 0, "from_cache": 0,
                                              "prompt_tokens": 0, "completion_tokens": 0, "candidates": 0})
            row["requests"] += 1
            row["from_cache"] += cached
            row["prompt_tokens"] += result["prompt_tokens"]
            row["completion_tokens"] += result["completion_tokens"]
            row.setdefault("prompt_tokens_this_run", 0)
            row.setdefault("completion_tokens_this_run", 0)
            if not cached:  # tokens paid for in this run (a cached reply cost nothing now)
                row["prompt_tokens_this_run"] += result["prompt_tokens"]
                row["completion_tokens_this_run"] += result["completion_tokens"]
            texts = result["texts"] if "texts" in result else [result["text"]]  # "text": caches from before `n`
            parsed = [t for text in texts for t in parse_templates(text)]
            asked_text = request.messages[-1]["content"].replace(task.description, "\x02")  # may be reused
            source = f"llm:{gen.model}/{request.strategy}/temperature={gen.temperature}/request={request.key[:16]}"
            record = {"request": request.key[:16], "generator": gen.name, "strategy": request.strategy,
                      "temperature": gen.temperature, "cached": cached, "templates": 0,
                      "prompt_tokens": result["prompt_tokens"], "completion_tokens": result["completion_tokens"]}
            for template in parsed:
                if not echoes_meta_prompt(template, asked_text):
                    candidates.append(Candidate(rename_placeholders(template, back), source))
                    continue
                trimmed = trim_echoes(template, asked_text)
                if trimmed is None:
                    record.setdefault("echoes_dropped", []).append(template)
                else:
                    record.setdefault("echoes_trimmed", []).append(template)
                    candidates.append(Candidate(rename_placeholders(trimmed, back), source + "/echo-trimmed"))
            record["templates"] = len(parsed) - len(record.get("echoes_dropped", []))
            row["candidates"] += record["templates"]
            row["echoes_dropped"] = row.get("echoes_dropped", 0) + len(record.get("echoes_dropped", []))
            records.append(record)
        for gen in self.config.generators:
            row = usage.get(gen.name)
            if row and gen.price_per_1k_input is not None and gen.price_per_1k_output is not None:
                # cost: all replies this pool is built from (cumulative); cost_this_run: only what was sent now
                for suffix in ("", "_this_run"):
                    row[f"cost{suffix}"] = round(row[f"prompt_tokens{suffix}"] / 1000 * gen.price_per_1k_input
                                                 + row[f"completion_tokens{suffix}"] / 1000
                                                 * gen.price_per_1k_output, 6)
        total = {k: sum(r.get(k, 0) for r in usage.values())
                 for k in ("requests", "from_cache", "prompt_tokens", "completion_tokens", "prompt_tokens_this_run",
                           "completion_tokens_this_run", "candidates")}
        if any("cost" in r for r in usage.values()):
            for key in ("cost", "cost_this_run"):
                total[key] = round(sum(r.get(key, 0.0) for r in usage.values()), 6)
        provenance = {"generation": {"generators": [asdict(g) for g in self.config.generators], "usage": usage,
                                     "placeholder_names_shown": dict(task.generation_names),
                                     "total": total, "sent_this_run": dict(self.sent), "requests": records}}
        return candidates, provenance
