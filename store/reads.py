"""Set-shaped reads of the event store: conditions over many ids, links between objects.

Every reader takes ``ids=None`` to mean *all* (a full rebuild) or a collection of ids (an
incremental refresh), which it reads in chunks (`among`): SQLite binds each chunk's values, and
PostgreSQL gets one array parameter per chunk, so every chunk is the same statement to prepare.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Connection, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from store.tables import ObjectLink

CHUNK = 500
PG_CHUNK = 10_000
_T = TypeVar("_T")
Ids = Collection[int] | None
SyncGroup = tuple[str, str, date]  # integration, flow, day: one group of sync attempts


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector around bulk row work (a batch written, cases refreshed):
    the rows are plain tuples and dicts without cycles, which reference counting frees, and the
    collector would otherwise walk every live object again and again as tens of thousands of
    them are made — a third of the time or more."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def chunked(values: Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """`values` in lists of at most `size` (sorted when possible, for stable plans)."""
    items = list(values)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def among(conn: Connection, column: Any, values: Iterable[Any]) -> Iterator[ColumnElement[bool]]:
    """Conditions "`column` is one of `values`", one per chunk of the sorted values."""
    if conn.dialect.name == "postgresql":
        for part in chunked(sorted(values), PG_CHUNK):
            yield column == any_(bindparam(None, part, type_=ARRAY(column.type)))
        return
    for part in chunked(sorted(values)):
        yield column.in_(part)


def filtered(conn: Connection, query: Any, column: Any, ids: Ids) -> Iterator[Any]:
    if ids is None:
        yield query
        return
    for condition in among(conn, column, ids):
        yield query.where(condition)


def links_from(conn: Connection, ids: Ids, qualifier: str) -> list[tuple[int, int]]:
    """(from, to) pairs of `qualifier` links leaving `ids`."""
    query = select(ObjectLink.from_object_id, ObjectLink.to_object_id).where(
        ObjectLink.qualifier == str(qualifier)
    )
    return [
        (a, b)
        for q in filtered(conn, query, ObjectLink.from_object_id, ids)
        for a, b in conn.execute(q)
    ]


def links_to(conn: Connection, ids: Ids, qualifier: str) -> list[tuple[int, int]]:
    """(from, to) pairs of `qualifier` links arriving at `ids`."""
    query = select(ObjectLink.from_object_id, ObjectLink.to_object_id).where(
        ObjectLink.qualifier == str(qualifier)
    )
    return [
        (a, b)
        for q in filtered(conn, query, ObjectLink.to_object_id, ids)
        for a, b in conn.execute(q)
    ]
