"""Rows of a flat log that used to land quietly wrong, on SQLite and PostgreSQL: an entity
without a calendar, a column that names an object only on some activities, keys built from
columns and constants, skipped activities, a log with nothing to import, and a KPI whose input
the log lacks (unknown, not 0)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from metrics.fx import FxTable
from metrics.kpis.common import ALL
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.report import kpi_report, text_report
from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.common import ViewConfig
from metrics.views.overview import board
from store.tables import Event, Object, Quarantine
from tests.importers.conftest import EXAMPLE_MAPPING, FIXTURES, counts, pg_env
from tests.test_cli import run
from throughline.importers import ImportRejected, import_events, load_event_log_mapping
from throughline.importers.events_mapping import EventLogMapping

EVENTS = FIXTURES / "events.csv"
AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
COLUMNS = (
    "event_id",
    "activity",
    "occurred_at",
    "deal_id",
    "project_id",
    "invoice_no",
    "amount",
    "currency",
    "legal_entity",
)


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _yaml(path: Path, text: str) -> EventLogMapping:
    path.write_text(text)
    return load_event_log_mapping(path)


def _quarantined(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Quarantine.source_key, Quarantine.reason)).all())  # type: ignore[arg-type]


def test_an_entity_without_a_calendar_is_quarantined_not_measured_on_weekends_only(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "fr.csv"
    path.write_text(EVENTS.read_text().replace("Beta GmbH,DE", "Beta SARL,FR"))
    mapping = load_event_log_mapping(EXAMPLE_MAPPING)

    report = import_events(engine, path, mapping, progress=False)

    assert _quarantined(engine) == {
        "row 10 (line 11)": "row 10 (line 11): legal entity 'FR' has no business calendar: add "
        "it to the settings' `legal_entities` (code, name, country, currency); configured: DE, "
        "UK, US"
    }
    assert (report.rows_read, report.quarantined) == (10, 1)
    with engine.connect() as conn:
        assert conn.execute(select(Object.id).where(Object.source_key == "D2")).all() == []
    # configured (here through the settings the command line reads), the row is imported
    url = pg_env(engine, monkeypatch)
    monkeypatch.setenv(
        "THROUGHLINE_LEGAL_ENTITIES",
        '[{"code": "FR", "name": "Beta SARL", "country": "FR", "currency": "EUR"}]',
    )
    argv = ("import", "events", str(path), "--mapping", str(EXAMPLE_MAPPING), "--no-progress")
    assert run(monkeypatch, url, *argv) == 0
    assert "new or changed: 1 events, 1 objects" in capsys.readouterr().out
    with engine.connect() as conn:
        entity = conn.execute(select(Object.legal_entity).where(Object.source_key == "D2"))
        assert entity.scalar_one() == "FR"


MIXED = """source_system: dw
activity: activity
timestamp: occurred_at
activities: {Won: deal.won, Created: project.created, Invoiced: invoice.posted}
objects:
  deal: {key: deal_id, system: crm, dimensions: {legal_entity: {value: US}}}
  project: {key: project_id, system: psa}
  invoice:
    key: ["INV-", {column: invoice_no}]
    system: erp
    dimensions: {amount: amount, currency: currency, legal_entity: legal_entity}
    {on}
links:
  - {from: deal, to: project, qualifier: provisions}
  - {from: invoice, to: project, qualifier: bills}
"""
ROWS = [  # invoice_no holds an invoice number on Invoiced rows, a sequence number elsewhere
    {"activity": "Won", "occurred_at": "2026-01-05T10:00:00Z", "deal_id": "D1", "invoice_no": "1"},
    {
        "activity": "Created",
        "occurred_at": "2026-01-07T16:00:00Z",
        "deal_id": "D1",
        "project_id": "P1",
        "invoice_no": "2",
    },
    {
        "activity": "Invoiced",
        "occurred_at": "2026-02-03T14:00:00Z",
        "project_id": "P1",
        "invoice_no": "7001",
        "amount": "800",
        "currency": "USD",
        "legal_entity": "US",
    },
    {
        "activity": "Invoiced",
        "occurred_at": "2026-02-04T14:00:00Z",
        "project_id": "P1",
        "invoice_no": "",
        "amount": "900",
        "currency": "USD",
        "legal_entity": "US",
    },
]


def test_a_column_naming_an_object_on_some_activities_needs_on_and_keys_can_be_built(
    engine: Engine, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "mixed.csv", ROWS)
    loose = _yaml(tmp_path / "loose.yaml", MIXED.replace("{on}", ""))
    with pytest.raises(ImportRejected) as rejected:
        import_events(engine, path, loose, progress=False)
    assert rejected.value.report.reason_lines() == [
        "  2 × names an invoice that neither this log nor the store holds (if `objects.invoice` "
        "names one on rows about something else, list the activities that carry it under `on`; "
        "else see the invoice's own quarantined rows)",
        "  1 × invoice.posted needs an invoice ('INV-'+invoice_no is empty)",
    ]
    with engine.connect() as conn:
        stored = set(conn.execute(select(Object.type, Object.source_key)).all())
    # each row's own object is stored, but no invoice INV-1 or INV-2 from the other rows
    assert stored == {("deal", "D1"), ("project", "P1"), ("invoice", "INV-7001")}

    strict = _yaml(tmp_path / "strict.yaml", MIXED.replace("{on}", "on: [Invoiced]"))
    report = import_events(engine, path, strict, progress=False, max_quarantined=0.5)

    assert (report.rows_read, report.quarantined) == (4, 1)  # the invoice row without a number
    with engine.connect() as conn:
        objects = set(
            conn.execute(
                select(Object.type, Object.source_key, Object.legal_entity, Object.amount)
            ).all()
        )
        events = sorted(conn.execute(select(Event.activity, Event.source_key)).all())
    assert objects == {
        ("deal", "D1", "US", None),
        ("project", "P1", None, None),
        ("invoice", "INV-7001", "US", 800),
    }
    assert events == [
        ("deal.won", "deal:D1"),
        ("invoice.posted", "invoice:INV-7001"),
        ("project.created", "project:P1"),
    ]
    assert counts(engine)["object_links"] == 2  # provisions and bills


def test_skipped_activities_are_counted_and_not_stored(engine: Engine, tmp_path: Path) -> None:
    rows = [
        *ROWS[:2],
        {"activity": "Mail sent", "occurred_at": "2026-01-06T10:00:00Z", "deal_id": "D1"},
    ]
    path = _csv(tmp_path / "mail.csv", rows)
    mapping = _yaml(
        tmp_path / "m.yaml",
        MIXED.replace("{on}", "on: [Invoiced]") + "skip_activities: [Mail sent]\n",
    )

    report = import_events(engine, path, mapping, progress=False)

    assert (report.rows_read, report.skipped, report.quarantined) == (3, 1, 0)
    assert "3 rows read" in report.summary() and "1 skipped by the mapping" in report.summary()
    assert counts(engine)["events"] == 2
    only_mail = _csv(tmp_path / "only_mail.csv", rows[2:])
    with pytest.raises(ImportRejected, match="nothing to import: the mapping skips all 1 rows"):
        import_events(engine, only_mail, mapping, progress=False)
    empty = _csv(tmp_path / "empty.csv", [])
    with pytest.raises(ImportRejected, match="nothing to import: the file holds no rows"):
        import_events(engine, empty, mapping, progress=False)


def test_touchless_share_is_unknown_not_zero_when_the_log_has_no_creator(
    engine: Engine, tmp_path: Path
) -> None:
    without = tmp_path / "no_creator.yaml"
    without.write_text(
        EXAMPLE_MAPPING.read_text().replace(
            "      touchless: {column: automated, type: boolean}\n", "      stage: owner\n"
        )
    )
    import_events(engine, EVENTS, load_event_log_mapping(without), progress=False)

    setup = setup_latency(load_handoffs(engine), AS_OF, fx=FxTable([], "USD"))
    assert setup.stats.cases == 1
    assert (setup.touchless, setup.touchless_share) == (None, None)
    report = kpi_report(engine, AS_OF)
    figures = report["kpis"]["touchless_share"]["figures"]
    assert figures == {"touchless": None, "handoffs": 1, "share": None}
    assert "Touchless handoff rate (touchless_share): touchless —; handoffs 1; share —" in (
        text_report(report)
    )
    tile = board(ADMIN, engine, ViewConfig(), ALL, AS_OF).tile("touchless_share")
    assert tile.value is None and [(f.label, f.value) for f in tile.facts] == [("touchless", None)]
