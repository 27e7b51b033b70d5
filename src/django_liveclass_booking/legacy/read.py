"""Reading an export: a JSON document, or a folder of CSV files, into plain row dicts per table.

Nothing here looks inside a row; a file that cannot be read as an export at all raises
:class:`LegacyImportError`, the only error that stops an import before it starts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

#: The export's tables, in the order they are planned and reported.
TABLES = ("sessions", "bookings", "one_on_one_bookings")

Rows = dict[str, list[Any]]


class LegacyImportError(Exception):
    """The export as a whole cannot be read (missing file, malformed JSON, wrong shape)."""


def read_export(path: str | Path) -> Rows:
    """Read a JSON export file, or a folder of ``<table>.csv`` files, into rows per table.

    A table missing from the document (or a missing CSV file) is empty. Raises
    ``LegacyImportError`` when the path cannot be read or is not an export at all.
    """
    source = Path(path)
    if source.is_dir():
        return _read_csv_folder(source)
    if not source.exists():
        raise LegacyImportError(f"{source}: no such file or folder.")
    return _read_json(source)


def _read_json(source: Path) -> Rows:
    try:
        document = json.loads(source.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise LegacyImportError(f"{source}: cannot read it ({exc.strerror or exc}).") from exc
    except UnicodeDecodeError as exc:
        raise LegacyImportError(f"{source}: not UTF-8 text ({exc.reason}).") from exc
    except json.JSONDecodeError as exc:
        raise LegacyImportError(
            f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc
    if not isinstance(document, dict):
        raise LegacyImportError(f"{source}: expected a JSON object with {', '.join(TABLES)}; "
                                f"got {type(document).__name__}.")
    rows: Rows = {}
    for table in TABLES:
        value = document.get(table) or []
        if not isinstance(value, list):
            raise LegacyImportError(f"{source}: {table!r} must be a list of rows, not {type(value).__name__}.")
        rows[table] = value
    return rows


def _read_csv_folder(folder: Path) -> Rows:
    files = {table: folder / f"{table}.csv" for table in TABLES}
    if not any(file.exists() for file in files.values()):
        raise LegacyImportError(f"{folder}: none of {', '.join(f'{t}.csv' for t in TABLES)} is in this folder.")
    rows: Rows = {}
    for table, file in files.items():
        if not file.exists():
            rows[table] = []
            continue
        try:
            # utf-8-sig: spreadsheets often save a byte order mark.
            with file.open(encoding="utf-8-sig", newline="") as handle:
                rows[table] = [_blank_is_missing(row) for row in csv.DictReader(handle)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise LegacyImportError(f"{file}: cannot read it ({exc}).") from exc
    return rows


def _blank_is_missing(row: dict[str | None, Any]) -> dict[str, Any]:
    # CSV has no null: an empty cell is a missing value, as an absent key is in JSON.
    return {key: (None if value in ("", None) else value) for key, value in row.items() if key is not None}
