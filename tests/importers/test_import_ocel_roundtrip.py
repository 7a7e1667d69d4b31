"""The demo year → `export ocel` → `import ocel` into an empty SQLite and an empty PostgreSQL
store gives back the same store and the same KPIs; importing the file again adds nothing.

Compared row by row, every column: objects, events, event-object relations, object-object links,
sync attempts and FX rates, and the case facts and sync rollups derived from them; every figure of
`throughline kpis` (the sync error KPIs included) and the KPI results the pages draw. Left out:
`ingested_at` (when each run wrote the row) in every table, and in `objects.attributes` the keys
whose value is null (OCEL 2.0 attribute values have no null, so the export leaves them out).

The source is the demo year the page tests collect once per run (`demo_year_file`); the export
is OCEL 2.0 JSON (Throughline does not write the OCEL SQLite layout; reading it is tested in
`test_import_ocel_files`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ijson
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from foundation.settings import Settings
from metrics.fx import load_fx
from metrics.kpis.cash_impact import cash_impact
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.sync_trends import load_sync, sync_error_trends
from metrics.kpis.unbilled import load_work_items, unbilled_aging, wip_over_time
from metrics.report import kpi_report
from store.clock import reporting_time
from store.db import make_engine
from store.ocel_export import write_ocel
from store.tables import (
    Base,
    CaseHandoff,
    CaseInvoice,
    CaseWorkBilling,
    CaseWorkItem,
    Event,
    EventObject,
    FxRate,
    Object,
    ObjectLink,
    SyncAttempt,
    SyncDaily,
    SyncFailure,
    SyncTrace,
)
from tests.importers.conftest import cursor, runs
from tests.pages.conftest import demo_year_file  # noqa: F401  (the collected demo year)
from throughline.importers import import_ocel

pytestmark = pytest.mark.slow
LOG = (Object, Event, EventObject, ObjectLink, SyncAttempt, FxRate)
FACTS = (CaseHandoff, CaseInvoice, CaseWorkItem, CaseWorkBilling, SyncDaily, SyncFailure, SyncTrace)
COUNTRIES = {e.code: e.country for e in Settings().legal_entities}
Rows = dict[str, list[tuple[Any, ...]]]


def rows(engine: Engine, models: tuple[type[Base], ...] = LOG + FACTS) -> Rows:
    """Every row of each table but `ingested_at`, in primary-key order; objects' attributes
    without null values."""
    out: Rows = {}
    with engine.connect() as conn:
        for model in models:
            table = Base.metadata.tables[model.__tablename__]
            columns = [c for c in table.c if c.name != "ingested_at"]
            key = [columns.index(c) for c in table.primary_key.columns]
            found = [tuple(r) for r in conn.execute(select(*columns))]
            if model is Object:
                at = [c.name for c in columns].index("attributes")
                found = [_without_nulls(r, at) for r in found]
            out[table.name] = sorted(found, key=lambda r: tuple(r[i] for i in key))
    return out


def _without_nulls(row: tuple[Any, ...], at: int) -> tuple[Any, ...]:
    kept = {k: v for k, v in (row[at] or {}).items() if v is not None}
    return (*row[:at], kept or None, *row[at + 1 :])


def results(engine: Engine, as_of: datetime) -> dict[str, Any]:
    """The KPI results behind the pages, with this store's own FX rates."""
    fx = load_fx(engine, "USD")
    setup = setup_latency(load_handoffs(engine), as_of, fx=fx, countries=COUNTRIES)
    cycle = invoice_cycle(load_invoices(engine), as_of, fx=fx, countries=COUNTRIES)
    work = load_work_items(engine)
    wip = unbilled_aging(work, as_of, fx=fx)
    months = [date(2026, m, 1) for m in (2, 5, 8, 10)]
    return {
        "setup_latency": setup,
        "invoice_cycle": cycle,
        "unbilled_wip": wip,
        "wip_over_time": wip_over_time(work, months, fx=fx),
        "cash_impact": cash_impact(setup, cycle, wip),
        "sync_errors": sync_error_trends(load_sync(engine), as_of, countries=COUNTRIES),
    }


@dataclass(frozen=True)
class Demo:
    path: Path
    as_of: datetime
    written: tuple[int, int]
    rows: Rows
    report: dict[str, Any]
    results: dict[str, Any]


@pytest.fixture(scope="module")
def demo(demo_year_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:  # noqa: F811
    """The demo year's store read once and exported as OCEL 2.0 JSON."""
    engine = make_engine(f"sqlite:///{demo_year_file}")
    path = tmp_path_factory.mktemp("ocel") / "demo.ocel.json"
    as_of = reporting_time(engine)
    with path.open("w", encoding="utf-8") as out:
        written = write_ocel(engine, out, as_of=as_of)
    report = kpi_report(engine, as_of, countries=COUNTRIES)
    yield Demo(path, as_of, written, rows(engine), report, results(engine, as_of))
    engine.dispose()


def _frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    order = sorted(frame.columns, key=str)
    return frame[order].sort_values(order, key=lambda s: s.astype(str)).reset_index(drop=True)


def assert_same(mine: Any, theirs: Any, where: str) -> None:
    """Equal KPI results: dataclass fields one by one, frames sorted, floats to 1e-9."""
    if dataclasses.is_dataclass(mine) and not isinstance(mine, type):
        for f in dataclasses.fields(mine):
            assert_same(getattr(mine, f.name), getattr(theirs, f.name), f"{where}.{f.name}")
    elif isinstance(mine, pd.DataFrame):
        pd.testing.assert_frame_equal(_frame(mine), _frame(theirs), check_dtype=False, obj=where)
    elif isinstance(mine, float):
        assert mine == pytest.approx(theirs, rel=1e-9, nan_ok=True), where
    elif isinstance(mine, dict):
        assert mine.keys() == theirs.keys(), where
        for key in mine:
            assert_same(mine[key], theirs[key], f"{where}[{key!r}]")
    else:
        assert mine == theirs, where


def test_the_export_is_ocel_2_with_sync_attempts_fx_rates_and_event_sources(demo: Demo) -> None:
    with demo.path.open("rb") as handle:
        exported_at = next(ijson.items(handle, "throughline:asOf"))
    assert exported_at == demo.as_of.isoformat().replace("+00:00", "Z")
    with demo.path.open("rb") as handle:
        event_types = {t["name"]: t for t in ijson.items(handle, "eventTypes.item")}
    with demo.path.open("rb") as handle:
        fx = [o for o in ijson.items(handle, "objects.item") if o["type"] == "fx_rate"]
    sync = {a["name"]: a["type"] for a in event_types["sync.attempt"]["attributes"]}
    assert sync["attempt_number"] == "integer" and sync["source_updated_at"] == "time"
    won = {a["name"] for a in event_types["deal.won"]["attributes"]}
    assert {"source_system", "source_key"} <= won
    assert [o["id"] for o in fx] == ["fx_rate:EUR/USD", "fx_rate:GBP/USD"]
    rates = [a for a in fx[0]["attributes"] if a["name"] == "rate"]
    assert len(rates) == 364 and rates[0]["time"] == "2025-11-01T00:00:00Z"
    tables = demo.rows
    assert demo.written == (
        len(tables["objects"]) + 2,
        len(tables["events"]) + len(tables["sync_attempts"]),
    )


def test_the_demo_year_round_trips_through_ocel_row_for_row_with_identical_kpis(
    demo: Demo, engine: Engine
) -> None:
    report = import_ocel(engine, demo.path, progress=False)

    source = demo.rows
    assert len(source["objects"]) > 10_000 and len(source["events"]) > 15_000
    assert len(source["sync_attempts"]) == 6_702 and len(source["fx_rates"]) == 728
    assert report.status == "success" and report.quarantined == report.skipped == 0
    assert report.rows_read == sum(demo.written)
    w = report.written
    assert (w.objects, w.events, w.event_objects, w.links, w.sync_attempts, w.fx_rates) == tuple(
        len(source[t.__tablename__]) for t in LOG
    )
    imported = rows(engine)
    for table in source:
        assert imported[table] == source[table], table

    # reported at the source's instant (the export's `throughline:asOf`), as `throughline kpis`
    assert reporting_time(engine) == demo.as_of
    figures = kpi_report(engine, reporting_time(engine), countries=COUNTRIES)
    assert figures == demo.report
    sync = figures["kpis"]["sync_error_rate"]["figures"]
    assert sync["attempts"] == 6_702 and sync["failed_first_attempts"] > 0
    assert figures["kpis"]["sync_time_to_resolve"]["figures"]["resolved"] > 0
    mine = results(engine, demo.as_of)
    assert mine["setup_latency"].stats.cases > 100 and mine["unbilled_wip"].total.items > 10
    for name in mine:
        assert_same(mine[name], demo.results[name], name)

    # again, in other batches: nothing new, and the run log says so
    again = import_ocel(engine, demo.path, progress=False, batch_rows=4_000)
    assert again.written.total == 0 and again.rows_read == report.rows_read
    assert rows(engine) == imported
    log = runs(engine, "import-ocel:demo.ocel.json")
    assert [(r["kind"], r["status"]) for r in log] == [("import", "success")] * 2
    assert log[0]["rows_in"] == w.total > 0
    assert log[1]["rows_in"] == 0 and log[1]["rows_quarantined"] == 0
    saved = cursor(engine, "import-ocel:demo.ocel.json", "ocel")
    assert saved is not None and saved["complete"] is True
    assert (saved["objects"], saved["events"]) == demo.written
