"""Properties of the KPI math, over generated cases (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.facts.handoffs import ProjectStart, handoff_row
from metrics.facts.invoices import billing_trigger
from metrics.fx import FxTable
from metrics.kpis.common import duration_stats
from metrics.kpis.unbilled import WorkItems, unbilled_aging
from store.canonical import Activity

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = datetime(2026, 7, 1, tzinfo=UTC)
FX = FxTable(
    [(date(2026, 6, 30), "GBP", "USD", 1.25), (date(2026, 7, 1), "EUR", "USD", 1.1)], "USD"
)
times = st.integers(0, 180 * 24).map(lambda h: T0 + timedelta(hours=h))


@st.composite
def work_items(draw: st.DrawFn) -> WorkItems:
    n = draw(st.integers(0, 25))
    rows, billing = [], []
    for i in range(n):
        approved = draw(st.one_of(st.none(), times))
        rows.append(
            {
                "work_item_id": i,
                "work_item_key": f"W{i}",
                "kind": "time",
                "legal_entity": draw(st.sampled_from(["US", "UK", "DE"])),
                "practice": draw(st.sampled_from(["Cloud", "Data"])),
                "customer": "Acme",
                "currency": draw(st.sampled_from(["USD", "GBP", "EUR"])),
                "amount": draw(st.decimals("0.01", "100000", places=2)),
                "status": "approved"
                if approved
                else draw(st.sampled_from(["submitted", "on_hold"])),
                "work_date": draw(st.dates(date(2025, 6, 1), date(2026, 6, 30))),
                "logged_at": approved,
                "approved_at": approved,
                "written_off_at": draw(st.one_of(st.none(), times)) if approved else None,
                "billed_at": None,
            }
        )
        for _ in range(draw(st.integers(0, 2))):
            billing.append(
                {
                    "work_item_id": i,
                    "posted_at": draw(times),
                    "voided_at": draw(st.one_of(st.none(), times)),
                }
            )
    return WorkItems(
        pd.DataFrame(
            rows,
            columns=[
                "work_item_id",
                "work_item_key",
                "kind",
                "legal_entity",
                "practice",
                "customer",
                "currency",
                "amount",
                "status",
                "work_date",
                "logged_at",
                "approved_at",
                "written_off_at",
                "billed_at",
            ],
        ),
        pd.DataFrame(billing, columns=["work_item_id", "posted_at", "voided_at"]),
    )


@settings(max_examples=60, deadline=None)
@given(work_items(), st.sampled_from([(), ("legal_entity",), ("practice", "currency")]))
def test_aging_buckets_sum_to_the_total_unbilled(work: WorkItems, by: tuple[str, ...]) -> None:
    r = unbilled_aging(work, AS_OF, fx=FX, by=by)
    assert r.buckets["items"].sum() == r.total.items == len(r.items)
    assert r.buckets["amount_rc"].sum() == pytest.approx(r.total.amount_rc)
    assert r.by_currency["amount"].sum() == pytest.approx(float(r.items["amount"].sum()))


@given(st.lists(st.floats(-5, 400, allow_nan=False), min_size=1), st.floats(0, 10))
def test_p50_never_exceeds_p90(days: list[float], target: float) -> None:
    s = duration_stats(days, days, target)
    assert s.p50_days is not None and s.p90_days is not None
    assert s.p50_days <= s.p90_days
    assert s.within_target is not None and 0 <= s.within_target <= 1


stage_events = st.lists(
    st.tuples(
        st.sampled_from([Activity.DEAL_WON, Activity.DEAL_LOST, Activity.DEAL_REOPENED]), times
    ),
    max_size=6,
)


@given(times, st.integers(0, 30 * 24), stage_events, st.booleans())
def test_a_later_event_never_changes_a_closed_handoffs_start(
    won: datetime, delay: int, later: list[tuple[Activity, datetime]], new_project: bool
) -> None:
    created = won + timedelta(hours=delay)
    project = ProjectStart(1, "P1", created, False)
    closed = handoff_row(7, None, {Activity.DEAL_WON: [won]}, [project])
    stages: dict[str, list[datetime]] = {Activity.DEAL_WON: [won]}
    for activity, when in later:
        stages.setdefault(activity, []).append(max(when, created + timedelta(seconds=1)))
    projects = [project, ProjectStart(2, "P2", created + timedelta(days=1), True)]
    after = handoff_row(
        7, None, {k: sorted(v) for k, v in stages.items()}, projects if new_project else [project]
    )
    assert closed is not None and after is not None
    assert after["won_at"] == closed["won_at"] == won
    assert after["project_created_at"] == closed["project_created_at"]


@given(st.lists(times, max_size=5), times, st.lists(times, max_size=3))
def test_a_later_approval_never_moves_a_posted_invoices_trigger(
    approvals: list[datetime], posted: datetime, later: list[datetime]
) -> None:
    before = billing_trigger("2026-01-31", [t for t in approvals if t <= posted], None, posted)
    after = billing_trigger(
        "2026-01-31",
        approvals + [t + (posted - T0) + timedelta(hours=1) for t in later],
        None,
        posted,
    )
    assert after.at == before.at
