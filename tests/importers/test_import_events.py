"""`import events`: a flat CSV/Parquet event log through the example mapping, on SQLite and
PostgreSQL. The fixture firm (tests/importers/fixtures/events.csv): deal D1 won Mon 5 Jan 10:00,
its project P1 created Wed 7 Jan 16:00 by the integration; work W1 (800 USD) and W2 (1200 USD)
approved; invoice I1 bills W1 for the period ending 31 Jan, posted Tue 3 Feb 14:00 UTC, paid
Mon 2 Mar 12:00; deal D2 (DE) won 10 Feb, no project yet.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from metrics.fx import FxTable
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.unbilled import load_work_items, unbilled_aging
from store.tables import CaseHandoff, Event, EventObject, Object, ObjectLink, Quarantine
from tests.importers.conftest import EXAMPLE_MAPPING, FIXTURES, counts, cursor, runs
from throughline.importers import ImportRejected, MappingFileError, import_events
from throughline.importers.events import EventLogMapping

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
FX = FxTable([], "USD")
EVENTS = FIXTURES / "events.csv"
BAD = FIXTURES / "bad_rows.csv"
FIRM = {"objects": 7, "events": 10, "event_objects": 19, "object_links": 6}


def _objects(engine: Engine) -> dict[str, tuple[object, ...]]:
    o = Object
    query = select(
        o.source_key,
        o.type,
        o.source_system,
        o.customer,
        o.legal_entity,
        o.currency,
        o.amount,
        o.attributes,
    )
    with engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(query)}


def test_a_csv_event_log_lands_as_objects_events_links_and_kpis(
    engine: Engine, mapping: EventLogMapping
) -> None:
    report = import_events(engine, EVENTS, mapping, progress=False)

    assert counts(engine) == FIRM
    assert (report.rows_read, report.quarantined, report.status) == (10, 0, "success")
    objects = _objects(engine)
    assert objects["D1"][:6] == ("deal", "crm", "Acme", "US", "USD", 10000)
    assert objects["P1"][:2] == ("project", "psa") and objects["P1"][-1] == {"touchless": True}
    assert objects["W2"][-1] == {"billable": True, "project_id": "P1", "work_date": "2026-01-14"}
    assert objects["I1"][-1] == {"period_end": "2026-01-31", "project_code": "P1"}
    with engine.connect() as conn:
        links = {tuple(r) for r in conn.execute(select(ObjectLink.qualifier))}
        by = conn.execute(select(Event.attributes).where(Event.activity == "project.created"))
        assert by.scalar_one() == {"by": "integration"}
    assert links == {("provisions",), ("part_of",), ("billed_on",), ("bills",), ("settled_by",)}

    setup = setup_latency(load_handoffs(engine), AS_OF, fx=FX)
    # Mon 10:00 → Wed 16:00: 54 hours, 2.25 business days; D2 waits since Tue 10 Feb 09:30
    assert (setup.stats.cases, setup.stats.p50_days, setup.stats.p50_hours) == (1, 2.25, 54.0)
    assert setup.touchless_share == 1.0 and list(setup.stuck["deal_key"]) == ["D2"]
    cycle = invoice_cycle(load_invoices(engine), AS_OF, fx=FX)
    # trigger: period end → Sun 1 Feb 00:00; posted Tue 3 Feb 14:00 UTC: Mon + 14 h = 1.5833 bd
    assert cycle.stats.cases == 1
    assert cycle.stats.p50_days == pytest.approx(1 + 14 / 24)
    assert cycle.stats.p50_hours == pytest.approx(62.0)
    assert cycle.days_to_pay.paid == 1
    wip = unbilled_aging(load_work_items(engine), AS_OF, fx=FX)
    # W2 only (W1 is on the posted invoice): worked 14 Jan → 76 days at 31 Mar
    assert list(wip.items["work_item_key"]) == ["W2"]
    assert (wip.total.items, wip.total.amount_rc) == (1, 1200.0)
    assert list(wip.items["bucket"].astype(str)) == ["61-90"]
    assert list(wip.items["age_days"]) == [76]


def test_importing_the_same_csv_twice_adds_nothing(
    engine: Engine, mapping: EventLogMapping
) -> None:
    first = import_events(engine, EVENTS, mapping, progress=False, batch_rows=4)
    with engine.connect() as conn:
        facts = conn.execute(select(CaseHandoff.__table__)).all()
    again = import_events(engine, EVENTS, mapping, progress=False, batch_rows=3)

    assert counts(engine) == FIRM
    with engine.connect() as conn:
        assert conn.execute(select(CaseHandoff.__table__)).all() == facts
    assert first.written.total == sum(FIRM.values()) and again.written.total == 0
    log = runs(engine, "import-events:events.csv")
    assert [(r["kind"], r["status"], r["rows_in"]) for r in log] == [
        ("import", "success", sum(FIRM.values())),
        ("import", "success", 0),
    ]
    saved = cursor(engine, "import-events:events.csv", "events")
    assert saved is not None
    assert (saved["row"], saved["complete"], saved["since"]) == (
        10,
        True,
        "2026-03-02T12:00:00+00:00",
    )


def test_bad_rows_are_quarantined_with_row_numbers_and_the_rest_stored(
    engine: Engine, mapping: EventLogMapping
) -> None:
    with pytest.raises(ImportRejected) as rejected:  # 5 of 7 rows bad: the import fails
        import_events(engine, BAD, mapping, progress=False)
    report = rejected.value.report

    with engine.connect() as conn:
        found = sorted(
            tuple(r)
            for r in conn.execute(
                select(Quarantine.source_key, Quarantine.reason, Quarantine.stream)
            )
        )
        keys = sorted(conn.execute(select(Object.source_key)).scalars())
    assert found == [
        ("row 2 (line 3)", "row 2 (line 3): timestamp (occurred_at) is missing", "events"),
        (
            "row 3 (line 4)",
            "row 3 (line 4): unknown activity 'Opportunity Teleported': not "
            "under `activities` in the mapping",
            "events",
        ),
        (
            "row 4 (line 5)",
            "row 4 (line 5): timestamp (occurred_at) has no timezone: "
            "2026-01-06 11:00:00 (give an offset, or set `timezone` in the "
            "mapping)",
            "events",
        ),
        ("row 5 (line 6)", "row 5 (line 6): amount is not a number: 'five thousand'", "events"),
        ("row 6 (line 7)", "row 6 (line 7): not valid UTF-8", "events"),
    ]
    assert (report.rows_read, report.quarantined) == (7, 5)
    assert keys == ["D1", "P1"]  # rows 1 and 7
    assert counts(engine) == {"objects": 2, "events": 2, "event_objects": 3, "object_links": 1}
    with engine.connect() as conn:
        raw = conn.execute(
            select(Quarantine.raw).where(Quarantine.source_key == "row 6 (line 7)")
        ).scalar_one()
    assert "Caf\N{REPLACEMENT CHARACTER} M\N{REPLACEMENT CHARACTER}ller" in raw
    log = runs(engine, "import-events:bad_rows.csv")[0]
    assert (log["status"], log["rows_quarantined"]) == ("failed", 5)
    assert log["error"].startswith(
        "ImportRejected: import-events:bad_rows.csv: 5 of 7 rows quarantined (71%, more than 50%)"
    )
    assert report.reason_lines() == [
        "  1 × timestamp (occurred_at) is missing",
        "  1 × unknown activity 'Opportunity Teleported': not under `activities` in the mapping",
        "  1 × timestamp (occurred_at) has no timezone (give an offset, or set `timezone` in the "
        "mapping)",
        "  1 × amount is not a number",
        "  1 × not valid UTF-8",
    ]

    again = import_events(engine, BAD, mapping, progress=False, max_quarantined=1.0)
    assert again.quarantined == 5 and again.written.total == 0
    with engine.connect() as conn:
        seen = conn.execute(select(Quarantine.times_seen)).scalars().all()
    assert sorted(seen) == [2] * 5


def test_naive_timestamps_are_read_in_the_zone_the_mapping_names(
    engine: Engine, mapping: EventLogMapping, capsys: pytest.CaptureFixture[str]
) -> None:
    berlin = mapping.model_copy(update={"timezone": "Europe/Berlin"})
    import_events(engine, BAD, berlin, progress=True, max_quarantined=1.0)
    bar = capsys.readouterr().err  # the progress bar, forced on (it is off when not a TTY)
    assert "import-events:bad_rows.csv: 100%" in bar and f"{BAD.stat().st_size}/" in bar

    with engine.connect() as conn:
        at = conn.execute(
            select(Event.occurred_at)
            .join(EventObject, EventObject.event_id == Event.id)
            .join(Object, Object.id == EventObject.object_id)
            .where(Object.source_key == "D4")
        ).scalar_one()
    assert at == datetime(2026, 1, 6, 10, tzinfo=UTC)  # 11:00 in Berlin (CET)


def _to_parquet(source: Path, target: Path) -> None:
    """The fixture CSV as Parquet with typed columns: UTC timestamps, numbers, booleans."""
    table = pacsv.read_csv(
        source,
        convert_options=pacsv.ConvertOptions(
            column_types={
                "occurred_at": pa.timestamp("us", tz="UTC"),
                "amount": pa.float64(),
                "automated": pa.bool_(),
                "billable": pa.bool_(),
            },
            strings_can_be_null=True,
        ),
    )
    pq.write_table(table, target, row_group_size=4)


def test_a_parquet_log_imports_like_the_csv(
    engine: Engine, mapping: EventLogMapping, tmp_path: Path
) -> None:
    path = tmp_path / "events.parquet"
    _to_parquet(EVENTS, path)
    report = import_events(engine, path, mapping, progress=False, batch_rows=3)

    assert counts(engine) == FIRM and report.quarantined == 0
    objects = _objects(engine)
    assert objects["D1"][:6] == ("deal", "crm", "Acme", "US", "USD", 10000)
    assert objects["W2"][-1] == {"billable": True, "project_id": "P1", "work_date": "2026-01-14"}
    setup = setup_latency(load_handoffs(engine), AS_OF, fx=FX)
    assert (setup.stats.p50_days, setup.touchless_share) == (2.25, 1.0)
    assert import_events(engine, path, mapping, progress=False).written.total == 0


def test_rows_sharing_an_event_id_are_one_event_with_all_their_objects(
    engine: Engine, mapping: EventLogMapping, tmp_path: Path
) -> None:
    path = tmp_path / "two_items.csv"
    lines = EVENTS.read_text().splitlines()
    invoice_row = next(line for line in lines if line.startswith("E7,"))
    path.write_text("\n".join([*lines, invoice_row.replace(",W1,", ",W2,")]) + "\n")
    import_events(engine, path, mapping, progress=False, batch_rows=20)

    assert counts(engine) == {
        **FIRM,
        "event_objects": FIRM["event_objects"] + 1,
        "object_links": FIRM["object_links"] + 1,
    }
    with engine.connect() as conn:
        created = conn.execute(
            select(Object.source_key)
            .join(EventObject, EventObject.object_id == Object.id)
            .join(Event, Event.id == EventObject.event_id)
            .where(Event.activity == "invoice.created")
        ).scalars()
        assert sorted(created) == ["I1", "P1", "W1", "W2"]


def test_a_mapping_naming_a_column_the_file_lacks_fails_before_reading(
    engine: Engine, mapping: EventLogMapping, tmp_path: Path
) -> None:
    path = tmp_path / "no_deal.csv"
    shutil.copy(EVENTS, path)
    path.write_text(path.read_text().replace("deal_id", "opportunity_id", 1))
    with pytest.raises(MappingFileError) as refused:
        import_events(engine, path, mapping, progress=False)
    lines = EXAMPLE_MAPPING.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.strip() == "key: deal_id")
    assert str(refused.value) == (
        f"{EXAMPLE_MAPPING}: objects.deal.key: the file has no column 'deal_id' (it has: "
        "event_id, activity, occurred_at, opportunity_id, project_id, work_item_id, invoice_id, "
        "payment_id, amount, currency, customer, legal_entity, practice, owner, user, automated, "
        f"billable, work_date, period_end) (line {line})"
    )
    assert counts(engine)["events"] == 0
    assert runs(engine, "import-events:no_deal.csv") == []
