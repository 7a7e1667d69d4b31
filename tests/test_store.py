"""The write API: idempotent upserts, all-or-nothing batches with their cursor, UTC only."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from metrics.facts import write_and_refresh
from store.canonical import (
    Activity,
    Batch,
    ErrorClass,
    EventObject,
    EventRow,
    FxRateRow,
    LinkQualifier,
    LinkRow,
    NaiveTimestampError,
    ObjectRow,
    ObjectType,
    QuarantineRow,
    SyncAttemptRow,
    SyncStatus,
)
from store.tables import (
    Event,
    FxRate,
    Object,
    ObjectLink,
    Quarantine,
    SyncAttempt,
)
from store.tables import (
    EventObject as EventObjectModel,
)
from store.write import CursorUpdate, read_cursor

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def deal(key: str, amount: str = "1000.00", updated: datetime = T0, **kw: object) -> ObjectRow:
    return ObjectRow(
        type=ObjectType.DEAL,
        source_system="crm",
        source_key=key,
        customer="Acme",
        legal_entity="US",
        currency="USD",
        amount=Decimal(amount),
        attributes={"stage": "Closed Won", **kw},
        source_updated_at=updated,
    )


def won(key: str, at: datetime = T0) -> EventRow:
    return EventRow(
        activity=Activity.DEAL_WON,
        occurred_at=at,
        source_system="crm",
        source_key=f"hist-{key}",
        objects=(EventObject("crm", ObjectType.DEAL, key, "deal"),),
    )


def sample_batch(n: int = 3) -> Batch:
    batch = Batch()
    for i in range(n):
        batch.objects.append(deal(f"006{i:05d}"))
        batch.events.append(won(f"006{i:05d}", T0 + timedelta(minutes=i)))
        batch.links.append(
            LinkRow(
                "crm",
                ObjectType.DEAL,
                f"006{i:05d}",
                "psa",
                ObjectType.PROJECT,
                f"PRJ-{i}",
                LinkQualifier.PROVISIONS,
                "psa",
            )
        )
    batch.sync_attempts.append(
        SyncAttemptRow(
            source_system="ipaas",
            source_key="job-1",
            integration="crm-psa",
            flow="project_provisioning",
            status=SyncStatus.FAILED,
            started_at=T0,
            error_class=ErrorClass.VALIDATION,
            error_message="Customer has no tax id",
            trace_key="corr-1",
            payload={"tax_id": "DE123", "name": "Acme"},
        )
    )
    batch.fx_rates.append(FxRateRow(date(2026, 3, 2), "GBP", "USD", Decimal("1.2675")))
    return batch


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Object, Event, EventObjectModel, ObjectLink, SyncAttempt, FxRate, Quarantine)
        }


def test_the_same_batch_written_twice_leaves_one_copy(engine: Engine) -> None:
    first = write_and_refresh(engine, sample_batch())
    second = write_and_refresh(engine, sample_batch())
    assert (first.objects, first.events, first.event_objects, first.links) == (3, 3, 3, 3)
    assert (first.sync_attempts, first.fx_rates) == (1, 1)
    assert second.total == 0
    assert counts(engine) == {
        "objects": 3,
        "events": 3,
        "event_objects": 3,
        "object_links": 3,
        "sync_attempts": 1,
        "fx_rates": 1,
        "quarantine": 0,
    }


def test_duplicates_inside_one_batch_are_stored_once(engine: Engine) -> None:
    batch = sample_batch(2)
    batch.extend(sample_batch(2))
    result = write_and_refresh(engine, batch)
    assert (result.objects, result.events, result.links) == (2, 2, 2)


def test_a_newer_version_of_an_object_replaces_it_and_an_older_one_does_not(
    engine: Engine,
) -> None:
    write_and_refresh(engine, Batch(objects=[deal("006A", "1000", T0)]))
    newer = write_and_refresh(
        engine, Batch(objects=[deal("006A", "1500", T0 + timedelta(hours=1))])
    )
    older = write_and_refresh(engine, Batch(objects=[deal("006A", "900", T0 - timedelta(hours=1))]))
    assert (newer.objects, older.objects) == (1, 0)
    with Session(engine) as s:
        stored = s.scalars(select(Object)).one()
    assert stored.amount == Decimal("1500")
    assert stored.source_updated_at == T0 + timedelta(hours=1)


def test_a_batch_that_fails_midway_leaves_neither_rows_nor_a_moved_cursor(
    engine: Engine,
) -> None:
    write_and_refresh(
        engine, Batch(), CursorUpdate("crm", "opportunities", {"since": "2026-01-01"})
    )
    bad = sample_batch()
    # The last link has no qualifier: the database refuses it (NOT NULL) after the objects,
    # events and other links of the batch were already sent in the same transaction.
    bad.links.append(
        LinkRow("crm", ObjectType.DEAL, "x", "psa", ObjectType.PROJECT, "y", None, "psa")  # type: ignore[arg-type]
    )
    with pytest.raises(Exception, match=r"(?i)null"):
        write_and_refresh(
            engine, bad, CursorUpdate("crm", "opportunities", {"since": "2026-03-02"})
        )
    assert counts(engine)["objects"] == 0
    assert counts(engine)["events"] == 0
    assert read_cursor(engine, "crm", "opportunities") == {"since": "2026-01-01"}


def test_the_cursor_moves_with_the_rows_it_covers(engine: Engine) -> None:
    write_and_refresh(engine, sample_batch(), CursorUpdate("crm", "opportunities", {"since": "A"}))
    assert read_cursor(engine, "crm", "opportunities") == {"since": "A"}
    write_and_refresh(engine, Batch(), [CursorUpdate("crm", "opportunities", {"since": "B"})])
    assert read_cursor(engine, "crm", "opportunities") == {"since": "B"}
    assert read_cursor(engine, "crm", "unknown") is None


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda naive: won("006X", naive), "occurred_at"),
        (lambda naive: deal("006X", updated=naive), "source_updated_at"),
        (
            lambda naive: SyncAttemptRow(
                source_system="ipaas",
                source_key="j",
                integration="i",
                flow="f",
                status=SyncStatus.SUCCESS,
                started_at=naive,
            ),
            "started_at",
        ),
    ],
)
def test_naive_timestamps_are_refused_with_the_field_named(build: object, field: str) -> None:
    with pytest.raises(NaiveTimestampError, match=f"^{field} must be timezone-aware"):
        build(datetime(2026, 3, 2, 9, 30))  # type: ignore[operator]


def test_timestamps_are_stored_and_read_back_in_utc(engine: Engine) -> None:
    cet = timezone(timedelta(hours=1))
    write_and_refresh(engine, Batch(events=[won("006Z", datetime(2026, 3, 2, 10, 30, tzinfo=cet))]))
    with Session(engine) as s:
        occurred = s.scalars(select(Event.occurred_at)).one()
    assert occurred == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert occurred.utcoffset() == timedelta(0)


def test_sensitive_payload_fields_are_masked_before_they_are_stored(engine: Engine) -> None:
    batch = sample_batch(1)
    batch.quarantined.append(
        QuarantineRow(
            "crm",
            "opportunities",
            "Amount is not a number",
            {"Id": "006Q", "Amount": "abc", "Email": "cfo@acme.example"},
            "006Q",
        )
    )
    write_and_refresh(engine, batch)
    write_and_refresh(engine, Batch(quarantined=list(batch.quarantined)))
    with Session(engine) as s:
        payload = s.scalars(select(SyncAttempt.payload)).one()
        quarantined = s.scalars(select(Quarantine)).one()
    assert payload == {"tax_id": "***", "name": "Acme"}
    assert "cfo@acme.example" not in quarantined.raw and '"Amount": "abc"' in quarantined.raw
    assert quarantined.times_seen == 2


def test_a_100k_row_batch_goes_in_through_the_bulk_path(
    engine: Engine, record_property: object
) -> None:
    n = 25_000  # objects + events + event-object relations + links = 100,000 rows
    batch = Batch()
    for i in range(n):
        key = f"006{i:07d}"
        batch.objects.append(deal(key))
        batch.events.append(won(key, T0 + timedelta(seconds=i)))
        batch.links.append(
            LinkRow(
                "crm",
                ObjectType.DEAL,
                key,
                "psa",
                ObjectType.PROJECT,
                f"P{i}",
                LinkQualifier.PROVISIONS,
                "psa",
            )
        )
    started = time.perf_counter()
    result = write_and_refresh(engine, batch)
    elapsed = time.perf_counter() - started
    assert result.total == 4 * n
    again = write_and_refresh(engine, batch)
    assert again.total == 0
    assert counts(engine)["events"] == n
    record_property("rows_per_second", round(4 * n / elapsed))  # type: ignore[operator]
    rate = 4 * n / elapsed
    print(f"\n{engine.dialect.name}: {4 * n} rows in {elapsed:.2f}s = {rate:,.0f} rows/s")
