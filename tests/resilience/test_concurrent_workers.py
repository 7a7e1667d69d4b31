"""Several workers on one store, and a PostgreSQL crash under a running worker.

Two and four `throughline worker` processes collect the demo estate into one store (SQLite
with file locks, PostgreSQL with advisory locks): the run log shows that no collector ever ran
twice at once, the workers did meet each other's locks, and the store holds exactly the estate's
ground truth, nothing lost or doubled.

Then one worker backfills into a private PostgreSQL cluster that crashes (immediate shutdown:
every connection cut, no checkpoint) mid-run and comes back a few seconds later, while the
estate's clock moves on: the worker survives, logs the outage, marks the cut run interrupted,
and its next runs catch up to the same truth.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from store.db import make_engine
from store.migrate import upgrade
from store.tables import CollectorRun, Event
from tests.collectors.conftest import TOKEN
from tests.collectors.store_truth import nonzero, store_summary
from tests.resilience.private_postgres import private_postgres
from tests.resilience.workers import DEMO, all_succeeded_since, last_run_id, worker_env

INTERVAL_SECONDS = 5  # the shortest the settings allow
CATCH_UP_SECONDS = 120


@dataclass
class Workers:
    """Running worker processes and their logs."""

    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def check_alive(self) -> None:
        """Fail with its log when a worker has exited."""
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                pytest.fail(f"a worker exited ({proc.returncode}): {log.read_text()[-2000:]}")


@contextmanager
def workers(count: int, env: dict[str, str], folder: Path) -> Iterator[Workers]:
    """`count` worker processes, stopped with SIGTERM on exit (each must exit 0)."""
    logs = [folder / f"worker{i}.log" for i in range(1, count + 1)]
    with ExitStack() as files:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "throughline", "worker"],
                env=env,
                stderr=files.enter_context(log.open("w")),
                stdout=subprocess.DEVNULL,
            )
            for log in logs
        ]
        try:
            yield Workers(procs, logs)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(timeout=120) for proc in procs]
    assert codes == [0] * count, [log.read_text()[-2000:] for log in logs]


def wait_for(condition: Callable[[], bool], seconds: float, what: str, running: Workers) -> None:
    """Poll `condition` every half second while the workers run; fail naming `what` when it
    never holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        running.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s", pytrace=False)
        time.sleep(0.5)


def matches_truth(engine: Engine, server: DemoEstateServer) -> bool:
    """The store holds the estate's truth at its clock (object, event and attempt counts)."""
    stored, truth = store_summary(engine), server.truth()
    return (
        stored["objects"] == nonzero(truth.objects)
        and stored["events"] == nonzero(truth.events)
        and stored["sync_attempts"] == truth.sync_attempts
    )


def runs_by_collector(engine: Engine) -> dict[str, list[CollectorRun]]:
    with Session(engine) as s:
        runs = s.scalars(select(CollectorRun).order_by(CollectorRun.started_at)).all()
    grouped: dict[str, list[CollectorRun]] = {}
    for run in runs:
        grouped.setdefault(run.collector, []).append(run)
    return grouped


@pytest.mark.parametrize("count", [2, 4])
def test_workers_never_run_one_collector_at_once_and_store_each_row_once(
    engine: Engine, demo_server: DemoEstateServer, tmp_path: Path, count: int
) -> None:
    env = worker_env(engine, demo_server.base_url, INTERVAL_SECONDS)
    with workers(count, env, tmp_path) as running:
        wait_for(
            lambda: matches_truth(engine, demo_server), CATCH_UP_SECONDS, "catching up", running
        )
        settled = last_run_id(engine)  # one more round each, all workers contending again
        wait_for(lambda: all_succeeded_since(engine, settled), 60, "another round", running)
    grouped = runs_by_collector(engine)
    assert sorted(grouped) == DEMO
    for name, seq in grouped.items():
        assert all(r.status == "success" for r in seq), (name, [r.error for r in seq])
        for earlier, later in itertools.pairwise(seq):
            assert earlier.finished_at is not None
            assert later.started_at >= earlier.finished_at, f"{name} ran twice at once"
    skipped = sum(log.read_text().count("another worker is running it") for log in running.logs)
    assert skipped >= count - 1  # the first round: every worker starts every collector at once
    assert matches_truth(engine, demo_server)  # and the extra rounds added nothing


@pytest.fixture
def lagging_server(estate: Estate) -> Iterator[DemoEstateServer]:
    """The estate's APIs with the clock 60 days before the end of history (moved by tests)."""
    clock = SimClock(estate.history_end - timedelta(days=60))
    with DemoEstateServer(estate, TOKEN, clock=clock, rate_limit=None) as server:
        yield server


def test_a_worker_outlives_a_postgresql_crash_and_catches_up(
    lagging_server: DemoEstateServer, tmp_path: Path
) -> None:
    cluster = private_postgres()
    engine = make_engine(cluster.url)
    try:
        upgrade(engine)
        env = worker_env(engine, lagging_server.base_url, INTERVAL_SECONDS)
        with workers(1, env, tmp_path) as running:
            wait_for(lambda: _events(engine) > 0, 60, "the backfill starting", running)
            engine.dispose()
            cluster.crash()  # mid-backfill: the worker's writes now fail
            lagging_server.clock.advance(timedelta(days=60))  # the firm goes on meanwhile
            time.sleep(2 * INTERVAL_SECONDS)
            cluster.start()
            caught_up = lambda: matches_truth(engine, lagging_server)  # noqa: E731
            wait_for(caught_up, CATCH_UP_SECONDS, "catching up", running)
        log = running.logs[0].read_text()
        assert "crashed; the run log has the reason" in log  # the outage, logged, survived
        statuses = {r.status for runs in runs_by_collector(engine).values() for r in runs}
        assert "interrupted" in statuses or "failed" in statuses, statuses
        assert all_succeeded_since(engine, 0)
    finally:
        engine.dispose()
        cluster.remove()


def _events(engine: Engine) -> int:
    try:
        with Session(engine) as s:
            return int(s.scalar(select(func.count()).select_from(Event)) or 0)
    except Exception:  # the schema is being written by the first run
        return 0
