"""The demo year through the real collectors: every KPI equals an independent computation
(`independent.py`: pm4py on the OCEL export for durations, pandas on raw tables for the rest),
and the incrementally refreshed case facts equal a full recompute after appending ~1 % events.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from collectors.demo_estate.truth import GroundTruth
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import run_collector
from metrics.facts import RefreshReport, rebuild_case_facts, refresh_pending
from metrics.fx import load_fx
from metrics.kpis.cash_impact import cash_impact
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.sync_trends import load_sync, sync_error_trends
from metrics.kpis.unbilled import load_work_items, unbilled_aging, wip_daily, wip_over_time
from store.ocel_export import write_ocel
from tests.collectors.conftest import TOKEN, settings_for
from tests.metrics import independent

pytestmark = pytest.mark.slow
FACT_TABLES = (
    "case_handoffs",
    "case_invoices",
    "case_work_items",
    "case_work_billing",
    "case_dimensions",
    "sync_daily",
    "sync_failures",
    "sync_traces",
)
APPEND_DAYS = 4
DAY, MONEY = 0.01, 0.01


@dataclass
class Demo:
    engine: Engine
    truth: GroundTruth
    as_of: datetime
    ocel: Any
    events: tuple[int, int]
    incremental: RefreshReport
    full: RefreshReport
    facts_incremental: dict[str, list[tuple[Any, ...]]]
    facts_full: dict[str, list[tuple[Any, ...]]]


def _collect(
    engine: Engine, server: DemoEstateServer, tag: str, refresh: Any = refresh_pending
) -> None:
    """Run the demo collectors (named with `tag`: their PostgreSQL advisory locks are
    database-wide, and other tests may collect the demo estate at the same time)."""
    for name in COLLECTORS:
        if name.startswith("demo_"):
            collector = build_collector(name, settings_for(server))
            collector = dataclasses.replace(collector, name=f"{name}-{tag}")  # type: ignore[type-var]
            report = run_collector(engine, collector, refresh=refresh)
            assert report.status == "success", report.error


def _facts(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
            for t in FACT_TABLES
        }


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


@pytest.fixture(scope="module")
def demo(module_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The year collected up to four days before its end, then the last days appended."""
    engine = module_engine
    tag = uuid.uuid4().hex[:8]
    estate = simulate(seed=7)
    clock = SimClock(estate.history_end - timedelta(days=APPEND_DAYS))
    refreshes: list[RefreshReport] = []
    real_refresh = refresh_pending

    def timed(engine: Any, *args: Any) -> RefreshReport:
        report = real_refresh(engine, *args)
        refreshes.append(report)
        return report

    with DemoEstateServer(estate, TOKEN, clock=clock, rate_limit=None) as server:
        _collect(engine, server, tag)
        before = _events(engine)
        clock.advance(timedelta(days=APPEND_DAYS))
        _collect(engine, server, tag, refresh=timed)
        truth = server.truth()
    incremental = RefreshReport(
        sum(r.cases for r in refreshes),
        sum(r.rows for r in refreshes),
        sum(r.seconds for r in refreshes),
    )
    facts_incremental = _facts(engine)
    full = rebuild_case_facts(engine)
    path = tmp_path_factory.mktemp("ocel") / "log.json"
    with path.open("w") as out:
        write_ocel(engine, out)
    print(
        f"\n{engine.dialect.name}: appended {_events(engine) - before} events to {before} "
        f"({(_events(engine) / before - 1):.1%}); incremental refresh {incremental.seconds:.2f}s "
        f"for {incremental.cases} cases; full recompute {full.seconds:.2f}s"
    )
    yield Demo(
        engine,
        truth,
        truth.as_of,
        independent.read_ocel(str(path)),
        (before, _events(engine)),
        incremental,
        full,
        facts_incremental,
        _facts(engine),
    )


def test_incremental_refresh_after_appending_one_percent_equals_a_full_recompute(
    demo: Demo,
) -> None:
    before, after = demo.events
    assert 0.005 <= after / before - 1 <= 0.02
    for table in FACT_TABLES:
        assert demo.facts_incremental[table] == demo.facts_full[table], table
    assert demo.facts_full["case_handoffs"] and demo.facts_full["sync_daily"]


def test_setup_latency_equals_pm4py_on_the_ocel_export(demo: Demo) -> None:
    kpi = setup_latency(load_handoffs(demo.engine), demo.as_of)
    other = independent.handoffs(demo.ocel, demo.as_of)
    cases = kpi.cases.assign(oid="deal:crm:" + kpi.cases["deal_key"]).set_index("oid")
    assert sorted(cases.index) == sorted(other.cases.index)
    joined = cases.join(other.cases.add_suffix("_pm4py"))
    assert np.allclose(joined["business_days"], joined["business_days_pm4py"], atol=DAY)
    assert np.allclose(joined["calendar_hours"], joined["calendar_hours_pm4py"], atol=DAY * 24)
    p50, p90 = independent.quantiles(other.cases["business_days"])
    assert kpi.stats.p50_days == pytest.approx(p50, abs=DAY)
    assert kpi.stats.p90_days == pytest.approx(p90, abs=DAY)
    assert kpi.stats.within_target == (other.cases["business_days"] <= 2.0).mean()
    assert kpi.touchless_share == pytest.approx(other.cases["touchless"].mean())
    stuck = kpi.stuck.assign(oid="deal:crm:" + kpi.stuck["deal_key"]).set_index("oid")
    assert sorted(stuck.index) == sorted(other.stuck.index)
    assert sorted(kpi.stuck["deal_key"]) == demo.truth.scenario["deals_without_project"]
    ages = stuck.join(other.stuck.add_suffix("_pm4py"))
    assert np.allclose(ages["age_business_days"], ages["age_business_days_pm4py"], atol=DAY)


def test_invoice_cycle_equals_the_independent_computation(demo: Demo) -> None:
    fx = load_fx(demo.engine, "USD")
    kpi = invoice_cycle(load_invoices(demo.engine), demo.as_of, fx=fx)
    other = independent.invoices(demo.ocel, demo.as_of)
    cases = kpi.cases.assign(oid="invoice:erp:" + kpi.cases["invoice_key"]).set_index("oid")
    assert sorted(cases.index) == sorted(other.index)
    joined = cases.join(other.add_suffix("_other"))
    assert np.allclose(joined["business_days"], joined["business_days_other"], atol=DAY)
    p50, p90 = independent.quantiles(other["business_days"])
    assert (kpi.stats.p50_days, kpi.stats.p90_days) == (
        pytest.approx(p50, abs=DAY),
        pytest.approx(p90, abs=DAY),
    )
    assert (
        kpi.corrections
        == int(other["reissue"].sum())
        == len(demo.truth.scenario["voided_reissued_invoices"])
    )
    assert kpi.correction_rate == pytest.approx(other["reissue"].mean())
    pay50, pay90 = independent.quantiles(other["days_to_pay"])
    assert kpi.days_to_pay.p50_days == pytest.approx(pay50, abs=DAY)
    assert kpi.days_to_pay.p90_days == pytest.approx(pay90, abs=DAY)
    assert kpi.days_to_pay.paid == int(other["days_to_pay"].notna().sum())


def test_unbilled_aging_equals_pandas_on_the_raw_tables_and_the_estate(demo: Demo) -> None:
    fx = load_fx(demo.engine, "USD")
    work = load_work_items(demo.engine)
    kpi = unbilled_aging(work, demo.as_of, fx=fx)
    other = independent.unbilled(demo.engine, demo.as_of)
    assert sorted(kpi.items["work_item_key"]) == sorted(other.index)
    mine = dict(zip(kpi.buckets["bucket"].astype(str), kpi.buckets["amount_rc"], strict=True))
    theirs = other.groupby("bucket")["amount_rc"].sum()
    for bucket, amount in mine.items():
        assert amount == pytest.approx(float(theirs.get(bucket, 0.0)), abs=MONEY), bucket
    # the estate's own ground truth: same items and the same money per currency
    truth = demo.truth
    assert kpi.total.items == sum(truth.wip_items.values())
    per_currency: dict[str, Decimal] = {}
    for by_currency in truth.wip_amounts.values():
        for currency, amount in by_currency.items():
            per_currency[currency] = per_currency.get(currency, Decimal(0)) + Decimal(amount)
    own = kpi.by_currency.groupby("currency")["amount"].sum()
    assert {c: round(float(v), 2) for c, v in own.items()} == {
        c: float(v) for c, v in per_currency.items()
    }


def test_wip_over_time_equals_independent_snapshots(demo: Demo) -> None:
    fx = load_fx(demo.engine, "USD")
    dates = [date(2026, m, 1) for m in (2, 5, 8)]
    series = wip_over_time(load_work_items(demo.engine), dates, fx=fx)
    for d, amount in zip(dates, series["amount_rc"], strict=True):
        other = independent.unbilled(
            demo.engine, datetime(d.year, d.month, d.day, tzinfo=demo.as_of.tzinfo)
        )
        assert amount == pytest.approx(float(other["amount_rc"].sum()), abs=MONEY), d


def test_wip_daily_equals_a_snapshot_per_day(demo: Demo) -> None:
    fx = load_fx(demo.engine, "USD")
    work = load_work_items(demo.engine)
    dates = [date(2026, 3, 1) + timedelta(days=n) for n in range(0, 120, 9)]
    daily = wip_daily(work, dates, fx=fx)
    assert daily["as_of"].nunique() == len(dates)
    for d in dates:
        snap = unbilled_aging(work, datetime(d.year, d.month, d.day, tzinfo=UTC), fx=fx).items
        mine = daily[daily["as_of"] == d].set_index("work_item_key").sort_index()
        theirs = snap.set_index("work_item_key").sort_index()
        assert list(mine.index) == list(theirs.index), d
        assert list(mine["age_days"]) == list(theirs["age_days"]), d
        assert list(mine["bucket"].astype(str)) == list(theirs["bucket"]), d
        assert mine["amount_rc"].to_numpy() == pytest.approx(theirs["amount_rc"].to_numpy()), d


def test_sync_error_trends_equal_pandas_on_the_raw_attempts(demo: Demo) -> None:
    kpi = sync_error_trends(load_sync(demo.engine), demo.as_of)
    other = independent.sync(demo.engine, demo.as_of)
    t = kpi.totals
    assert (t.attempts, t.first_attempts, t.failed_first_attempts, t.retries) == (
        other["attempts"],
        other["first_attempts"],
        other["failed_first_attempts"],
        other["retries"],
    )
    assert t.failing_records == other["failing_records"]
    assert t.attempts == demo.truth.sync_attempts
    daily = kpi.daily.set_index(["day", "integration", "flow"])
    for column in (
        "attempts",
        "first_attempts",
        "failed_first_attempts",
        "retries",
        "failing_records",
    ):
        assert daily[column].to_dict() == other["by_day"][column].to_dict(), column
    classes = kpi.error_classes.set_index("error_class")["failed_attempts"]
    assert classes.to_dict() == other["classes"].to_dict()
    assert set(kpi.open_exceptions["trace_key"]) == other["open"]
    assert len(other["open"]) == demo.truth.sync_open_exceptions
    p50, p90 = independent.quantiles(other["ttr_hours"])
    assert kpi.time_to_resolve.p50_hours == pytest.approx(p50, abs=DAY * 24)
    assert kpi.time_to_resolve.p90_hours == pytest.approx(p90, abs=DAY * 24)
    release = demo.truth.scenario["bad_release_day"]
    assert (release, "crm-psa") in set(
        zip(kpi.spikes["day"], kpi.spikes["integration"], strict=True)
    )


def test_cash_impact_equals_the_independent_money_days(demo: Demo) -> None:
    fx = load_fx(demo.engine, "USD")
    setup = setup_latency(load_handoffs(demo.engine), demo.as_of, fx=fx)
    cycle = invoice_cycle(load_invoices(demo.engine), demo.as_of, fx=fx)
    wip = unbilled_aging(load_work_items(demo.engine), demo.as_of, fx=fx)
    impact = cash_impact(setup, cycle, wip)
    rates = independent.fx_rates(demo.engine)
    inv = independent.invoices(demo.ocel, demo.as_of)
    inv_rc = sum(
        float(independent.to_reporting(pd.DataFrame([row]), rates, row["posted"].date()).iloc[0])
        * row["calendar_hours"]
        / 24
        for _, row in inv.iterrows()
    )
    other_wip = independent.unbilled(demo.engine, demo.as_of)
    assert impact.parts["invoicing_delay"] == pytest.approx(inv_rc, abs=MONEY)
    assert impact.parts["unbilled_work"] == pytest.approx(
        float((other_wip["amount_rc"] * other_wip["age"]).sum()), abs=MONEY
    )
    print(
        f"\ndemo KPIs: setup p50/p90 {setup.stats.p50_days:.2f}/{setup.stats.p90_days:.2f} bd; "
        f"invoice cycle p50/p90 {cycle.stats.p50_days:.2f}/{cycle.stats.p90_days:.2f} bd; "
        f"unbilled {wip.total.amount_rc:,.2f} USD; cash impact {impact.total_money_days:,.0f}"
    )
