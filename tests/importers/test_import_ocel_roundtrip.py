"""The demo year → `export ocel` → `import ocel` into an empty SQLite and PostgreSQL store: the
same objects, events, relations, case facts and KPIs; importing the file again adds nothing.

Only the events' own ids differ: the export does not carry an event's source system and key, so
an imported event is keyed by its OCEL id (see `throughline.importers.ocel`).

FX rates and sync attempts are not part of an OCEL 2.0 log (the export leaves them out), so
the KPIs in the reporting currency use the source's rates on both sides, and the sync error
KPIs have nothing to compare.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import run_collector
from metrics.db import make_engine
from metrics.fx import FxTable, load_fx
from metrics.kpis.cash_impact import cash_impact
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.unbilled import load_work_items, unbilled_aging, wip_over_time
from metrics.migrate import upgrade
from metrics.models import (
    CaseHandoff,
    CaseInvoice,
    CaseWorkBilling,
    CaseWorkItem,
    Event,
    EventObject,
    Object,
    ObjectLink,
    SyncAttempt,
)
from metrics.ocel import write_ocel
from tests.collectors.conftest import TOKEN, settings_for
from tests.importers.conftest import counts, cursor, runs
from throughline.importers import import_ocel

pytestmark = pytest.mark.slow
FACTS = (CaseHandoff, CaseInvoice, CaseWorkItem, CaseWorkBilling)


@dataclass(frozen=True)
class Demo:
    engine: Engine
    path: Path
    as_of: datetime
    fx: FxTable


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo year collected into a SQLite store and exported as OCEL 2.0 JSON."""
    where = tmp_path_factory.mktemp("demo")
    engine = make_engine(f"sqlite:///{where / 'source.db'}")
    upgrade(engine)
    estate = simulate(seed=7)
    with DemoEstateServer(
        estate, TOKEN, clock=SimClock(estate.history_end), rate_limit=None
    ) as server:
        for name in COLLECTORS:
            if name.startswith("demo_"):
                report = run_collector(engine, build_collector(name, settings_for(server)))
                assert report.status == "success", report.error
        as_of = server.truth().as_of
    path = where / "demo.ocel.json"
    with path.open("w", encoding="utf-8") as out:
        write_ocel(engine, out)
    yield Demo(engine, path, as_of, load_fx(engine, "USD"))
    engine.dispose()


def _objects(engine: Engine) -> list[tuple[Any, ...]]:
    """Objects without their ingest time; attributes without null values (the export drops
    them, as OCEL attributes have no null)."""
    o = Object
    query = select(
        o.id, o.type, o.source_system, o.source_key, o.customer, o.legal_entity, o.practice,
        o.region, o.owner, o.currency, o.amount, o.attributes, o.source_updated_at,
    )  # fmt: skip
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    return sorted(
        (*r[:11], sorted((k, v) for k, v in (r[11] or {}).items() if v is not None), r[12])
        for r in rows
    )


def _events(engine: Engine) -> Counter[tuple[Any, ...]]:
    e = Event
    with engine.connect() as conn:
        rows = conn.execute(select(e.activity, e.occurred_at, e.attributes))
        return Counter((a, at, repr(sorted((attrs or {}).items()))) for a, at, attrs in rows)


def _relations(engine: Engine) -> tuple[Counter[tuple[Any, ...]], list[tuple[Any, ...]]]:
    e, eo, lk = Event, EventObject, ObjectLink
    with engine.connect() as conn:
        e2o = Counter(
            tuple(r)
            for r in conn.execute(
                select(e.activity, e.occurred_at, eo.object_id, eo.qualifier).join(
                    e, e.id == eo.event_id
                )
            )
        )
        o2o = sorted(
            tuple(r) for r in conn.execute(select(lk.from_object_id, lk.to_object_id, lk.qualifier))
        )
    return e2o, o2o


def _facts(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            m.__tablename__: sorted((tuple(r) for r in conn.execute(select(m.__table__))), key=repr)
            for m in FACTS
        }


def _kpis(engine: Engine, demo: Demo) -> dict[str, Any]:
    as_of, fx = demo.as_of, demo.fx
    setup = setup_latency(load_handoffs(engine), as_of, fx=fx)
    cycle = invoice_cycle(load_invoices(engine), as_of, fx=fx)
    work = load_work_items(engine)
    wip = unbilled_aging(work, as_of, fx=fx)
    months = [date(2026, m, 1) for m in (2, 5, 8, 10)]
    return {
        "setup_latency": setup,
        "invoice_cycle": cycle,
        "unbilled_wip": wip,
        "wip_over_time": wip_over_time(work, months, fx=fx),
        "cash_impact": cash_impact(setup, cycle, wip),
    }


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


def test_the_demo_year_round_trips_through_ocel_with_identical_kpis_and_imports_once(
    demo: Demo, engine: Engine
) -> None:
    report = import_ocel(engine, demo.path, progress=False)

    source_counts = counts(demo.engine)
    assert source_counts["objects"] > 10_000 and source_counts["events"] > 15_000
    assert counts(engine) == source_counts
    assert report.status == "success" and report.quarantined == 0 and report.skipped == 0
    assert report.rows_read == source_counts["objects"] + source_counts["events"]
    assert (report.written.objects, report.written.events, report.written.links) == (
        source_counts["objects"], source_counts["events"], source_counts["object_links"],
    )  # fmt: skip
    assert _objects(engine) == _objects(demo.engine)
    assert _events(engine) == _events(demo.engine)
    assert _relations(engine) == _relations(demo.engine)
    assert _facts(engine) == _facts(demo.engine)

    mine, theirs = _kpis(engine, demo), _kpis(demo.engine, demo)
    assert mine["setup_latency"].stats.cases > 100
    assert mine["invoice_cycle"].stats.cases > 100 and mine["unbilled_wip"].total.items > 10
    for name in mine:
        assert_same(mine[name], theirs[name], name)
    with engine.connect() as conn:  # not in OCEL: the sync error KPIs have nothing to compare
        assert conn.execute(select(func.count()).select_from(SyncAttempt)).scalar_one() == 0

    # again, in other batches: nothing new, and the run log says so
    before, facts = counts(engine), _facts(engine)
    again = import_ocel(engine, demo.path, progress=False, batch_rows=4_000)
    assert counts(engine) == before and _facts(engine) == facts
    assert again.written.total == 0 and again.rows_read == report.rows_read
    log = runs(engine, "import-ocel:demo.ocel.json")
    assert [(r["kind"], r["status"]) for r in log] == [("import", "success")] * 2
    assert log[0]["rows_in"] == report.written.total > 0
    assert log[1]["rows_in"] == 0 and log[1]["rows_quarantined"] == 0
    saved = cursor(engine, "import-ocel:demo.ocel.json", "ocel")
    assert saved is not None and saved["complete"] is True
    assert (saved["objects"], saved["events"]) == (before["objects"], before["events"])
