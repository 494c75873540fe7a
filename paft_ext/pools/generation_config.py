"""The generator file of ``paft-ext pools generate`` (YAML or JSON): which OpenAI-compatible endpoints and models
write candidate prompts, with which sampling settings and how many requests per strategy. Checked on load; every
error names the file and key, and a key written into the file is refused (name its environment variable instead)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from paft_ext.core.keys import unknown_keys
from paft_ext.data_files import read_yaml

STRATEGIES = ("few_shot", "zero_shot")


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
    completions_per_request: int = 1  # the API's `n`: sampled answers per request (servers batch them)
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1500
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None

    def __post_init__(self) -> None:
        for name in ("name", "base_url", "model", "api_key_env"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise GenerationError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        for name, kind, low in (("prompts_per_request", int, 1), ("completions_per_request", int, 1),
                                ("temperature", float, 0), ("top_p", float, 0), ("max_tokens", int, 1)):
            _check_number(name, getattr(self, name), kind, low)
        for name in ("price_per_1k_input", "price_per_1k_output"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), float, 0)
        if not isinstance(self.requests, dict) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in self.requests.values()):
            raise GenerationError(f"requests must map strategies to request counts >= 0, got {self.requests!r}")


@dataclass(frozen=True)
class GenerationConfig:
    generators: tuple[GeneratorSpec, ...]
    concurrency: int = 4
    max_retries: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 120.0
    meta_prompts: dict[str, str] = field(default_factory=dict)  # strategy -> path of a user jinja2 template

    def __post_init__(self) -> None:
        for name, kind, low in (("concurrency", int, 1), ("max_retries", int, 0), ("backoff_seconds", float, 0),
                                ("timeout_seconds", float, 1e-3)):
            _check_number(name, getattr(self, name), kind, low)
        if not isinstance(self.meta_prompts, dict):
            raise GenerationError(f"meta_prompts must be a mapping strategy -> file, got {self.meta_prompts!r}")


def _check_number(name: str, value: Any, kind: type, low: float) -> None:
    """``value`` is a ``kind`` (an int also serves as a float, a bool never) and at least ``low``."""
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok or value < low:
        raise GenerationError(f"{name} must be {'an integer' if kind is int else 'a number'} >= {low:g}, "
                              f"got {value!r}")


def _typed(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise GenerationError(f"{where}: expected a mapping")
    problem = unknown_keys(raw, (f.name for f in fields(cls)))
    if problem:
        raise GenerationError(f"{where}: {problem}")
    try:
        return cls(**raw)
    except (TypeError, GenerationError) as err:
        raise GenerationError(f"{where}: {err}") from None


def load_generation_config(path: str | Path) -> GenerationConfig:
    """Read and check a generator file; errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"{path}: generator config not found")
    raw = read_yaml(path, GenerationError)
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
