"""The store as row sets, for comparing a store that met faults with one that met none.

``snapshot`` reads every row of the event log's tables (all columns but the ingestion time, which
says when, not what) and every stream's cursor; ``compare`` counts the rows one store lacks (lost)
and the rows it has beyond the other (doubled, or changed: a changed row counts on both sides).
``TALLY`` adds up what the resilience tests did, for the summary printed at the end of a run.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from store.tables import (
    CollectorState,
    Event,
    EventObject,
    FxRate,
    Object,
    ObjectLink,
    SyncAttempt,
)

MODELS = (Object, Event, EventObject, ObjectLink, SyncAttempt, FxRate)
IGNORED = frozenset({"ingested_at"})
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Snapshot:
    """Every table's rows (as a multiset) and every stream's cursor."""

    tables: dict[str, Counter[Row]]
    cursors: dict[tuple[str, str], str]

    def size(self) -> int:
        return sum(sum(rows.values()) for rows in self.tables.values())


@dataclass
class Difference:
    """Rows lost and doubled per table, with a few examples of each."""

    lost: dict[str, int] = field(default_factory=dict)
    doubled: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def rows_lost(self) -> int:
        return sum(self.lost.values())

    @property
    def rows_doubled(self) -> int:
        return sum(self.doubled.values())


def _plain(value: Any) -> Any:
    return (
        json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value
    )


def snapshot(engine: Engine) -> Snapshot:
    """Read the store."""
    tables: dict[str, Counter[Row]] = {}
    with engine.connect() as conn:
        for model in MODELS:
            columns = [c for c in model.__table__.columns if c.name not in IGNORED]
            rows = conn.execute(select(*columns)).all()
            tables[model.__tablename__] = Counter(tuple(_plain(v) for v in row) for row in rows)
        cursors = {
            (c, s): _plain(v)
            for c, s, v in conn.execute(
                select(CollectorState.collector, CollectorState.stream, CollectorState.cursor)
            ).all()
        }
    return Snapshot(tables, cursors)


def compare(expected: Snapshot, actual: Snapshot) -> Difference:
    """What ``actual`` lacks and what it has beyond ``expected``, table by table."""
    diff = Difference()
    for name, rows in expected.tables.items():
        got = actual.tables.get(name, Counter())
        missing, extra = rows - got, got - rows
        diff.lost[name], diff.doubled[name] = sum(missing.values()), sum(extra.values())
        diff.examples += [f"{name} lost {row}" for row in list(missing)[:3]]
        diff.examples += [f"{name} extra {row}" for row in list(extra)[:3]]
    return diff


@dataclass
class Tally:
    """What the resilience tests of one process did."""

    schedules: int = 0
    passes: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    failed_runs: int = 0
    crash_points: int = 0
    kills: int = 0
    rows_compared: int = 0
    rows_lost: int = 0
    rows_doubled: int = 0

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {n}" for k, n in sorted(self.faults.items()))
        return [
            f"fault schedules: {self.schedules} ({self.passes} collection passes, "
            f"{self.failed_runs} failed or partial runs logged)",
            f"faults injected: {sum(self.faults.values())} ({faults or 'none'})",
            f"crash points: {self.crash_points} planned, {self.kills} SIGKILLs delivered",
            f"rows compared: {self.rows_compared}; lost {self.rows_lost}; "
            f"doubled {self.rows_doubled}",
        ]


TALLY = Tally()
