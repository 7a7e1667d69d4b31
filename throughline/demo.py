"""`throughline demo`: the product end to end on its embedded default.

Makes the SQLite database, starts the demo estate on loopback, back-fills its year through the
real collectors (progress shown), then keeps the worker polling the estate in live mode and
serves the dashboard, each in its own process, until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from pydantic import SecretStr
from tqdm import tqdm

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import add_months, simulate
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import RunReport, run_collector
from metrics.db import make_engine
from metrics.migrate import ensure_current
from throughline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_COLLECTORS = [name for name in COLLECTORS if name.startswith("demo_")]
LIVE_INTERVAL_SECONDS = 15


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
    env["THROUGHLINE_DEMO_MODE"] = "true"
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
                        engine, build_collector(name, settings), since=since, kind="backfill",
                        progress=lambda _stream, n: bar.update(n),
                    )
                )  # fmt: skip
    finally:
        engine.dispose()
    return reports


def run_demo(settings: Settings, *, live_speed: float = 1.0, open_browser: bool = True) -> int:
    """The whole demo; returns the exit status."""
    engine = make_engine(settings.database_url)
    if ensure_current(engine):
        print(f"Created the Throughline database at {settings.database_url}")
    engine.dispose()
    print("Simulating the demo firm (a year of deals, projects, invoices and syncs)…")
    estate = simulate(seed=settings.demo_seed, start=demo_start(datetime.now(UTC)))
    token = secrets.token_urlsafe(24)
    with DemoEstateServer(estate, token, port=settings.demo_port) as server:
        pointed = {
            name: settings.collector(name).model_copy(update={"base_url": server.base_url})
            for name in DEMO_COLLECTORS
        }
        live = settings.model_copy(update={"demo_token": SecretStr(token), "collectors": pointed})
        print(f"Demo estate serving on {server.base_url}; back-filling its year:")
        for report in backfill(live):
            print(f"  {report.collector}: {report.status}, {report.rows_written} rows stored, "
                  f"{report.quarantined} quarantined")  # fmt: skip
        live_clock = SimClock(estate.history_end, live=True, speed=live_speed)
        live_clock.advance(max(datetime.now(UTC) - estate.history_end, timedelta(0)))
        server.clock = live_clock
        env = demo_environment(settings, server.base_url, token, live_speed)
        return _serve_with_worker(env, settings.dashboard_port, open_browser)


def demo_start(now: datetime) -> datetime:
    """Twelve months before today's midnight (UTC): the demo firm's year ends today, so the
    dashboard's "now" and the firm's clock agree."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return add_months(midnight, -12)


def _serve_with_worker(env: dict[str, str], port: int, open_browser: bool) -> int:
    worker = subprocess.Popen([sys.executable, "-m", "throughline", "worker"], env=env)
    dashboard = subprocess.Popen(streamlit_command(port, headless=not open_browser), env=env)
    print(f"\nDashboard: http://localhost:{port}   (Ctrl-C stops the demo)\n")
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop.wait(1.0):
        if dashboard.poll() is not None or worker.poll() is not None:
            break
    for child in (dashboard, worker):
        if child.poll() is None:
            child.terminate()
    for child in (dashboard, worker):
        child.wait(timeout=30)
    return 0


def run_forwarding_signals(command: list[str]) -> int:
    """Run `command` until it exits, passing SIGTERM and SIGINT on to it (so stopping this
    process stops the dashboard too, and nothing is left behind); its exit status."""
    child = subprocess.Popen(command)

    def _forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {s: signal.signal(s, _forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def streamlit_command(
    port: int, *, headless: bool = True, secrets_file: Path | None = None
) -> list[str]:
    """The command that serves the dashboard (with `secrets_file` holding `st.login`'s
    settings when sign-in is configured).

    Streamlit runs a full garbage collection after every page run by default; with the
    dashboard's caches in memory that took most of the server's time under twenty sessions
    (tests/browser/test_load_browser.py), so it is left to Python's own thresholds."""
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.port", str(port), "--server.headless", str(headless).lower(),
        "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
        "--runner.postScriptGC", "false",
    ]  # fmt: skip
    if secrets_file is not None:
        command += ["--secrets.files", str(secrets_file)]
    return command
