"""One line of a log file as the record the runner stores or quarantines: a JSON object or a CSV
row under its header, or the reason it is neither."""

from __future__ import annotations

import csv
import hashlib
import json
from io import BufferedReader
from pathlib import Path

from collectors.base import Record
from collectors.errors import SchemaDrift
from collectors.logfiles.fields import REQUIRED_FIELDS
from collectors.logfiles.files import LogSource


def read_header(handle: BufferedReader, source: LogSource) -> tuple[list[str], int] | None:
    """The CSV header and where it ends; None until its line is complete."""
    handle.seek(0)
    first = handle.readline()
    if not first.endswith(b"\n"):
        return None
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    header = next(csv.reader([text], delimiter=source.delimiter))
    name = Path(source.path).name
    twice = sorted({column for column in header if header.count(column) > 1})
    if twice:
        raise SchemaDrift(
            f"the CSV header of {name} names {', '.join(twice)} twice: which column is meant"
            " is unclear; fix the export"
        )
    m = source.fields
    lacking = [
        f"{m.columns[f]} ({f})"
        for f in REQUIRED_FIELDS
        if f in m.columns and m.columns[f] not in header and f not in m.defaults
    ]
    if lacking:
        raise SchemaDrift(
            f"the CSV header of {name} lacks {', '.join(lacking)}: every line would be"
            " refused; fix the export or the field mapping"
        )
    return header, len(first)


def parse_line(
    raw: bytes, line: int, where: Path, header: list[str] | None, source: LogSource
) -> Record | None:
    """The envelope the runner stores or quarantines: id, line number, file, fields."""
    text_line = raw.rstrip(b"\r")
    if not text_line.strip():
        return None
    key = "sha256:" + hashlib.sha256(text_line).hexdigest()[:32]
    envelope: Record = {"id": key, "line": line, "file": where.name}
    try:
        decoded = text_line.decode("utf-8")
    except UnicodeDecodeError:
        return {
            **envelope,
            "text": text_line.decode("utf-8", "replace"),
            "error": "not valid UTF-8",
        }
    envelope["text"] = decoded
    if source.format == "jsonl":
        try:
            parsed = json.loads(decoded.removeprefix("\ufeff"))  # a BOM at the file's start
        except json.JSONDecodeError as exc:
            return {**envelope, "error": f"not valid JSON ({exc.msg})"}
        except RecursionError:
            return {**envelope, "error": "not valid JSON (nested too deeply)"}
        if not isinstance(parsed, dict):
            return {**envelope, "error": "not a JSON object"}
        return {**envelope, "fields": parsed}
    if not header:
        return {**envelope, "error": "the CSV file has no header line"}
    try:
        row = next(csv.reader([decoded], delimiter=source.delimiter))
    except csv.Error as exc:
        return {**envelope, "error": f"not valid CSV ({exc})"}
    if len(row) != len(header):
        problem = f"has {len(row)} CSV fields, the header has {len(header)}"
        return {**envelope, "error": problem}
    return {**envelope, "fields": dict(zip(header, row, strict=True))}
