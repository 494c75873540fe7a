"""Reading and writing the files users hand in and the project writes — JSON lines (data records, prompt pools),
YAML, CSV, text. Reads raise errors that name the file and line (also for bytes that are not UTF-8, in any text file
read through :func:`read_text`); writes are atomic (a killed process never leaves half a data file or pool behind)."""

from __future__ import annotations

import csv
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


def read_yaml(path: Path, error: type[Exception] = ValueError) -> Any:
    """The parsed YAML of ``path``; bytes that are not UTF-8 or text that is not YAML raise ``error`` naming it."""
    import yaml

    try:
        return yaml.safe_load(read_text(path, error))
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None


def read_csv(path: Path, error: type[Exception] = ValueError) -> list[tuple[str, dict[str, Any]]]:
    """(``<file>:<line>``, row) per CSV record, the header naming the columns."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = []
        try:
            if not reader.fieldnames:  # reading the header decodes the file's first bytes: inside the try
                raise error(f"{path}: empty CSV (no header row)")
            for row in reader:
                if None in row:
                    raise error(f"{path}:{reader.line_num}: more cells than the header's {len(reader.fieldnames)}")
                rows.append((f"{path}:{reader.line_num}", dict(row)))
        except (csv.Error, UnicodeDecodeError) as err:
            raise error(f"{path}:{reader.line_num}: not readable CSV ({err})") from None
    return rows


def typed_cell(value: str) -> str | int | float | bool | None:
    """A cell of a CSV that :func:`write_csv` wrote, back as the Python value written: empty -> None (``csv`` writes
    None as an empty cell), ``True``/``False`` -> bool, an integer -> int, a number -> float (``nan`` included),
    anything else -> the text. A committed results CSV read this way rebuilds its tables without its run folders."""
    if value == "":
        return None
    if value in ("True", "False"):
        return value == "True"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


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


def write_text(path: Path, text: str) -> None:
    """``text`` to ``path`` via a temporary file and an atomic rename; parents are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_lines(path: Path, lines: list[str]) -> None:
    """``lines`` (newline-terminated) to ``path``, atomically (:func:`write_text`)."""
    write_text(path, "".join(line + "\n" for line in lines))


def write_csv(path: Path, rows: list[dict], fieldnames: list[str] | tuple[str, ...] | None = None) -> None:
    """Rows as CSV with a header (``fieldnames``, default the first row's keys; other keys left out), atomically."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames or rows[0]), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def write_jsonl(path: Path, rows: list[Any]) -> None:
    """One JSON value per line (UTF-8 as is, not escaped), atomically."""
    write_lines(path, [json.dumps(row, ensure_ascii=False) for row in rows])
