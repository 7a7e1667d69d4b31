"""`throughline demo`: the product end to end on its embedded default.

Makes the SQLite database, starts the demo estate on loopback, back-fills its year through the
real collectors (progress shown), then keeps the worker polling the estate in live mode and
serves the dashboard, each in its own process tied to this one, until Ctrl-C.

The terminal shows the progress bars, the dashboard's address once it answers, and at most one
short line a minute about what the worker stored; everything the worker and the dashboard log
goes to `<data dir>/logs/demo.log`, whose path is printed. Nothing waits for input.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO

from pydantic import SecretStr
from sqlalchemy import Engine, case, func, select
from tqdm import tqdm

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import add_months, simulate
from collectors.registry import build_collector, demo_collectors
from collectors.runner import RunReport, run_collector
from foundation.rundir import DEMO_KIND, claim, grant_demo_mode, release
from foundation.settings import Settings, user_data_dir
from foundation.urls import mask_url_password
from metrics.facts import refresh_pending
from store.db import make_engine
from store.tables import CollectorRun
from throughline import processes
from throughline.preflight import prepare_store
from throughline.processes import start_child, stop_children, streamlit_command

__all__ = ["backfill", "demo_environment", "run_demo", "streamlit_command"]

DEMO_COLLECTORS = demo_collectors()
LIVE_INTERVAL_SECONDS = 15
SUMMARY_SECONDS = 60
DASHBOARD_START_SECONDS = 120


def demo_environment(
    settings: Settings, base_url: str, token: str, live_speed: float = 1.0
) -> dict[str, str]:
    """Environment for the worker and dashboard processes (the token stays in memory/env).
    Faster than real time, the firm's clock runs ahead of ours: its records are not "in the
    future" then."""
    env = dict(os.environ)
    if live_speed > 1:
        env["THROUGHLINE_FUTURE_TOLERANCE_DAYS"] = "36500"
    env["THROUGHLINE_DATABASE_URL"] = settings.database_url
    env["THROUGHLINE_DEMO_TOKEN"] = token
    for name in DEMO_COLLECTORS:
        prefix = f"THROUGHLINE_COLLECTORS__{name.upper()}__"
        env[prefix + "BASE_URL"] = base_url
        env.setdefault(prefix + "INTERVAL_SECONDS", str(LIVE_INTERVAL_SECONDS))
    return env


def backfill(
    settings: Settings, *, since: datetime | None = None, quiet: bool = False
) -> list[RunReport]:
    """Run every demo collector once (from the beginning, or from `since`) with a progress bar."""
    engine = make_engine(settings.database_url)
    reports = []
    try:
        for name in DEMO_COLLECTORS:
            with tqdm(desc=f"{name:<11}", unit=" records", disable=quiet, leave=True) as bar:
                reports.append(
                    run_collector(
                        engine,
                        build_collector(name, settings),
                        since=since,
                        kind="backfill",
                        progress=lambda _stream, n: bar.update(n),
                        refresh=refresh_pending,
                    )
                )
    finally:
        engine.dispose()
    return reports


def demo_log_file() -> Path:
    """Where the demo's worker, dashboard and back-fill log (one file, rewritten per start)."""
    directory = user_data_dir() / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / "demo.log"


def run_demo(settings: Settings, *, live_speed: float = 1.0, open_browser: bool = True) -> int:
    """The whole demo until Ctrl-C (or SIGTERM, SIGHUP); returns the exit status."""
    for signum in (signal.SIGTERM, signal.SIGHUP):  # stop as Ctrl-C does, cleaning up
        signal.signal(signum, _interrupt)
    prepare_store(settings)
    print(f"Database: {mask_url_password(settings.database_url)}")
    try:
        return _run(settings, live_speed, open_browser)
    except KeyboardInterrupt:  # during the back-fill; everything started is stopped by now
        print("\nStopped.")
        return 0


def _run(settings: Settings, live_speed: float, open_browser: bool) -> int:
    log_path = demo_log_file()
    log_path.write_bytes(b"")
    with ExitStack() as stack:
        log = stack.enter_context(log_path.open("ab"))  # appending: every writer at the end
        _log_to(log_path)
        private = claim(DEMO_KIND)
        stack.callback(release, private)
        print("Simulating the demo firm (a year of deals, projects, invoices and syncs)…")
        estate = simulate(seed=settings.demo_seed, start=demo_start(datetime.now(UTC)))
        token = secrets.token_urlsafe(24)
        server = stack.enter_context(DemoEstateServer(estate, token, port=settings.demo_port))
        env = demo_environment(settings, server.base_url, token, live_speed)
        env.update(grant_demo_mode(private))
        children: list[subprocess.Popen[bytes]] = []
        stack.callback(stop_children, children)
        port = settings.dashboard_port
        # Started now, the dashboard is ready by the time the back-fill ends.
        children.append(start_child(streamlit_command(port), env=env, output=log))
        pointed = {
            name: settings.collector(name).model_copy(update={"base_url": server.base_url})
            for name in DEMO_COLLECTORS
        }
        live = settings.model_copy(update={"demo_token": SecretStr(token), "collectors": pointed})
        print(f"Demo estate serving on {server.base_url}; back-filling its year:")
        _report(backfill(live))
        live_clock = SimClock(estate.history_end, live=True, speed=live_speed)
        live_clock.advance(max(datetime.now(UTC) - estate.history_end, timedelta(0)))
        server.clock = live_clock
        worker = [sys.executable, "-m", "throughline", "worker"]
        children.append(start_child(worker, env=env, output=log))
        status = _serve(children, port, log, log_path, open_browser, settings.database_url)
    return status


def demo_start(now: datetime) -> datetime:
    """Twelve months before today's midnight (UTC): the demo firm's year ends today, so the
    dashboard's "now" and the firm's clock agree."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return add_months(midnight, -12)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _log_to(path: Path) -> None:
    """This process's own log lines (retries, warnings) go to the demo's log file too."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry raw URLs


def _report(reports: list[RunReport]) -> None:
    for report in reports:
        if report.status != "success":
            print(f"  {report.collector}: {report.status}; {report.error or ''}".rstrip("; "))
    rows = sum(r.rows_written for r in reports)
    quarantined = sum(r.quarantined for r in reports)
    print(f"Back-filled {rows:,} rows ({quarantined:,} quarantined).")


def _serve(
    children: list[subprocess.Popen[bytes]],
    port: int,
    log: IO[bytes],
    log_path: Path,
    browser: bool,
    database_url: str,
) -> int:
    dashboard = children[0]
    url = f"http://localhost:{port}"
    if not processes.wait_until_serving(
        f"http://127.0.0.1:{port}", dashboard, DASHBOARD_START_SECONDS
    ):
        print(f"The dashboard did not start; its log is in {log_path}", file=sys.stderr)
        return 1
    print(f"\nDashboard: {url}   (Ctrl-C stops the demo)\nLogs: {log_path}\n", flush=True)
    if browser:
        processes.open_browser(url, log)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _stop)
    engine = make_engine(database_url)
    summary = WorkerSummary(engine)
    try:
        while not stop.wait(1.0):
            if any(child.poll() is not None for child in children):
                print(f"A demo process stopped; see {log_path}", file=sys.stderr)
                return 1
            line = summary.due()
            if line:
                print(line, flush=True)
    finally:
        engine.dispose()
    return 0


class WorkerSummary:
    """One short line a minute about the worker's runs, when it stored or failed something."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._since = datetime.now(UTC)
        self._next = clock() + SUMMARY_SECONDS

    def due(self) -> str | None:
        """The line for the minute just ended (None before it ends or when nothing happened)."""
        if self._clock() < self._next:
            return None
        self._next = self._clock() + SUMMARY_SECONDS
        until = datetime.now(UTC)
        runs, rows, failed = worker_activity(self._engine, self._since, until)
        self._since = until
        if not rows and not failed:
            return None
        failures = f", {failed} failed (see the log)" if failed else ""
        return f"{until:%H:%M} worker: {runs} runs stored {rows:,} rows{failures}"


def worker_activity(engine: Engine, since: datetime, until: datetime) -> tuple[int, int, int]:
    """Collector runs started in [since, until): how many, rows written, how many failed."""
    run = CollectorRun
    query = select(
        func.count(),
        func.coalesce(func.sum(run.rows_in), 0),
        func.coalesce(func.sum(case((run.status.in_(("failed", "partial")), 1), else_=0)), 0),
    ).where(run.started_at >= since, run.started_at < until, run.kind != "backfill")
    with engine.connect() as conn:
        runs, rows, failed = conn.execute(query).one()
    return int(runs), int(rows), int(failed)
