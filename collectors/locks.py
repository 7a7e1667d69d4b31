"""One run of a collector at a time, across processes: PostgreSQL advisory locks, or file locks
next to a SQLite database."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from store.canonical import stable_id

_memory_locks: dict[str, threading.Lock] = {}


def lock_key(collector: str) -> int:
    """The 31-bit advisory-lock key of a collector (paired with the schema's hash)."""
    return stable_id("collector-lock", collector) % 2**31


@contextmanager
def collector_lock(engine: Engine, collector: str) -> Iterator[bool]:
    """Try to take the collector's lock without waiting; yields whether it was taken."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, collector) as taken:
            yield taken
        return
    path = _sqlite_path(engine)
    if path is None:
        lock = _memory_locks.setdefault(collector, threading.Lock())
        taken = lock.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                lock.release()
        return
    with _file_lock(path.with_name(f"{path.name}.{collector}.lock")) as taken:
        yield taken


@contextmanager
def _advisory_lock(engine: Engine, collector: str) -> Iterator[bool]:
    key = lock_key(collector)
    with engine.connect() as conn:
        # Keyed by collector and schema: stores in other schemas of one database do not share it.
        taken = bool(
            conn.execute(
                text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"), {"k": key}
            ).scalar()
        )
        conn.commit()
        try:
            yield taken
        finally:
            if taken:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"), {"k": key}
                )
                conn.commit()


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(database)
