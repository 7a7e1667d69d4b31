"""The values the sidebar filters offer (`case_dimensions`), kept beside the case facts so that
a page reads a few hundred rows instead of scanning every case of history for them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from store.db import upsert_insert
from store.tables import CaseDimension

DIMENSIONS = ("legal_entity", "practice", "customer")


def offered(rows: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(dimension, value) pairs the case rows carry (empty values offer nothing)."""
    return {(name, str(row[name])) for row in rows for name in DIMENSIONS if row.get(name)}


def offer(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add the values `rows` carry to the filters' values (those already there are kept)."""
    pairs = sorted(offered(rows))
    if not pairs:
        return
    insert = upsert_insert(conn)
    conn.execute(
        insert(CaseDimension).on_conflict_do_nothing(),
        [{"dimension": d, "value": v} for d, v in pairs],
    )
