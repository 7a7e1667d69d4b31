"""Property: whatever faults the sources throw, once they stop the store converges to the truth.

For each seeded ``FaultSchedule`` the four demo collectors run through a ``FlakyProxy`` (5xx and
429 bursts, ``Retry-After``, connect and read timeouts, resets mid-body, truncated JSON, empty,
repeated and swapped pages, a token expiring mid-run), pass after pass until a pass meets no
fault and every run succeeds. Then the store's full row sets (objects, events, event-object
relations, links, sync attempts, FX rates) and cursors equal those of a fault-free collection
of the same estate — no row lost, none doubled — and so does every KPI of the report. On the
way: every failed or partial run is in the run log with a reason naming a fault that hit it,
every fault that must fail a stream did, every ``Retry-After`` was waited out, and no secret
reached the run log.

A failing schedule prints itself; replay it alone with ``THROUGHLINE_RESILIENCE_SEED=<seed>``.
CI runs 12 schedules on SQLite (each fault kind featured by at least one), every fifth also on
PostgreSQL; ``THROUGHLINE_RESILIENCE_LONG=1`` runs 200 (and 40 on PostgreSQL). One more test pins the case the
property found: a page swapped with the next, then the walk failing before the next arrives.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collectors.auth import ClientCredentialsGrant, OAuthTokenProvider
from collectors.base import HttpCollector, Stream
from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.http import BearerAuth, RetryPolicy
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import RunReport, run_collector
from metrics.db import make_engine
from metrics.migrate import upgrade
from metrics.models import CollectorRun
from metrics.report import differences, kpi_report
from tests.collectors.conftest import TOKEN
from tests.resilience.flaky_proxy import (
    MAX_BURST,
    SIGNATURES,
    Fault,
    FaultSchedule,
    Fired,
    FlakyProxy,
    Kind,
)
from tests.resilience.store_rows import TALLY, Snapshot, compare, snapshot
from throughline.settings import CollectorSettings, Settings

DEMO = [name for name in COLLECTORS if name.startswith("demo_")]
PAGE_SIZE = 25  # small pages: many page boundaries for faults to fall on
TIMEOUT = httpx.Timeout(5.0, connect=0.25, read=1.0)
RETRY = RetryPolicy(base_delay=0.02, max_delay=0.2)  # production attempts and Retry-After cap
MAX_PASSES = 8
LONG = os.environ.get("THROUGHLINE_RESILIENCE_LONG") == "1"
REPLAY = os.environ.get("THROUGHLINE_RESILIENCE_SEED")
CI_SCHEDULES = 12
SEEDS = [int(REPLAY)] if REPLAY else list(range(200 if LONG else CI_SCHEDULES))
ON_POSTGRES = SEEDS if REPLAY else SEEDS[::5]  # PostgreSQL: every fifth


@dataclass(frozen=True)
class Baseline:
    """A fault-free collection of the small estate: its rows, KPIs and API request count."""

    rows: Snapshot
    kpis: dict[str, Any]
    requests: int


@dataclass
class Run:
    """One collector run in one pass, and the faults fired while it ran."""

    report: RunReport
    fired: list[Fired]
    carried: set[Kind] = field(default_factory=set)  # a black hole left by the run before


def demo_collectors(base_url: str, auth: httpx.Auth | None = None) -> list[HttpCollector]:
    """The registered demo collectors on `base_url`, with small pages (and `auth` if given)."""
    settings = Settings(
        database_url="sqlite://", demo_token=SecretStr(TOKEN),
        collectors={name: CollectorSettings(base_url=base_url) for name in DEMO},
    )  # fmt: skip
    built = []
    for name in DEMO:
        collector = build_collector(name, settings)
        assert isinstance(collector, HttpCollector)
        changes: dict[str, Any] = {
            "streams": [_small_pages(s) for s in collector.streams], "timeout": TIMEOUT,
            "retry": RETRY, "auth": auth or collector.auth,
        }  # fmt: skip
        built.append(dataclasses.replace(collector, **changes))
    return built


def _small_pages(stream: Stream) -> Stream:
    for size_field in ("page_size", "limit"):
        if hasattr(stream, size_field):
            return dataclasses.replace(stream, **{size_field: PAGE_SIZE})  # type: ignore[type-var]
    return stream  # the CRM's page size is the server's (200, its minimum)


def new_store(folder: Path) -> Engine:
    engine = make_engine(f"sqlite:///{folder}/store.db")
    upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def baseline(
    small_server: DemoEstateServer, small_estate: Estate, tmp_path_factory: pytest.TempPathFactory
) -> Baseline:
    """Collect the small estate once, straight from its APIs, with nothing going wrong."""
    engine = new_store(tmp_path_factory.mktemp("baseline"))
    before = len(small_server.requests_log)
    reports = [run_collector(engine, c) for c in demo_collectors(small_server.base_url)]
    assert [r.status for r in reports] == ["success"] * len(DEMO), [r.error for r in reports]
    result = Baseline(
        snapshot(engine), kpi_report(engine, small_estate.history_end),
        len(small_server.requests_log) - before,
    )  # fmt: skip
    engine.dispose()
    return result


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty migrated store of the kind the test names ("sqlite" or "postgresql")."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_schema_engine"
    engine: Engine = request.getfixturevalue(name)
    upgrade(engine)
    yield engine


def collect_pass(engine: Engine, collectors: list[HttpCollector], proxy: FlakyProxy) -> list[Run]:
    """Run every collector once; a crash (an exception out of the runner) fails the test."""
    runs: list[Run] = []
    for collector in collectors:
        start = len(proxy.fired)
        report = run_collector(engine, collector)
        runs.append(Run(report, proxy.fired[start:]))
    return runs


def collect_until_clean(
    engine: Engine, proxy: FlakyProxy, schedule: FaultSchedule
) -> list[list[Run]]:
    """Passes until one meets no fault, every run succeeds and no fault is left to fire."""
    provider = OAuthTokenProvider(
        proxy.token_url, ClientCredentialsGrant(proxy.client_id, proxy.client_secret)
    )
    collectors = demo_collectors(
        proxy.base_url, BearerAuth(provider.token, refresh=provider.refresh)
    )
    passes: list[list[Run]] = []
    last: Fired | None = None
    while len(passes) < MAX_PASSES:
        runs = collect_pass(engine, collectors, proxy)
        for run in runs:  # a black hole outlives the request that opened it
            if last is not None and last.fault.kind is Kind.CONNECT_TIMEOUT:
                run.carried.add(Kind.CONNECT_TIMEOUT)
            last = run.fired[-1] if run.fired else None
        passes.append(runs)
        proxy.drop_passed()
        quiet = not any(run.fired for run in runs)
        if quiet and not proxy.pending() and all(r.report.status == "success" for r in runs):
            return passes
    pytest.fail(f"no clean pass after {MAX_PASSES} passes; {schedule}", pytrace=False)


def check_run_log(
    engine: Engine, passes: list[list[Run]], proxy: FlakyProxy, schedule: FaultSchedule
) -> int:
    """Each failed or partial run is logged with a reason naming a fault that hit it; every
    fault that must fail a stream did. Returns how many runs failed."""
    with Session(engine) as s:
        logged = {r.id: r for r in s.scalars(select(CollectorRun))}
    assert len(logged) == sum(len(runs) for runs in passes)
    assert {r.status for r in logged.values()} <= {"success", "partial", "failed"}
    # the request each fault first hit (a burst may spill into the next run)
    starts: dict[Fault, int] = {}
    for fired in proxy.fired:
        starts.setdefault(fired.fault, fired.ordinal)
    failed = 0
    for runs in passes:
        for run in runs:
            report = run.report
            row = logged[report.run_id or -1]
            assert (row.status, row.error) == (report.status, report.error), schedule
            if report.status != "success":
                failed += 1
                kinds = {f.fault.kind for f in run.fired} | run.carried
                names = [s for k in kinds for s in SIGNATURES[k]]
                for stream in report.streams:
                    if stream.error:
                        assert any(n in stream.error for n in names), (stream.error, schedule)
            for fired in run.fired:
                if fired.fault.always_fails and starts[fired.fault] == fired.ordinal:
                    names = list(SIGNATURES[fired.fault.kind])
                    errors = [s.error or "" for s in report.streams]
                    assert any(n in e for n in names for e in errors), (fired, errors, schedule)
    return failed


def check_no_secret_logged(engine: Engine, proxy: FlakyProxy) -> None:
    with Session(engine) as s:
        errors = " ".join(r.error or "" for r in s.scalars(select(CollectorRun)))
    assert proxy.client_secret not in errors and TOKEN not in errors


def assert_converged(
    store: Engine, proxy: FlakyProxy, passes: list[list[Run]], baseline: Baseline,
    as_of: datetime, schedule: FaultSchedule,
) -> None:  # fmt: skip
    """The run log, Retry-After and secrets checks, then rows, cursors and KPIs as the
    baseline's; adds what happened to the tally."""
    assert proxy.violations == [], schedule  # every Retry-After was waited out
    expired = sum(f.fault.kind is Kind.TOKEN_EXPIRED for f in proxy.fired)
    assert proxy.tokens_issued == 1 + expired, schedule  # one new token after each expiry
    failed = check_run_log(store, passes, proxy, schedule)
    check_no_secret_logged(store, proxy)
    diff = compare(baseline.rows, snapshot(store))
    TALLY.schedules += 1
    TALLY.passes += len(passes)
    TALLY.failed_runs += failed
    TALLY.faults.update(str(f.fault.kind) for f in proxy.fired)
    TALLY.rows_compared += baseline.rows.size()
    TALLY.rows_lost += diff.rows_lost
    TALLY.rows_doubled += diff.rows_doubled
    assert (diff.rows_lost, diff.rows_doubled) == (0, 0), (schedule, diff.lost, diff.examples)
    assert snapshot(store).cursors == baseline.rows.cursors, schedule
    assert differences(kpi_report(store, as_of), baseline.kpis) == [], schedule


def test_schedules_are_replayable_and_ci_features_every_fault_kind() -> None:
    schedules = [FaultSchedule.generate(seed, 60) for seed in SEEDS[:CI_SCHEDULES]]
    assert {f.kind for s in schedules for f in s.faults} == set(Kind)
    assert FaultSchedule.generate(7, 60) == FaultSchedule.generate(7, 60)
    assert str(FaultSchedule.generate(7, 60)).startswith(
        "FaultSchedule.generate(seed=7, span=60): #"
    )


@pytest.mark.parametrize(
    ("seed", "store"),
    [(s, "sqlite") for s in SEEDS]
    + [pytest.param(s, "postgresql", marks=pytest.mark.postgres) for s in ON_POSTGRES],
    indirect=["store"],
)
def test_after_any_fault_schedule_the_store_and_kpis_equal_a_fault_free_run(
    seed: int, store: Engine, small_server: DemoEstateServer, small_estate: Estate,
    baseline: Baseline,
) -> None:  # fmt: skip
    schedule = FaultSchedule.generate(seed, baseline.requests)
    with FlakyProxy(small_server.base_url, TOKEN, schedule) as proxy:
        passes = collect_until_clean(store, proxy, schedule)
    assert_converged(store, proxy, passes, baseline, small_estate.history_end, schedule)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_page_swapped_with_the_next_then_a_failed_walk_loses_no_row(
    store: Engine, small_server: DemoEstateServer, small_estate: Estate, baseline: Baseline
) -> None:
    """The CRM's first accounts page arrives with the second page's records, then the second
    page fails: the cursor must not pass the first page's records, which were never stored."""
    faults = (Fault(0, Kind.OUT_OF_ORDER), Fault(1, Kind.HTTP_503, MAX_BURST))
    schedule = FaultSchedule(-1, baseline.requests, faults)
    with FlakyProxy(small_server.base_url, TOKEN, schedule) as proxy:
        passes = collect_until_clean(store, proxy, schedule)
    assert [(f.fault.kind, f.path) for f in proxy.fired[:2]] == [
        (Kind.OUT_OF_ORDER, "/crm/services/data/v60.0/query"),
        (Kind.HTTP_503, "/crm/services/data/v60.0/query/" + proxy.fired[1].path.rsplit("/")[-1]),
    ]
    first = passes[0][0].report.streams[0]
    assert (first.name, first.pages) == ("accounts", 1)  # stored: the second page's records
    assert first.error is not None and "answered HTTP 503 after 5 attempts" in first.error
    assert_converged(store, proxy, passes, baseline, small_estate.history_end, schedule)
