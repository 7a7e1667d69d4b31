"""`import ocel` of a log from another tool (tests/importers/fixtures/foreign.ocel.json, plain
ids, its own names, mapped by foreign-ocel.yaml), as JSON and as OCEL 2.0 SQLite; and the
default mapping's details for Throughline's own export: nested attributes, event sources, sync
attempts and FX rates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from metrics.facts import write_and_refresh
from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    ObjectRow,
    ObjectType,
    object_id,
    stable_id,
)
from store.ocel_export import write_ocel
from store.tables import Event, FxRate, Object, ObjectLink, Quarantine, SyncAttempt
from store.tables import EventObject as EventObjectTable
from tests.importers.conftest import FIXTURES, counts, runs, to_ocel_sqlite
from throughline.importers import ImportFailed, MappingFileError, import_ocel, load_ocel_mapping

FOREIGN = FIXTURES / "foreign.ocel.json"
FOREIGN_MAPPING = FIXTURES / "foreign-ocel.yaml"
QUARANTINED = {  # OCEL id → reason
    "o2": "value is not a number: 'a lot'",
    "o3": "object-to-object qualifier 'manages' is not a Throughline link: map it under "
    "`link_qualifiers`",
    "x1": "unknown object type 'Spaceship': not under `object_types` in the mapping",
    "ev4": "unknown activity 'Teleport': not under `activities` in the mapping",
    "ev5": "time has no timezone: 2026-01-09T10:00:00 (give an offset, or set `timezone` in "
    "the mapping)",
    "ev6": "relates to object 'o9' that the log does not define",
}


def _store(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        objects = {
            r.source_key: (
                r.type,
                r.source_system,
                r.customer,
                r.legal_entity,
                r.currency,
                r.amount,
                r.attributes,
                r.source_updated_at,
            )
            for r in conn.execute(select(Object.__table__))
        }
        events = sorted(
            (r.source_key, r.activity, r.occurred_at, r.source_system, r.attributes)
            for r in conn.execute(select(Event.__table__))
        )
        relations = sorted(
            (e, o, q)
            for e, o, q in conn.execute(
                select(Event.source_key, Object.source_key, EventObjectTable.qualifier)
                .join(Event, Event.id == EventObjectTable.event_id)
                .join(Object, Object.id == EventObjectTable.object_id, isouter=True)
            )
        )
        links = sorted(tuple(r) for r in conn.execute(select(ObjectLink.qualifier)))
        quarantined = dict(
            tuple(r) for r in conn.execute(select(Quarantine.source_key, Quarantine.reason))
        )  # type: ignore[misc]
    return {
        "objects": objects,
        "events": events,
        "relations": relations,
        "links": links,
        "quarantined": quarantined,
    }


def test_a_foreign_ocel_log_is_mapped_skipped_and_quarantined_by_its_mapping(
    engine: Engine,
) -> None:
    report = import_ocel(engine, FOREIGN, load_ocel_mapping(FOREIGN_MAPPING), progress=False)

    store = _store(engine)
    assert store["objects"] == {
        # amount: the latest of its two values; dimensions from static (1970) attributes
        "o1": (
            "deal",
            "pmtool",
            "Acme",
            "US",
            "USD",
            Decimal("12000.5"),
            {"stage": "won"},
            datetime(2026, 1, 4, 9, tzinfo=UTC),
        ),
        "p1": (
            "project",
            "pmtool",
            "Acme",
            "US",
            None,
            None,
            None,
            datetime(2026, 1, 7, 16, tzinfo=UTC),
        ),
    }
    assert store["events"] == [
        ("ev1", "deal.won", datetime(2026, 1, 5, 10, tzinfo=UTC), "pmtool", {"channel": "partner"}),
        ("ev2", "project.created", datetime(2026, 1, 7, 16, tzinfo=UTC), "pmtool", None),
    ]
    # qualifiers become the object type (`event_qualifiers: type`); Employee e1 is skipped
    assert store["relations"] == [
        ("ev1", "o1", "deal"),
        ("ev2", "o1", "deal"),
        ("ev2", "p1", "project"),
    ]
    assert store["links"] == [("provisions",)]
    wheres = [
        "object 2 (id o2)",
        "object 3 (id o3)",
        "object 6 (id x1)",
        "event 4 (id ev4)",
        "event 5 (id ev5)",
        "event 6 (id ev6)",
    ]
    assert store["quarantined"] == {
        w: f"{w}: {QUARANTINED[w[w.index('(id ') + 4 : -1]]}" for w in wheres
    }
    assert (report.rows_read, report.quarantined, report.skipped) == (12, 6, 2)
    log = runs(engine, "import-ocel:foreign.ocel.json")
    assert [(r["status"], r["rows_quarantined"]) for r in log] == [("success", 6)]


def test_the_ocel_sqlite_format_imports_like_the_json(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "foreign.sqlite"
    to_ocel_sqlite(FOREIGN, path)
    report = import_ocel(
        engine, path, load_ocel_mapping(FOREIGN_MAPPING), progress=False, batch_rows=2
    )

    store = _store(engine)
    assert store["objects"]["o1"][5] == Decimal("12000.5")
    assert set(store["objects"]) == {"o1", "p1"} and store["links"] == [("provisions",)]
    # SQLite times carry no offset and are read as UTC, so event 5's time is fine; but it
    # relates to o3, quarantined for its link, so it is quarantined too: an event never
    # points at an object that is not stored
    assert store["events"] == [
        ("ev1", "deal.won", datetime(2026, 1, 5, 10, tzinfo=UTC), "pmtool", {"channel": "partner"}),
        ("ev2", "project.created", datetime(2026, 1, 7, 16, tzinfo=UTC), "pmtool", None),
    ]
    reasons = {
        key.split("(id ")[1][:-1]: reason.split("): ", 1)[1]
        for key, reason in store["quarantined"].items()
    }
    assert reasons == {
        **QUARANTINED,
        "ev5": "names deal 'o3' that neither this log nor the "
        "store holds, so its event is not stored (see the deal's own quarantined "
        "entry, if any)",
    }
    assert (report.rows_read, report.quarantined, report.skipped) == (12, 6, 2)
    assert (
        import_ocel(engine, path, load_ocel_mapping(FOREIGN_MAPPING), progress=False).written.total
        == 0
    )


def test_the_default_mapping_restores_nested_attributes_and_event_sources(
    engine: Engine, tmp_path: Path
) -> None:
    deal = ObjectRow(
        ObjectType.DEAL,
        "crm",
        "D:1",
        customer="Acme",
        amount=Decimal("10.5"),
        attributes={"lines": [1, 2], "meta": {"a": "b"}, "note": "{not json"},
        source_updated_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    won = EventRow(
        Activity.DEAL_WON,
        datetime(2026, 1, 5, tzinfo=UTC),
        "crm",
        "hist-7",
        (EventObject("crm", ObjectType.DEAL, "D:1", "deal"),),
        {"from": "Negotiation"},
    )
    write_and_refresh(engine, Batch(objects=[deal], events=[won]))
    path = tmp_path / "log.json"
    with path.open("w") as out:
        write_ocel(engine, out)
    won_attributes = json.loads(path.read_text())["events"][0]["attributes"]
    assert won_attributes == [
        {"name": "from", "value": "Negotiation"},
        {"name": "source_key", "value": "hist-7"},
        {"name": "source_system", "value": "crm"},
    ]
    with engine.begin() as conn:
        for table in ("event_objects", "events", "objects"):
            conn.exec_driver_sql(f"DELETE FROM {table}")

    import_ocel(engine, path, progress=False)
    with engine.connect() as conn:
        stored = conn.execute(select(Object.attributes, Object.amount, Object.source_key)).one()
        event = conn.execute(select(Event.id, Event.source_system, Event.source_key)).one()
    assert stored == (
        {"lines": [1, 2], "meta": {"a": "b"}, "note": "{not json"},
        Decimal("10.5"),
        "D:1",
    )
    assert tuple(event) == (won.id, "crm", "hist-7")  # the original id, from its own source
    assert counts(engine) == {"objects": 1, "events": 1, "event_objects": 1, "object_links": 0}


def test_unusable_files_and_mappings_fail_with_a_sentence(tmp_path: Path, engine: Engine) -> None:
    broken = tmp_path / "broken.json"  # found before the import starts: no run logged
    broken.write_text('{"objects": [{"id": "deal:crm:1", "type": "deal", ')
    with pytest.raises(ImportFailed, match="not valid JSON"):
        import_ocel(engine, broken, progress=False)
    assert runs(engine, "import-ocel:broken.json") == []
    later = tmp_path / "later.json"  # found while importing: the run failed
    later.write_text('{"objects": [{"id": "deal:crm:1", "type": "deal"}, {"id": ')
    with pytest.raises(ImportFailed, match="not valid JSON"):
        import_ocel(engine, later, progress=False)
    assert runs(engine, "import-ocel:later.json")[0]["status"] == "failed"
    with pytest.raises(ImportFailed, match="no such file"):
        import_ocel(engine, tmp_path / "missing.json", progress=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("object_ids: sometimes\nactivities: {Win: deal.wonn}\ncolour: red\n")
    with pytest.raises(MappingFileError) as raised:
        load_ocel_mapping(bad)
    message = str(raised.value)
    assert f"{bad}: object_ids: Input should be 'throughline' or 'plain'" in message
    assert f"{bad}: activities.Win: Input should be" in message
    assert f"{bad}: colour: Extra inputs are not permitted" in message


def _attempt(key: str, at: str, **values: Any) -> dict[str, Any]:
    values = {
        "source_system": "ipaas",
        "source_key": key,
        "integration": "crm-psa",
        "flow": "crm-psa/project",
        **values,
    }
    return {
        "id": f"sync:ipaas:{key}",
        "type": "sync.attempt",
        "time": at,
        "attributes": [{"name": k, "value": v} for k, v in values.items()],
        "relationships": [{"objectId": "deal:crm:D1", "qualifier": "concerns"}],
    }


def _pair(base: str, quote: str, *days: tuple[str, float, str | None]) -> dict[str, Any]:
    epoch = "1970-01-01T00:00:00Z"
    attributes = [
        {"name": "base", "time": epoch, "value": base},
        {"name": "quote", "time": epoch, "value": quote},
    ]
    for day, rate, system in days:
        attributes.append({"name": "rate", "time": f"{day}T00:00:00Z", "value": rate})
        if system:
            attributes.append(
                {"name": "source_system", "time": f"{day}T00:00:00Z", "value": system}
            )
    return {"id": f"fx_rate:{base}/{quote}", "type": "fx_rate", "attributes": attributes}


def test_sync_attempt_events_and_fx_rate_objects_become_attempts_and_rates(
    engine: Engine, tmp_path: Path
) -> None:
    log = {
        "objectTypes": [],
        "eventTypes": [],
        "objects": [
            {"id": "deal:crm:D1", "type": "deal", "attributes": []},
            _pair("EUR", "USD", ("2026-01-05", 1.1, "ecb"), ("2026-01-06", 1.2345678901, None)),
            _pair("EUR", "XX", ("2026-01-05", 1.1, None)),
            _pair("GBP", "USD", ("2026-01-05", -1.0, None)),
        ],
        "events": [
            _attempt(
                "a1",
                "2026-01-05T10:00:00Z",
                status="failed",
                error_class="timeout",
                error_message="timed out after 30 s",
                trace_key="T1",
                payload='{"deal": "D1", "iban": "***"}',
            ),
            _attempt(
                "a2",
                "2026-01-05T14:00:00.250000Z",
                status="success",
                attempt_number=2,
                retry_of="sync:ipaas:a1",
                trace_key="T1",
                duration_ms=1200,
                source_updated_at="2026-01-05T14:00:05Z",
            ),
            _attempt("a3", "2026-01-05T15:00:00Z", status="exploded"),
            _attempt("a4", "2026-01-05T16:00:00Z", status="success", retry_of="sync:erp:a1"),
        ],
    }
    path = tmp_path / "sync.json"
    path.write_text(json.dumps(log))

    report = import_ocel(engine, path, progress=False)

    a = SyncAttempt
    with engine.connect() as conn:
        attempts = conn.execute(
            select(
                a.id,
                a.source_key,
                a.status,
                a.attempt_number,
                a.retry_of_id,
                a.error_class,
                a.error_message,
                a.trace_key,
                a.started_at,
                a.duration_ms,
                a.object_id,
                a.payload,
                a.source_updated_at,
            ).order_by(a.started_at)
        ).all()
        rates = conn.execute(
            select(
                FxRate.day, FxRate.base, FxRate.quote, FxRate.rate, FxRate.source_system
            ).order_by(FxRate.day)
        ).all()
        reasons = dict(conn.execute(select(Quarantine.source_key, Quarantine.reason)).all())
    a1, deal = stable_id("sync", "ipaas", "a1"), object_id("crm", "deal", "D1")
    assert [tuple(r) for r in attempts] == [
        (
            a1,
            "a1",
            "failed",
            1,
            None,
            "timeout",
            "timed out after 30 s",
            "T1",
            datetime(2026, 1, 5, 10, tzinfo=UTC),
            None,
            deal,
            {"deal": "D1", "iban": "***"},
            None,
        ),
        (
            stable_id("sync", "ipaas", "a2"),
            "a2",
            "success",
            2,
            a1,
            None,
            None,
            "T1",
            datetime(2026, 1, 5, 14, 0, 0, 250000, tzinfo=UTC),
            1200,
            deal,
            None,
            datetime(2026, 1, 5, 14, 0, 5, tzinfo=UTC),
        ),
    ]
    assert [tuple(r) for r in rates] == [
        (date(2026, 1, 5), "EUR", "USD", Decimal("1.1"), "ecb"),
        (date(2026, 1, 6), "EUR", "USD", Decimal("1.2345678901"), "ocel"),
    ]
    assert reasons == {
        "object 3 (id fx_rate:EUR/XX)": "object 3 (id fx_rate:EUR/XX): quote is not a 3-letter "
        "currency code: 'XX'",
        "object 4 (id fx_rate:GBP/USD)": "object 4 (id fx_rate:GBP/USD): rate is not a positive "
        "number below 10^10: -1.0",
        "event 3 (id sync:ipaas:a3)": "event 3 (id sync:ipaas:a3): status is not one of success, "
        "failed, running: 'exploded'",
        "event 4 (id sync:ipaas:a4)": "event 4 (id sync:ipaas:a4): retry_of 'sync:erp:a1' is not "
        "an attempt id sync:ipaas:<key>",
    }
    assert "2 sync attempts, 2 FX rates; 4 quarantined" in report.summary()
    assert import_ocel(engine, path, progress=False).written.total == 0
