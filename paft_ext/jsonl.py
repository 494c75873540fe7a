"""Reading and writing JSON-lines files: reads raise errors that name the file and line (also for bytes that are not
UTF-8, in any text file read through :func:`read_text`), writes are atomic (a killed process never leaves half a
data file or pool behind). Data records and prompt pools alike."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _decoded(path: Path, lineno: int, raw: bytes, error: type[Exception]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}:{lineno}: not UTF-8 (byte {raw[err.start]:#04x} at column {err.start + 1})") from None


def read_text(path: Path, error: type[Exception] = ValueError) -> str:
    """The UTF-8 text of ``path``; bytes that are not UTF-8 raise ``error`` naming the file and line."""
    with Path(path).open("rb") as handle:
        return "".join(_decoded(path, lineno, raw, error) for lineno, raw in enumerate(handle, start=1))


def read_jsonl(path: Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; a broken line (not JSON, not UTF-8) raises ``error``
    naming it."""
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = _decoded(path, lineno, raw, error)
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as err:
                raise error(f"{path}:{lineno}: not valid JSON ({err.msg})") from None


def write_lines(path: Path, lines: list[str]) -> None:
    """``lines`` (newline-terminated) to ``path`` via a temporary file and an atomic rename; parents are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: Path, rows: list[Any]) -> None:
    """One JSON value per line (UTF-8 as is, not escaped), atomically."""
    write_lines(path, [json.dumps(row, ensure_ascii=False) for row in rows])
