"""The unbilled aging at one instant read from open work (`load_open_work`) equals the aging read
from the whole period (`load_work_items`), over random logs appended, re-delivered and rebuilt
(incremental refresh, the Python builders and the columnar rebuild), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from metrics.facts import rebuild_case_facts, refresh_pending
from metrics.fx import FxTable
from metrics.kpis.common import Filters
from metrics.kpis.unbilled import KPI, load_open_work, load_work_items, unbilled_aging
from store.canonical import Batch
from store.tables import Base
from store.write import write_batch
from tests.metrics import builders as b

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FX = FxTable([(date(2026, 1, 1), "EUR", "USD", 1.1)], "USD")
PROJECTS = {"P1": ("US", "Cloud", "Acme"), "P2": ("UK", "Data", "Bolt")}
hours = st.integers(0, 120 * 24)


def _at(h: int) -> datetime:
    return T0 + timedelta(hours=h)


@st.composite
def invoice_specs(draw: st.DrawFn, key: str, replaces: str | None) -> Batch:
    posted = draw(st.one_of(st.none(), hours))
    voided = draw(st.one_of(st.none(), hours)) if posted is not None else None
    return b.invoice(
        key,
        draw(st.sampled_from(sorted(PROJECTS))),
        "100",
        created=_at(0),
        posted=_at(posted) if posted is not None else None,
        voided=_at(max(voided, posted or 0)) if voided is not None else None,
        replaces=replaces,
    )


@st.composite
def work_specs(draw: st.DrawFn, key: str, invoices: list[str]) -> Batch:
    approved = draw(st.one_of(st.none(), hours))
    off = draw(st.one_of(st.none(), hours)) if approved is not None else None
    hold = approved is None and draw(st.booleans())
    return b.work(
        key,
        draw(st.sampled_from(sorted(PROJECTS))),
        str(draw(st.integers(1, 5000))),
        draw(st.sampled_from(["USD", "EUR", "GBP"])),  # GBP: no rate, NaN amounts
        draw(st.one_of(st.none(), st.dates(date(2025, 11, 1), date(2026, 4, 30)))),
        logged=_at(0),
        approved=_at(approved) if approved is not None else None,
        written_off=_at(off) if off is not None else None,
        invoice=draw(st.one_of(st.none(), st.sampled_from(invoices))) if invoices else None,
        status="on_hold" if hold else None,
    )


@st.composite
def logs(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Steps: ("append", batch), ("again", an earlier batch's index), ("rebuild", columnar)."""
    invoices: list[str] = []
    steps: list[tuple[str, Any]] = []
    batches = 0
    for n in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["invoice", "work", "work", "again", "rebuild"]))
        if kind == "invoice":
            key = f"I{n}"
            replaces = draw(st.one_of(st.none(), st.sampled_from(invoices))) if invoices else None
            steps.append(("append", draw(invoice_specs(key, replaces))))
            invoices.append(key)
        elif kind == "work":
            steps.append(("append", draw(work_specs(f"W{n}", invoices))))
        elif kind == "again" and batches:
            steps.append(("again", draw(st.integers(0, batches - 1))))
            continue
        elif kind == "rebuild":
            steps.append(("rebuild", draw(st.booleans())))
            continue
        else:
            continue
        batches += 1
    return steps


@pytest.fixture
def store(module_engine: Engine) -> Iterator[Engine]:
    yield module_engine
    _empty(module_engine)


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))


def _apply(engine: Engine, steps: list[tuple[str, Any]]) -> None:
    _empty(engine)
    for key, (entity, practice, customer) in PROJECTS.items():
        write_batch(
            engine, b.project(key, None, _at(0), entity, practice=practice, customer=customer)
        )
    appended: list[Batch] = []
    for kind, arg in steps:
        if kind == "append":
            appended.append(arg)
            write_batch(engine, arg)
        elif kind == "again":
            write_batch(engine, appended[arg])
        else:
            rebuild_case_facts(engine, columnar=arg)
        refresh_pending(engine)


def _same(left: Any, right: Any) -> None:
    assert KPI.figures[0].report(left) == KPI.figures[0].report(right)
    for name in ("undated", "fx_issues"):
        assert getattr(left, name) == getattr(right, name), name
    pd.testing.assert_frame_equal(left.buckets, right.buckets)
    pd.testing.assert_frame_equal(left.by_currency, right.by_currency)
    pd.testing.assert_frame_equal(left.items, right.items)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=logs(),
    at=hours,
    since=st.one_of(st.none(), hours),
    entity=st.sampled_from([(), ("US",)]),
)
def test_open_work_ages_as_the_whole_period(
    store: Engine,
    steps: list[tuple[str, Any]],
    at: int,
    since: int | None,
    entity: tuple[str, ...],
) -> None:
    _apply(store, steps)
    start = (T0 + timedelta(days=since // 24)).date() if since is not None else None
    filters = Filters(start=start, legal_entities=entity)
    instant = _at(at) + timedelta(minutes=30)
    for when in (instant, _at(at)):  # between events and on one
        period = load_work_items(store, filters, until=when, since=filters.start_at)
        open_work = load_open_work(store, filters, when, filters.start_at)
        assert len(open_work.items) <= len(period.items)
        _same(unbilled_aging(open_work, when, fx=FX), unbilled_aging(period, when, fx=FX))
