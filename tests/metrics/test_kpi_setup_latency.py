"""Project setup latency: hand-computed cases, written through the store (incremental facts).

Calendars: US (no holiday in these intervals), UK (Good Friday 3 April 2026), DE (Good Friday
and Easter Monday 6 April 2026). Business days are 24-hour weekdays that are not holidays.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from metrics.facts import write_and_refresh
from metrics.kpis.common import Filters
from metrics.kpis.setup_latency import SetupLatency, load_handoffs, setup_latency
from store.canonical import Activity
from tests.metrics.builders import at, deal, merge, project, stage

WON, LOST, REOPENED = Activity.DEAL_WON, Activity.DEAL_LOST, Activity.DEAL_REOPENED
AS_OF = at(2026, 4, 13, 9)


@pytest.fixture(scope="module")
def store(module_engine: Engine) -> Engine:
    """The golden handoffs, delivered in three batches like successive collector polls."""
    first = merge(
        # won twice: the first win (Mon 10:00) counts; project Wed 16:00 → 54 h = 2.25 days
        deal("D1"),
        stage("D1", WON, at(2026, 1, 5, 10)),
        project("P1", "D1", at(2026, 1, 7, 16), touchless=True),
        # two projects: the first (Mon 09:00) counts; Fri 15:00 → Mon 09:00 = 18 h = 0.75 days
        deal("D2"),
        stage("D2", WON, at(2026, 1, 9, 15)),
        project("P2a", "D2", at(2026, 1, 12, 9)),
        # the same Easter interval (Thu 12:00 → Tue 12:00) on three calendars
        deal("D3", "UK"),
        stage("D3", WON, at(2026, 4, 2, 12)),
        project("P3", "D3", at(2026, 4, 7, 12), "UK"),
        deal("D4", "DE"),
        stage("D4", WON, at(2026, 4, 2, 12)),
        project("P4", "D4", at(2026, 4, 7, 12), "DE"),
        deal("D5", "US", practice="Data"),
        stage("D5", WON, at(2026, 4, 2, 12)),
        project("P5", "D5", at(2026, 4, 7, 12), practice="Data"),
        # open at as-of: Wed 09:00 → Mon 09:00 = 3 business days, 120 h
        deal("D6", customer="Globex"),
        stage("D6", WON, at(2026, 4, 8, 9)),
        # excluded: needs no project; reopened then lost
        deal("D7", no_project=True),
        stage("D7", WON, at(2026, 1, 12, 10)),
        deal("D8"),
        stage("D8", WON, at(2026, 1, 12, 10)),
        project("P8", "D8", at(2026, 1, 13, 10)),
        # never won: no case
        deal("D9"),
        stage("D9", LOST, at(2026, 1, 12, 10)),
    )
    later = merge(
        stage("D1", REOPENED, at(2026, 1, 6, 9)),
        stage("D1", WON, at(2026, 1, 7, 12)),
        project("P2b", "D2", at(2026, 2, 3, 10)),
        stage("D8", REOPENED, at(2026, 1, 14, 9)),
        stage("D8", LOST, at(2026, 1, 14, 10)),
    )
    for batch in (first, later):
        write_and_refresh(module_engine, batch)
    return module_engine


def report(store: Engine, **kwargs: object) -> SetupLatency:
    filters = kwargs.pop("filters", Filters())
    assert isinstance(filters, Filters)
    return setup_latency(load_handoffs(store, filters), AS_OF, filters=filters, **kwargs)  # type: ignore[arg-type]


def test_the_first_win_and_the_first_project_count(store: Engine) -> None:
    cases = report(store).cases.set_index("deal_key")
    assert cases.loc["D1", "business_days"] == pytest.approx(2.25)
    assert cases.loc["D1", "calendar_hours"] == pytest.approx(54)
    assert cases.loc["D1", "wins"] == 2
    assert cases.loc["D2", "project_key"] == "P2a"
    assert cases.loc["D2", "projects"] == 2
    assert cases.loc["D2", "business_days"] == pytest.approx(0.75)
    assert cases.loc["D2", "calendar_hours"] == pytest.approx(66)


def test_public_holidays_are_skipped_on_each_entitys_calendar(store: Engine) -> None:
    cases = report(store).cases.set_index("deal_key")
    assert cases.loc["D3", "business_days"] == pytest.approx(2.0)  # UK: Good Friday
    assert cases.loc["D4", "business_days"] == pytest.approx(1.0)  # DE: and Easter Monday
    assert cases.loc["D5", "business_days"] == pytest.approx(3.0)  # US: neither
    assert set(cases.loc[["D3", "D4", "D5"], "calendar_hours"]) == {120.0}


def test_percentiles_target_share_and_touchless_share(store: Engine) -> None:
    r = report(store)
    # closed: 0.75, 1.0, 2.0, 2.25, 3.0 business days
    assert r.stats.cases == 5
    assert r.stats.p50_days == pytest.approx(2.0)
    assert r.stats.p90_days == pytest.approx(2.7)
    assert r.stats.within_target == pytest.approx(0.6)
    assert (r.stats.p50_hours, r.stats.p90_hours) == (pytest.approx(120), pytest.approx(120))
    assert r.touchless == 1 and r.touchless_share == pytest.approx(0.2)
    assert r.excluded == {"no_project_required": 1, "reopened_lost": 1}


def test_open_handoffs_are_aged_against_as_of(store: Engine) -> None:
    r = report(store)
    assert list(r.stuck["deal_key"]) == ["D6"]
    assert r.stuck.loc[0, "age_business_days"] == pytest.approx(3.0)
    assert r.stuck.loc[0, "age_hours"] == pytest.approx(120)
    earlier = setup_latency(load_handoffs(store), at(2026, 1, 7, 12))
    assert list(earlier.stuck["deal_key"]) == ["D1"]  # its project came at 16:00
    assert earlier.stuck.loc[0, "age_business_days"] == pytest.approx(50 / 24)


def test_trend_by_week_and_month(store: Engine) -> None:
    r = report(store)
    months = r.by_month.set_index("period")
    assert months.loc[date(2026, 1, 1), "cases"] == 2
    assert months.loc[date(2026, 1, 1), "p50_days"] == pytest.approx(1.5)
    assert months.loc[date(2026, 4, 1), "cases"] == 3
    assert months.loc[date(2026, 4, 1), "within_target"] == pytest.approx(2 / 3)
    weeks = r.by_week.set_index("period")
    assert list(weeks.index) == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 4, 6)]


def test_period_and_dimension_filters(store: Engine) -> None:
    april = report(store, filters=Filters(date(2026, 4, 1), date(2026, 5, 1)))
    assert sorted(april.cases["deal_key"]) == ["D3", "D4", "D5"]
    data = report(store, filters=Filters(practices=("Data",)))
    assert list(data.cases["deal_key"]) == ["D5"] and data.stuck.empty
    uk = report(store, filters=Filters(legal_entities=("UK", "DE")))
    assert sorted(uk.cases["deal_key"]) == ["D3", "D4"]
    globex = report(store, filters=Filters(customers=("Globex",)))
    assert globex.cases.empty and list(globex.stuck["deal_key"]) == ["D6"]
