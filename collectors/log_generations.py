"""The rotated generations of a log file: finding them, ordering them, recognising one by its
fingerprint and opening it (decompressed when logrotate gzip'd it).

logrotate (and most tools after it) keep numbered generations — ``sync.log.1`` the newest,
``sync.log.2`` older, ``sync.log.3.gz`` once compressed (``compress``, usually with
``delaycompress``) — or dated ones with ``dateext`` (``sync.log-20260305``, maybe ``.gz``) or in
another directory (``olddir``), which a glob pattern names. ``copytruncate`` copies the live file
to ``sync.log.1`` and truncates it in place. A generation is recognised by the SHA-256 of its
first bytes (decompressed), never by its name, since every rotation renames them all.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import logging
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable
from io import BufferedReader
from pathlib import Path
from typing import Any

log = logging.getLogger("throughline.collectors")

#: Always searched: logrotate's numbered generations ``{path}.1``, ``{path}.2.gz``, …
NUMBERED = "{path}.[0-9]*"
_NUMBER = re.compile(r"\.(\d+)(?:\.gz)?")
_CHUNK = 1 << 16
#: What reading a damaged or half-written gzip file raises (gzip.BadGzipFile is an OSError).
_UNREADABLE = (OSError, EOFError, zlib.error)


def generations(path: str, patterns: Iterable[str] = ()) -> list[Path]:
    """The rotated copies of the log file at ``path``, oldest first.

    ``patterns`` are more glob patterns (``{path}`` is replaced by the escaped path) besides the
    numbered generations. A ``.gz`` whose uncompressed twin still exists is being written by
    the compressor and is left out; so are empty files, which hold nothing to read."""
    live = Path(path)
    found: set[Path] = set()
    for pattern in (NUMBERED, *patterns):
        found.update(Path(n) for n in glob.glob(pattern.format(path=glob.escape(path))))
    kept = [
        p
        for p in found
        if p != live and _size(p) > 0 and not (p.suffix == ".gz" and p.with_suffix("") in found)
    ]
    return sorted(kept, key=lambda p: order(live, p))


def order(live: Path, rotated: Path) -> tuple[int, int, str]:
    """Sort key, oldest first: named generations by name (``sync.log-20260305`` before
    ``sync.log-20260306``), then numbered ones by number, highest (oldest) first."""
    rest = rotated.name[len(live.name) :] if rotated.name.startswith(live.name) else ""
    numbered = _NUMBER.fullmatch(rest)
    if numbered:
        return (1, -int(numbered.group(1)), "")
    return (0, 0, rotated.name.removesuffix(".gz"))


def matches(path: Path, cursor: dict[str, Any]) -> bool:
    """Whether the first ``fp_bytes`` of ``path`` (decompressed) hash to the fingerprint."""
    size = int(cursor.get("fp_bytes", 0))
    head = _head(path, size) if size > 0 else None
    return (
        head is not None
        and len(head) == size
        and hashlib.sha256(head).hexdigest() == cursor.get("fingerprint")
    )


def tracked(candidates: list[Path], cursor: dict[str, Any]) -> int | None:
    """Index of the oldest generation the cursor's fingerprint matches; None when none does."""
    return next((i for i, p in enumerate(candidates) if matches(p, cursor)), None)


def modified_ns(path: Path) -> int:
    """The file's modification time in nanoseconds (0 when it is gone)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def open_generation(path: Path) -> BufferedReader | None:
    """A generation opened for reading; a gzip'd one is decompressed to a temporary file first,
    so seeking in it is cheap. None when it cannot be read (gone, or a damaged gzip file)."""
    if path.suffix != ".gz":
        try:
            return path.open("rb")
        except OSError:
            return None
    fd, name = tempfile.mkstemp(prefix="throughline-log-")
    try:
        with os.fdopen(fd, "wb") as plain, gzip.open(path, "rb") as packed:
            shutil.copyfileobj(packed, plain, _CHUNK)
        return Path(name).open("rb")  # the open handle keeps the unlinked file readable
    except _UNREADABLE as exc:
        log.warning("%s cannot be decompressed: %s", path, exc)
        return None
    finally:
        os.unlink(name)


def _head(path: Path, size: int) -> bytes | None:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as packed:
                return packed.read(size)
        with path.open("rb") as plain:
            return plain.read(size)
    except _UNREADABLE:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0
