"""Loaders bounded by the period read less history and change no figure in the period.

Generated work item facts (with their billing history, the current invoice's posting as
`billed_at` unless it was voided, as the fact builder writes it) go into the store; for any
`since` ≤ D, the items read with `since` give the same WIP at D and the same daily snapshots
from `since` on as the items read without it, and the write-offs from `since` on.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert

from metrics.fx import FxTable
from metrics.kpis.common import Filters
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.unbilled import load_work_items, unbilled_aging, wip_daily
from store.tables import CaseHandoff, CaseInvoice, CaseWorkBilling, CaseWorkItem

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FX = FxTable([], "USD")
hours = st.integers(0, 180 * 24)
times = hours.map(lambda h: T0 + timedelta(hours=h))
maybe_times = st.one_of(st.none(), times)


@st.composite
def work_facts(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Work item fact rows and their billing rows, as the fact builder writes them."""
    items, billing = [], []
    for i in range(draw(st.integers(0, 30))):
        approved = draw(maybe_times)
        bills = [
            {
                "work_item_id": i,
                "invoice_id": 1000 * i + n,
                "posted_at": draw(maybe_times),
                "voided_at": draw(maybe_times),
            }
            for n in range(draw(st.integers(0, 3)))
        ]
        current = bills[-1] if bills and draw(st.booleans()) else None
        billed_at = current["posted_at"] if current and current["voided_at"] is None else None
        status = "approved" if approved else draw(st.sampled_from(["submitted", "on_hold"]))
        items.append(
            {
                "work_item_id": i,
                "work_item_key": f"W{i:03}",
                "kind": "time",
                "project_id": None,
                "legal_entity": "US",
                "practice": "Cloud",
                "customer": "Acme",
                "currency": "USD",
                "amount": draw(st.decimals("0.01", "9999", places=2)),
                "billable": True,
                "status": status,
                "work_date": draw(
                    st.one_of(st.none(), st.dates(date(2025, 12, 1), date(2026, 6, 30)))
                ),
                "logged_at": approved,
                "approved_at": approved,
                "last_approved_at": approved,
                "written_off_at": draw(maybe_times) if approved else None,
                "invoice_id": current["invoice_id"] if current else None,
                "billed_at": billed_at,
            }
        )
        billing += bills
    return items, billing


@pytest.fixture(scope="module")
def facts(module_engine: Engine) -> Iterator[Engine]:
    yield module_engine
    with module_engine.begin() as conn:
        for table in (CaseWorkItem, CaseWorkBilling, CaseHandoff, CaseInvoice):
            conn.execute(delete(table))


def _replace(engine: Engine, rows: dict[Any, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for model, values in rows.items():
            conn.execute(delete(model))
            if values:
                conn.execute(insert(model), values)


def _keys(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["work_item_key"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(work_facts(), hours, hours)
def test_work_read_from_since_gives_the_same_wip_from_since_on(
    facts: Engine, data: tuple[list[dict[str, Any]], list[dict[str, Any]]], a: int, b: int
) -> None:
    items, billing = data
    _replace(facts, {CaseWorkItem: items, CaseWorkBilling: billing})
    since, as_of = sorted((T0 + timedelta(hours=a), T0 + timedelta(hours=b)))
    whole = load_work_items(facts, until=as_of)
    bounded = load_work_items(facts, until=as_of, since=since)
    assert set(bounded.items["work_item_key"]) <= set(whole.items["work_item_key"])

    full, part = unbilled_aging(whole, as_of, fx=FX), unbilled_aging(bounded, as_of, fx=FX)
    assert _keys(part.items) == _keys(full.items)
    assert part.total.amount_rc == pytest.approx(full.total.amount_rc)
    assert (part.holds.items, part.holds.amount_rc) == (full.holds.items, full.holds.amount_rc)
    offs = whole.items[
        (whole.items["approved_at"] <= as_of)
        & (whole.items["written_off_at"] <= as_of)
        & (whole.items["written_off_at"] >= since)
    ]
    assert part.write_offs.items == len(offs)

    days = [since.date() + timedelta(days=n) for n in range(1, (as_of - since).days + 1)]
    cols = ["as_of", "work_item_key", "age_days"]
    expect = wip_daily(whole, days, fx=FX)[cols].sort_values(cols).reset_index(drop=True)
    got = wip_daily(bounded, days, fx=FX)[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expect, check_dtype=False, check_categorical=False)


def test_a_period_leaves_out_work_billed_or_written_off_before_it(facts: Engine) -> None:
    jan, feb, mar = (datetime(2026, m, 10, tzinfo=UTC) for m in (1, 2, 3))
    base = {
        "kind": "time",
        "project_id": None,
        "legal_entity": "US",
        "practice": None,
        "customer": "Acme",
        "currency": "USD",
        "amount": "100.00",
        "billable": True,
        "status": "approved",
        "work_date": None,
        "logged_at": jan,
        "approved_at": jan,
        "last_approved_at": jan,
        "written_off_at": None,
        "invoice_id": None,
        "billed_at": None,
    }
    items = [
        {**base, "work_item_id": 1, "work_item_key": "billed-before", "billed_at": jan},
        {**base, "work_item_id": 2, "work_item_key": "billed-in", "billed_at": mar},
        {**base, "work_item_id": 3, "work_item_key": "off-before", "written_off_at": jan},
        {**base, "work_item_id": 4, "work_item_key": "off-in", "written_off_at": mar},
        {**base, "work_item_id": 5, "work_item_key": "open"},
        {
            **base,
            "work_item_id": 6,
            "work_item_key": "hold",
            "status": "on_hold",
            "approved_at": None,
            "written_off_at": jan,
        },
    ]
    billing = [
        {"work_item_id": 1, "invoice_id": 11, "posted_at": jan, "voided_at": None},
        {"work_item_id": 2, "invoice_id": 12, "posted_at": mar, "voided_at": None},
    ]
    _replace(facts, {CaseWorkItem: items, CaseWorkBilling: billing})
    read = load_work_items(facts, until=mar, since=feb)
    assert _keys(read.items) == ["billed-in", "hold", "off-in", "open"]
    assert read.since == feb
    r = unbilled_aging(read, mar, fx=FX)
    assert (r.write_offs.items, r.holds.items) == (1, 1)
    assert _keys(r.items) == ["open"]


def _handoff(
    key: str, won: datetime, created: datetime | None, excluded: str | None = None
) -> dict[str, Any]:
    return {
        "deal_id": zlib.crc32(key.encode()),
        "deal_key": key,
        "legal_entity": "US",
        "practice": None,
        "customer": None,
        "owner": None,
        "currency": "USD",
        "amount": "10.00",
        "won_at": won,
        "wins": 1,
        "excluded": excluded,
        "project_id": None,
        "project_key": None,
        "project_created_at": created,
        "projects": 1 if created else 0,
        "touchless": None,
    }


def test_excluded_deals_are_counted_in_the_period_they_were_won(facts: Engine) -> None:
    jan, feb, mar = (datetime(2026, m, 10, tzinfo=UTC) for m in (1, 2, 3))
    _replace(
        facts,
        {
            CaseHandoff: [
                _handoff("old-excluded", jan, None, "no_project_required"),
                _handoff("new-excluded", mar, None, "reopened_lost"),
                _handoff("old-closed", jan, jan + timedelta(days=2)),
                _handoff("stuck", jan, None),
                _handoff("closed-in", feb, mar),
            ]
        },
    )
    period = Filters(start=feb.date())
    frame = load_handoffs(facts, period)
    assert sorted(frame["deal_key"]) == ["closed-in", "new-excluded", "stuck"]
    kpi = setup_latency(frame, mar + timedelta(days=1), filters=period)
    assert kpi.excluded == {"reopened_lost": 1}
    assert list(kpi.stuck["deal_key"]) == ["stuck"] and kpi.stats.cases == 1
    everything = setup_latency(load_handoffs(facts), mar + timedelta(days=1))
    assert everything.excluded == {"no_project_required": 1, "reopened_lost": 1}


def _invoice(key: str, posted: datetime | None, voided: datetime | None = None) -> dict[str, Any]:
    trigger = datetime(2025, 12, 1, tzinfo=UTC)
    return {
        "invoice_id": zlib.crc32(key.encode()),
        "invoice_key": key,
        "kind": "invoice",
        "billing_type": "time_and_materials",
        "legal_entity": "US",
        "practice": None,
        "customer": None,
        "currency": "USD",
        "amount": "10.00",
        "project_id": None,
        "milestone_id": None,
        "reissue_of": None,
        "work_items": 1,
        "period_end_at": None,
        "last_approved_at": trigger,
        "milestone_accepted_at": None,
        "trigger_at": trigger,
        "created_at": trigger,
        "posted_at": posted,
        "sent_at": None,
        "voided_at": voided,
        "paid_at": None,
    }


def test_an_invoice_posted_before_the_period_and_voided_in_it_counts_as_voided(
    facts: Engine,
) -> None:
    jan, feb, mar = (datetime(2026, m, 10, tzinfo=UTC) for m in (1, 2, 3))
    _replace(
        facts,
        {
            CaseInvoice: [
                _invoice("posted-before", jan),
                _invoice("voided-in", jan, mar),
                _invoice("posted-in", mar),
                _invoice("waiting", None),
            ]
        },
    )
    period = Filters(start=feb.date())
    frame = load_invoices(facts, period)
    assert sorted(frame["invoice_key"]) == ["posted-in", "voided-in", "waiting"]
    kpi = invoice_cycle(frame, mar + timedelta(days=1), filters=period)
    assert (kpi.voided, kpi.stats.cases, len(kpi.waiting)) == (1, 1, 1)
