"""Importing prompt templates written elsewhere into a pool file: the PAFT authors' released spreadsheets
(``prompts/robust_{train,test}dataset_*.xlsx``: one template per row under a ``text`` header, literal ``\\n`` for line
breaks, placeholders named after the dataset's fields), or plain CSV / JSON-lines files of templates.

Every row goes through what any pool prompt goes through: placeholders renamed to the task's fields where asked
(``--map question=goal``), escapes decoded and the text normalised, then validated (placeholders, safety, answer
format; :func:`paft_ext.pools.validate.validate`). Exact duplicates after normalisation are dropped and counted
(the authors' WinoGrande train sheet repeats 24 rows). Each imported prompt records where it came from (file, row
and the caller's note); ids are content hashes, so re-importing a reordered sheet gives the same ids. Nothing of
the authors' is shipped: the importer reads the user's copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from paft_ext.data_files import read_csv, read_jsonl
from paft_ext.tasks import PLACEHOLDER, TaskSpec

from .store import PoolError, Prompt, text_hash
from .validate import validate

FORMATS = (".xlsx", ".csv", ".jsonl")


@dataclass
class ImportResult:
    prompts: list[Prompt] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)  # {"origin", "text", "reasons"}
    duplicates: int = 0
    empty: int = 0


def read_templates(path: Path, column: str = "text") -> list[tuple[str, str]]:
    """(``<file>:<row>``, raw text) for every row of ``path``'s ``column`` (xlsx: the first sheet, its first row
    the header; CSV: the header row; JSONL: a key of each object); empty cells give ''."""
    path = Path(path)
    if not path.is_file():
        raise PoolError(f"{path}: file not found")
    if path.suffix not in FORMATS:
        raise PoolError(f"{path}: import reads {', '.join(FORMATS)} files")
    if path.suffix == ".jsonl":
        rows = []
        for lineno, row in read_jsonl(path, PoolError):
            if not isinstance(row, dict) or not isinstance(row.get(column, ""), str):
                raise PoolError(f"{path}:{lineno}: expected an object with a string {column!r}")
            rows.append((f"{path}:{lineno}", row.get(column, "")))
        return rows
    if path.suffix == ".csv":
        table = read_csv(path, PoolError)
        if table and column not in table[0][1]:
            raise PoolError(f"{path}: no column {column!r} (columns: {', '.join(table[0][1])})")
        return [(origin, row.get(column) or "") for origin, row in table]
    return _xlsx_rows(path, column)


def _xlsx_rows(path: Path, column: str) -> list[tuple[str, str]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        cells = list(sheet.iter_rows(values_only=True))
    except (BadZipFile, InvalidFileException, OSError, KeyError, ValueError) as err:
        raise PoolError(f"{path}: not a readable xlsx workbook ({err})") from None
    if not cells:
        raise PoolError(f"{path}: the first sheet is empty")
    header = [str(c).strip() if c is not None else "" for c in cells[0]]
    if column not in header:
        raise PoolError(f"{path}: no column {column!r} in the first row (found: {', '.join(h for h in header if h)})")
    at = header.index(column)
    return [(f"{path}:{row_number}", "" if len(row) <= at or row[at] is None else str(row[at]))
            for row_number, row in enumerate(cells[1:], start=2)]


def parse_mapping(items: list[str], task: TaskSpec) -> dict[str, str]:
    """``name=field`` pairs: a placeholder ``{name}`` of the imported text becomes the task's ``{field}``."""
    mapping = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise PoolError(f"--map {item!r}: write name=field")
        if target not in task.fields:
            raise PoolError(f"--map {item!r}: {target!r} is not a field of {task.name} ({', '.join(task.fields)})")
        mapping[name] = target
    return mapping


def import_templates(rows: list[tuple[str, str]], task: TaskSpec, mapping: Mapping[str, str],
                     note: str = "") -> ImportResult:
    """Rename, normalise, validate and de-duplicate ``rows`` (from :func:`read_templates`) for ``task``."""
    result, seen = ImportResult(), set()
    for origin, raw in rows:
        if not raw.strip():
            result.empty += 1
            continue
        renamed = PLACEHOLDER.sub(lambda m: "{" + mapping.get(m[1], m[1]) + "}", raw)
        verdict = validate(renamed, task)
        if not verdict.ok:
            result.rejects.append({"origin": origin, "text": raw, "reasons": list(verdict.reasons)})
            continue
        if verdict.text in seen:
            result.duplicates += 1
            continue
        seen.add(verdict.text)
        where = f"{Path(origin.rsplit(':', 1)[0]).name} row {origin.rsplit(':', 1)[1]}"
        result.prompts.append(Prompt(f"imp-{text_hash(verdict.text)[:12]}", verdict.text,
                                     f"imported:{where}" + (f" ({note})" if note else "")))
    return result


def rejects_text(result: ImportResult, shown: int = 5) -> str:
    lines = [f"{r['origin']}: {'; '.join(r['reasons'])}" for r in result.rejects[:shown]]
    more = len(result.rejects) - shown
    return "\n".join(lines) + (f"\n… and {more} more" if more > 0 else "")


def write_rejects(path: Path, result: ImportResult) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.rejects), encoding="utf-8")
