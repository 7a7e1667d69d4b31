"""Crash recovery: the collector worker SIGKILLed at seeded points of a backfill, then restarted.

`throughline worker` (the production collector process: APScheduler, all demo collectors at
once) backfills the small demo estate through a fault-free ``FlakyProxy`` whose request hook
SIGKILLs the worker at seeded API request numbers — after a seeded 0–80 ms, so some kills land
while it waits for a page and some while it maps and writes one. Each time the worker is
restarted. Once every collector has succeeded after the last restart, the store's full row sets
and cursors equal an uninterrupted collection's (no row lost, none doubled), so does every KPI,
the killed runs are logged as interrupted and none is left running. On a SQLite file and on
PostgreSQL. CI: one backfill killed 3 times per database; ``THROUGHLINE_RESILIENCE_LONG=1``: five
backfills killed 5 times each per database (50 crash points).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.registry import build_collector
from collectors.runner import run_collector
from metrics.facts import refresh_pending
from metrics.report import differences, kpi_report
from store.db import make_engine
from store.migrate import upgrade
from store.tables import CollectorRun
from tests.collectors.conftest import TOKEN, settings_for
from tests.resilience.flaky_proxy import FlakyProxy
from tests.resilience.store_rows import TALLY, Snapshot, compare, snapshot
from tests.resilience.workers import DEMO, all_succeeded_since, last_run_id, worker_env

LONG = os.environ.get("THROUGHLINE_RESILIENCE_LONG") == "1"
SEEDS = list(range(5)) if LONG else [0]
KILLS = 5 if LONG else 3
MAX_KILL_DELAY = 0.08
CATCH_UP_SECONDS = 90


@dataclass(frozen=True)
class Uninterrupted:
    """An uninterrupted collection of the small estate: rows, KPIs and API requests made."""

    rows: Snapshot
    kpis: dict[str, Any]
    requests: int


@pytest.fixture(scope="session")
def uninterrupted(
    small_server: DemoEstateServer, small_estate: Estate, tmp_path_factory: pytest.TempPathFactory
) -> Uninterrupted:
    """The production collectors, run once each, straight from the estate's APIs."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('uninterrupted')}/store.db")
    upgrade(engine)
    settings = settings_for(small_server)
    before = len(small_server.requests_log)
    reports = [
        run_collector(engine, build_collector(name, settings), refresh=refresh_pending)
        for name in DEMO
    ]
    assert [r.status for r in reports] == ["success"] * len(DEMO), [r.error for r in reports]
    result = Uninterrupted(
        snapshot(engine),
        kpi_report(engine, small_estate.history_end),
        len(small_server.requests_log) - before,
    )
    engine.dispose()
    return result


@dataclass
class Killer:
    """SIGKILLs the current worker when the proxy sees request number ``points[0]`` (after a
    delay); ``delivered`` counts the kills."""

    points: list[int]
    delays: list[float]
    process: subprocess.Popen[bytes] | None = None
    delivered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, ordinal: int) -> None:
        with self._lock:
            if not self.points or ordinal < self.points[0] or self.process is None:
                return
            self.points.pop(0)
            target, self.process = self.process, None  # one kill per process
            timer = threading.Timer(self.delays.pop(0), self._kill, (target,))
            timer.daemon = True
            timer.start()

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        with self._lock:
            self.delivered += 1


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "throughline", "worker"],
            env=env,
            stderr=stderr,
            stdout=subprocess.DEVNULL,
        )


def wait_until(condition: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} within {CATCH_UP_SECONDS} s; worker log:\n{log.read_text()[-3000:]}",
                pytrace=False,
            )
        time.sleep(0.1)


def backfill_with_kills(engine: Engine, proxy: FlakyProxy, killer: Killer, log: Path) -> int:
    """Start the worker, restart it after every kill, stop it once all collectors succeeded
    after the last start. Returns how many times it was started."""
    env = worker_env(engine, proxy.base_url)
    starts = 0
    while True:
        since = last_run_id(engine)
        process = start_worker(env, log)
        starts += 1
        killer.process = process

        def killed_or_done(p: subprocess.Popen[bytes] = process, after: int = since) -> bool:
            return p.poll() is not None or (
                not killer.points and all_succeeded_since(engine, after)
            )

        try:
            wait_until(killed_or_done, "the worker catching up", log)
        except BaseException:
            process.kill()  # never leave a worker behind
            process.wait(timeout=30)
            raise
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
            return starts
        assert process.returncode == -signal.SIGKILL, log.read_text()[-3000:]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_worker_killed_mid_backfill_and_restarted_ends_like_an_uninterrupted_run(
    seed: int,
    engine: Engine,
    small_server: DemoEstateServer,
    small_estate: Estate,
    uninterrupted: Uninterrupted,
    tmp_path: Path,
) -> None:
    rng = random.Random(seed)
    points = sorted(rng.sample(range(1, uninterrupted.requests), KILLS))
    killer = Killer(points, [rng.uniform(0, MAX_KILL_DELAY) for _ in points])
    plan = f"seed {seed}: kills at requests {points}"
    log = tmp_path / "worker.log"
    with FlakyProxy(small_server.base_url, TOKEN, issue_tokens=False, on_request=killer) as proxy:
        starts = backfill_with_kills(engine, proxy, killer, log)
    assert killer.delivered == KILLS and starts == KILLS + 1, plan

    with Session(engine) as s:
        statuses = s.scalars(select(CollectorRun.status)).all()
    assert set(statuses) <= {"success", "interrupted"}, plan  # none left running, none failed
    assert statuses.count("interrupted") >= 1, plan
    diff = compare(uninterrupted.rows, snapshot(engine))
    TALLY.crash_points += KILLS
    TALLY.kills += killer.delivered
    TALLY.rows_compared += uninterrupted.rows.size()
    TALLY.rows_lost += diff.rows_lost
    TALLY.rows_doubled += diff.rows_doubled
    assert (diff.rows_lost, diff.rows_doubled) == (0, 0), (plan, diff.lost, diff.examples)
    assert snapshot(engine).cursors == uninterrupted.rows.cursors, plan
    report = kpi_report(engine, small_estate.history_end)
    assert differences(report, uninterrupted.kpis) == [], plan
