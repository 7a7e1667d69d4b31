"""Collecting through a ``FlakyProxy`` until the faults stop, and what must hold after.

Shared by the fault-schedule tests of the demo estate (``test_fault_schedules``) and of the
vendors run here as fakes or a real server (``test_vendor_fault_schedules``): pass after pass
until a pass meets no fault and every run succeeds; then the run log names a fault for every
failed stream and every fault that withholds, repeats or misplaces records failed the stream it
hit (so its run reported failure or partial, never success); no ``Retry-After`` was cut short,
no secret logged; the store holds a fault-free collection's rows, row for row, its cursors, and
nothing in quarantine that the fault-free collection did not put there.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collectors.base import Collector
from collectors.http import RetryPolicy
from collectors.runner import RunReport, run_collector
from metrics.facts import refresh_pending
from metrics.report import differences, kpi_report
from store.db import make_engine
from store.migrate import upgrade
from store.tables import CollectorRun, Quarantine
from tests.resilience.flaky_proxy import SIGNATURES, Fault, FaultSchedule, Fired, FlakyProxy, Kind
from tests.resilience.store_rows import TALLY, Snapshot, compare, snapshot

MAX_PASSES = 8
TIMEOUT = httpx.Timeout(5.0, connect=0.25, read=1.0)
RETRY = RetryPolicy(base_delay=0.02, max_delay=0.2)  # production attempts and Retry-After cap
LONG = os.environ.get("THROUGHLINE_RESILIENCE_LONG") == "1"
REPLAY = os.environ.get("THROUGHLINE_RESILIENCE_SEED")
CI_SCHEDULES = 12
SEEDS = [int(REPLAY)] if REPLAY else list(range(200 if LONG else CI_SCHEDULES))
ON_POSTGRES = SEEDS if REPLAY else SEEDS[::5]  # PostgreSQL: every fifth
QuarantineRow = tuple[str, str, str | None, str]


@dataclass(frozen=True)
class Baseline:
    """A fault-free collection: its rows, quarantine, KPIs (None: not compared), requests."""

    rows: Snapshot
    quarantine: list[QuarantineRow]
    kpis: dict[str, Any] | None
    requests: int


@dataclass
class Run:
    """One collector run in one pass, and the faults fired while it ran."""

    report: RunReport
    fired: list[Fired]
    carried: set[Kind] = field(default_factory=set)  # a black hole left by the run before


def new_store(folder: Path) -> Engine:
    """A migrated SQLite store in ``folder``."""
    engine = make_engine(f"sqlite:///{folder}/store.db")
    upgrade(engine)
    return engine


def quarantined(engine: Engine) -> list[QuarantineRow]:
    """What sits in quarantine: collector, stream, record key and reason."""
    with Session(engine) as s:
        rows = s.execute(
            select(
                Quarantine.collector, Quarantine.stream, Quarantine.source_key, Quarantine.reason
            )
        ).all()
    return sorted((c, st, k, r) for c, st, k, r in rows)


def baseline_of(engine: Engine, requests: int, as_of: datetime | None = None) -> Baseline:
    """The store of a fault-free collection (KPIs as of ``as_of`` when given)."""
    kpis = kpi_report(engine, as_of) if as_of is not None else None
    return Baseline(snapshot(engine), quarantined(engine), kpis, requests)


def collect_pass(engine: Engine, collectors: Sequence[Collector], proxy: FlakyProxy) -> list[Run]:
    """Run every collector once; a crash (an exception out of the runner) fails the test."""
    runs: list[Run] = []
    for collector in collectors:
        start = len(proxy.fired)
        report = run_collector(engine, collector, refresh=refresh_pending)
        runs.append(Run(report, proxy.fired[start:]))
    return runs


def collect_until_clean(
    engine: Engine, proxy: FlakyProxy, schedule: FaultSchedule, collectors: Sequence[Collector]
) -> list[list[Run]]:
    """Passes until one meets no fault, every run succeeds and no fault is left to fire."""
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
    fault that must fail a stream did, so its run was not a success. Returns how many runs
    failed."""
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
            # two such faults in one walk: the stream fails on the first the checks meet
            failing = [f for f in run.fired if f.fault.always_fails]
            names = [n for f in failing for n in SIGNATURES[f.fault.kind]]
            errors = [s.error or "" for s in report.streams]
            for fired in failing:
                if starts[fired.fault] == fired.ordinal:
                    assert report.status != "success", (fired, schedule)
                    assert any(n in e for n in names for e in errors), (fired, errors, schedule)
    return failed


def check_no_secret_logged(engine: Engine, secrets: Sequence[str]) -> None:
    with Session(engine) as s:
        errors = " ".join(r.error or "" for r in s.scalars(select(CollectorRun)))
    assert not [secret for secret in secrets if secret and secret in errors]


def assert_converged(
    store: Engine,
    proxy: FlakyProxy,
    passes: list[list[Run]],
    baseline: Baseline,
    schedule: FaultSchedule,
    *,
    secrets: Sequence[str],
    as_of: datetime | None = None,
) -> None:
    """The run log, Retry-After and secrets checks, then rows, quarantine, cursors (and KPIs)
    as the baseline's; adds what happened to the tally."""
    assert proxy.violations == [], schedule  # every Retry-After was waited out
    if proxy.issue_tokens:
        expired = sum(f.fault.kind is Kind.TOKEN_EXPIRED for f in proxy.fired)
        assert proxy.tokens_issued == 1 + expired, schedule  # one new token after each expiry
    failed = check_run_log(store, passes, proxy, schedule)
    check_no_secret_logged(store, [proxy.client_secret, *secrets])
    now = snapshot(store)
    diff = compare(baseline.rows, now)
    TALLY.schedules += 1
    TALLY.passes += len(passes)
    TALLY.failed_runs += failed
    TALLY.faults.update(str(f.fault.kind) for f in proxy.fired)
    TALLY.rows_compared += baseline.rows.size()
    TALLY.rows_lost += diff.rows_lost
    TALLY.rows_doubled += diff.rows_doubled
    assert (diff.rows_lost, diff.rows_doubled) == (0, 0), (schedule, diff.lost, diff.examples)
    assert quarantined(store) == baseline.quarantine, schedule  # nothing good in quarantine
    assert now.cursors == baseline.rows.cursors, schedule
    if baseline.kpis is not None and as_of is not None:
        assert differences(kpi_report(store, as_of), baseline.kpis) == [], schedule
