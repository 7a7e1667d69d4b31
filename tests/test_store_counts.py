"""The running counts the write path keeps (`store.counts`) equal counting the tables, after random
batches, re-deliveries and changed objects, on SQLite and PostgreSQL; the recount agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    ObjectRow,
    ObjectType,
    QuarantineRow,
    SyncAttemptRow,
    SyncStatus,
)
from store.counts import ACTIVITIES, OBJECTS, QUARANTINED, SYNC_ATTEMPTS, counts, recount
from store.tables import Base, Event, Object, Quarantine, SyncAttempt
from store.write import write_batch

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEMS = ("crm", "erp")
TYPES = (ObjectType.DEAL, ObjectType.INVOICE)
ACTS = (Activity.DEAL_WON, Activity.INVOICE_POSTED)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    keys = st.integers(0, 6).map(str)
    objects, events, attempts, quarantined = [], [], [], []
    for _ in range(draw(st.integers(0, 4))):
        system, kind = draw(st.sampled_from(SYSTEMS)), draw(st.sampled_from(TYPES))
        key = draw(keys)
        objects.append(ObjectRow(kind, system, key, amount=Decimal(draw(st.integers(1, 9)))))
        if draw(st.booleans()):
            at = T0 + timedelta(hours=draw(st.integers(0, 1000)))
            ref = EventObject(system, kind, key, "subject")
            events.append(EventRow(draw(st.sampled_from(ACTS)), at, system, key, (ref,)))
    for _ in range(draw(st.integers(0, 2))):
        key = draw(keys)
        status = SyncStatus.SUCCESS
        at = T0 + timedelta(hours=int(key))
        attempts.append(SyncAttemptRow("ipaas", key, "n8n", "flow", status, at))
    for _ in range(draw(st.integers(0, 2))):
        collector = draw(st.sampled_from(("a", "b")))
        quarantined.append(QuarantineRow(collector, "s", "bad", {"x": 1}, draw(keys)))
    return Batch(objects=objects, events=events, sync_attempts=attempts, quarantined=quarantined)


def _expected(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    o, e, q = Object, Event, Quarantine
    with engine.connect() as conn:
        attempts = int(conn.execute(select(func.count()).select_from(SyncAttempt)).scalar_one())
        return {
            OBJECTS: sorted(
                (t, s, n, None, None)
                for t, s, n in conn.execute(
                    select(o.type, o.source_system, func.count()).group_by(o.type, o.source_system)
                )
            ),
            ACTIVITIES: sorted(
                (a, "", n, lo, hi)
                for a, n, lo, hi in conn.execute(
                    select(
                        e.activity, func.count(), func.min(e.occurred_at), func.max(e.occurred_at)
                    ).group_by(e.activity)
                )
            ),
            SYNC_ATTEMPTS: [("", "", attempts, None, None)] if attempts else [],
            QUARANTINED: sorted(
                (c, "", n, None, None)
                for c, n in conn.execute(select(q.collector, func.count()).group_by(q.collector))
            ),
        }


def _stored(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {k: counts(conn, k) for k in (OBJECTS, ACTIVITIES, SYNC_ATTEMPTS, QUARANTINED)}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(log=st.lists(batches(), min_size=1, max_size=6), again=st.lists(st.integers(0, 5)))
def test_running_counts_equal_counting_the_tables(
    engine: Engine, log: list[Batch], again: list[int]
) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    for batch in [*log, *(log[i % len(log)] for i in again)]:  # re-deliveries count nothing
        write_batch(engine, batch)
        assert _stored(engine) == _expected(engine)
    with engine.begin() as conn:
        recount(conn)
    assert _stored(engine) == _expected(engine)
