"""A log file and how it is recognised: where it and its rotated copies are, and the fingerprint
(hash of its first bytes and first line) a cursor keeps to find it again."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Any, Literal

from collectors import log_generations
from collectors.base import Cursor
from collectors.logfiles.fields import FINGERPRINT_BYTES, FieldMap


@dataclass(frozen=True)
class LogSource:
    """One log file: where it is, its format, where its rotated copies go, its field mapping."""

    name: str
    path: str
    format: Literal["jsonl", "csv"]
    fields: FieldMap
    rotated: tuple[str, ...] = ()  # glob patterns of rotated copies besides {path}.1, {path}.2…
    system: str | None = None  # source system of its sync attempts (default: the name)
    delimiter: str = ","

    def generations(self) -> list[Path]:
        """The file's rotated copies, oldest first (`collectors.log_generations`)."""
        return log_generations.generations(self.path, self.rotated)


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    size: int


def fingerprint(handle: BufferedReader, size: int | None = None) -> Fingerprint:
    """SHA-256 of the first ``size`` bytes (default: up to 1 KiB) of an open file.

    The file position is left where it was."""
    position = handle.tell()
    handle.seek(0)
    head = handle.read(FINGERPRINT_BYTES if size is None else size)
    handle.seek(position)
    return Fingerprint(hashlib.sha256(head).hexdigest(), len(head))


def fingerprinted(saved: Cursor) -> bool:
    """Whether the saved cursor identifies its file (an empty file's fingerprint matches any)."""
    return int(saved.get("fp_bytes", 0)) > 0


def identity_of(handle: BufferedReader, where: Path, lines: int) -> dict[str, Any]:
    """The read file's first-line hash and modification time (the ``.gz``'s when gzip'd)."""
    first = first_line_hash(handle, lines)
    try:
        found = where.stat() if where.suffix == ".gz" else os.fstat(handle.fileno())
    except OSError:
        return {"first_line": first, "mtime_ns": 0}
    return {"first_line": first, "mtime_ns": found.st_mtime_ns}


def first_line_hash(handle: BufferedReader, lines: int) -> str:
    """SHA-256 (32 hex digits) of the file's first ``lines`` lines (2 for CSV: the header and
    the first record), each read up to 1 KiB."""
    position = handle.tell()
    handle.seek(0)
    head = b"".join(handle.readline(FINGERPRINT_BYTES) for _ in range(lines))
    handle.seek(position)
    return hashlib.sha256(head).hexdigest()[:32]


def same_file(handle: BufferedReader, saved: Cursor) -> bool:
    size = int(saved.get("fp_bytes", 0))
    found = fingerprint(handle, size)
    return found.size == size and found.digest == saved.get("fingerprint")


def is_behind(cursor: Cursor, saved: Cursor, handle: BufferedReader) -> bool:
    """True when ``cursor`` is in the saved file before the saved offset (a backfill)."""
    return same_file(handle, saved) and int(cursor["offset"]) < int(saved.get("offset", 0))


def open_file(path: Path) -> BufferedReader | None:
    try:
        return path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        return None
