"""The real collectors against the live demo estate on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collectors.demo_estate.server import DemoEstateServer
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import RunReport, run_collector
from metrics.facts import refresh_pending
from store.tables import CollectorRun, Quarantine
from tests.collectors.conftest import settings_for
from tests.collectors.store_truth import nonzero, store_summary

DEMO = [name for name in COLLECTORS if name.startswith("demo_")]


def collect_all(engine: Engine, server: DemoEstateServer, **overrides: object) -> list[RunReport]:
    settings = settings_for(server)
    reports = []
    for name in DEMO:
        collector = build_collector(name, settings)
        if overrides:
            collector = dataclasses.replace(collector, **overrides)  # type: ignore[type-var]
        reports.append(run_collector(engine, collector, refresh=refresh_pending))
    return reports


def assert_store_matches_truth(engine: Engine, server: DemoEstateServer) -> None:
    truth = server.truth()
    stored = store_summary(engine)
    assert stored["objects"] == nonzero(truth.objects)
    assert stored["events"] == nonzero(truth.events)
    assert stored["sync_attempts"] == truth.sync_attempts
    assert stored["sync_attempts_failed"] == truth.sync_attempts_failed
    assert stored["checksums"] == {
        t: c for t, c in truth.object_keys_checksum.items() if truth.objects.get(t)
    }
    assert stored["amounts"] == {
        t: Decimal(v)
        for t, v in truth.amount_totals.items()
        if Decimal(v) or t in stored["amounts"]
    }
    current, superseded = nonzero(truth.links), truth.links_superseded
    for qualifier, count in stored["links"].items():
        assert (
            current.get(qualifier, 0)
            <= count
            <= current.get(qualifier, 0) + superseded.get(qualifier, 0)
        ), qualifier
    assert set(stored["links"]) == set(current)


def test_a_full_backfill_stores_exactly_what_the_simulator_generated(
    engine: Engine, demo_server: DemoEstateServer
) -> None:
    started = time.perf_counter()
    reports = collect_all(engine, demo_server)
    elapsed = time.perf_counter() - started
    assert [r.status for r in reports] == ["success"] * len(DEMO), [r.error for r in reports]
    assert_store_matches_truth(engine, demo_server)
    assert store_summary(engine)["links"] == nonzero(demo_server.truth().links)
    with Session(engine) as s:
        assert s.scalars(select(Quarantine)).all() == []
    rows = sum(r.rows_written for r in reports)
    print(f"\n{engine.dialect.name}: demo year backfill {elapsed:.1f}s, {rows} rows")


def test_a_second_run_stores_nothing_new(engine: Engine, demo_server: DemoEstateServer) -> None:
    collect_all(engine, demo_server)
    before = store_summary(engine)
    again = collect_all(engine, demo_server)
    assert [r.status for r in again] == ["success"] * len(DEMO)
    assert [r.rows_written for r in again] == [0] * len(DEMO)
    assert store_summary(engine) == before


def test_records_appearing_in_live_mode_are_picked_up_by_the_next_poll(
    engine: Engine, demo_server: DemoEstateServer
) -> None:
    collect_all(engine, demo_server)
    first = store_summary(engine)
    demo_server.clock.advance(timedelta(days=10))
    later = collect_all(engine, demo_server)
    assert sum(r.rows_written for r in later) > 0
    grown = store_summary(engine)
    assert sum(grown["events"].values()) > sum(first["events"].values())
    assert_store_matches_truth(engine, demo_server)


def test_a_run_meeting_429s_503s_and_timeouts_recovers_with_nothing_lost_or_doubled(
    engine: Engine, demo_server: DemoEstateServer
) -> None:
    for prefix in ("/crm", "/psa", "/erp", "/ipaas"):
        demo_server.inject(prefix, statuses=[429, 503, 502], count=3)
        demo_server.inject_timeout(prefix, seconds=4.0, count=1)
    reports = collect_all(engine, demo_server, timeout=2.0)
    assert [r.status for r in reports] == ["success"] * len(DEMO), [r.error for r in reports]
    statuses = [status for _, status in demo_server.requests_log]
    assert statuses.count(429) == 4 and statuses.count(503) == 4 and statuses.count(502) == 4
    assert_store_matches_truth(engine, demo_server)
    again = collect_all(engine, demo_server)
    assert sum(r.rows_written for r in again) == 0


def test_a_malformed_record_is_quarantined_with_its_reason_and_its_page_is_stored(
    engine: Engine, demo_server: DemoEstateServer
) -> None:
    estate = demo_server.estate
    victim = estate.records["Opportunity"][5].id
    estate.corrupt("Opportunity", victim, "Amount", "abc")
    try:
        reports = collect_all(engine, demo_server)
    finally:
        estate.clear_corruptions()
    crm = next(r for r in reports if r.collector == "demo_crm")
    assert crm.status == "success" and crm.quarantined == 1
    with Session(engine) as s:
        (row,) = s.scalars(select(Quarantine)).all()
        run = s.scalars(select(CollectorRun).where(CollectorRun.collector == "demo_crm")).one()
    assert (row.collector, row.stream, row.source_key) == ("demo_crm", "opportunities", victim)
    assert row.reason == "Amount is not a number: 'abc'"
    assert run.rows_quarantined == 1
    stored = store_summary(engine)
    assert stored["objects"]["deal"] == demo_server.truth().objects["deal"] - 1
    assert stored["events"] == nonzero(demo_server.truth().events)
