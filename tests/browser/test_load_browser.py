"""Twenty dashboard sessions at once on the demo year while the worker collects in live mode.

A real `throughline demo` polls its live estate every 5 seconds. Twenty sessions speak the
dashboard's own protocol (`streamlit_client.ProtocolSession`: what a browser tab sends, without
twenty renderers fighting the server for two cores); each arrives within the first 10 seconds,
opens the overview and moves between pages on a seeded schedule with 1–4 s of think time, for
`THROUGHLINE_LOAD_SECONDS` (45 s in CI; set it higher for a longer local run). Meanwhile a real
Chromium session goes round every page and times each until it is completely drawn.

Asserted: every page run finished with no exception shown, no session timed out or stalled,
the browser drew every page with no console error, and the worker kept collecting successfully
throughout. The times (one user on a quiet server, then under load: p50/p95/max per page, server
and browser) go to ``test-artifacts/load-page-times.txt``: a record for the closing notes, not a
timing assertion.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, Demo, require_chromium, running_demo
from tests.browser.streamlit_client import ProtocolSession
from tests.browser.test_dashboard_browser import DRAWN, PAGES

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SESSIONS = 20
LOAD_SECONDS = float(os.environ.get("THROUGHLINE_LOAD_SECONDS", "45"))
RAMP_SECONDS = 10.0
THINK_SECONDS = (1.0, 4.0)
LIVE_INTERVAL_SECONDS = 5
TIMEOUT_SECONDS = 90
PATHS = {path: label for label, (path, _title) in PAGES.items()}


@dataclass
class Times:
    """Seconds per page label, page runs per user, and what went wrong."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    runs: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, label: str, value: float) -> None:
        self.seconds.setdefault(label, []).append(value)


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_chromium()
    home = tmp_path_factory.mktemp("load-home")
    with running_demo(home, interval_seconds=LIVE_INTERVAL_SECONDS) as running:
        yield running


async def protocol_user(url: str, seed: int, until: float, times: Times) -> int:
    """One user over the protocol: arrive, open the overview, browse until `until`; returns
    how many pages it ran."""
    rng = random.Random(seed)
    await asyncio.sleep(seed * RAMP_SECONDS / SESSIONS)
    runs = 0
    async with ProtocolSession(url) as session:
        path = ""
        while True:
            run = await session.run(path, timeout=TIMEOUT_SECONDS)
            if run.exceptions:
                times.errors.append(f"user {seed}, {PATHS[path]}: {run.exceptions[0][:200]}")
            times.add(PATHS[path], run.seconds)
            runs += 1
            if time.monotonic() >= until:
                return runs
            await asyncio.sleep(rng.uniform(*THINK_SECONDS))
            path = rng.choice(list(PATHS))


async def browser_round(page: Page, times: Times) -> None:
    """Click every page in the sidebar in turn, timing each until it is completely drawn."""
    for label, (_path, title) in PAGES.items():
        started = time.perf_counter()
        await page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
        await page.wait_for_function(DRAWN, arg=title, timeout=TIMEOUT_SECONDS * 1000, polling=50)
        times.add(label, time.perf_counter() - started)
        if await page.get_by_test_id("stException").count():
            times.errors.append(f"browser, {label}: an exception is shown")


async def measure(url: str, chromium: str) -> dict[str, Times]:
    """Idle times (protocol and browser), then the same under twenty users."""
    result = {name: Times() for name in ("server idle", "browser idle", "server", "browser")}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await (
            await browser.new_context(viewport={"width": 1280, "height": 1600})
        ).new_page()
        page.on("console", lambda m: m.type == "error" and result["browser"].errors.append(m.text))
        page.on("pageerror", lambda exc: result["browser"].errors.append(str(exc)))
        await page.goto(url)
        await page.wait_for_function(DRAWN, arg="Overview", timeout=TIMEOUT_SECONDS * 1000)
        await browser_round(page, Times())  # warm: every page's data cached once
        await browser_round(page, result["browser idle"])
        async with ProtocolSession(url) as alone:
            for path, label in PATHS.items():
                result["server idle"].add(label, (await alone.run(path)).seconds)
        until = time.monotonic() + RAMP_SECONDS + LOAD_SECONDS
        users = asyncio.gather(
            *(protocol_user(url, seed, until, result["server"]) for seed in range(SESSIONS))
        )
        while time.monotonic() < until:
            await browser_round(page, result["browser"])
        result["server"].runs = list(await users)
        await browser.close()
    return result


def successful_runs_since(database: Path, since: datetime) -> int:
    """Collector runs started since `since`: all successful (or still running); how many."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT status FROM collector_runs WHERE started_at >= ?",
            (since.strftime("%Y-%m-%d %H:%M:%S"),),
        ).fetchall()
    assert {status for (status,) in rows} <= {"success", "running"}, rows
    return sum(1 for (status,) in rows if status == "success")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def table(result: dict[str, Times]) -> list[str]:
    """Per page: idle time, then runs, p50, p95 and max under load — server and browser."""
    lines = [f"{'page':32} {'':>7}{'idle':>7} {'n':>4} {'p50':>6} {'p95':>6} {'max':>6}"]
    for side in ("server", "browser"):
        idle, loaded = result[f"{side} idle"].seconds, result[side].seconds
        everything = [t for label in PAGES for t in loaded.get(label, [])]
        for label, values in [*((lb, loaded.get(lb, [])) for lb in PAGES), ("all", everything)]:
            quiet = (
                statistics.median(idle[label])
                if label in idle
                else statistics.median([t for ts in idle.values() for t in ts])
            )
            lines.append(
                f"{label:32} {side:>7}{quiet:6.2f}s {len(values):4d} "
                f"{statistics.median(values):5.2f}s {quantile(values, 0.95):5.2f}s "
                f"{max(values):5.2f}s"
            )
    return lines


def test_twenty_sessions_draw_every_page_while_the_worker_collects(live_demo: Demo) -> None:
    started = datetime.now(UTC)
    result = asyncio.run(measure(live_demo.url, require_chromium()))
    runs = successful_runs_since(live_demo.log.parent / "throughline" / "throughline.db", started)
    errors = result["server"].errors + result["browser"].errors
    assert errors == [], errors[:10]
    assert min(result["server"].runs) >= 3, f"a user stalled: {result['server'].runs}"
    assert set(PAGES) <= set(result["server"].seconds), "every page was run under load"
    assert runs >= 4, f"the worker collected only {runs} times during the load"
    lines = [
        f"{SESSIONS} protocol sessions for {RAMP_SECONDS + LOAD_SECONDS:.0f} s (think time "
        f"{THINK_SECONDS[0]:g}-{THINK_SECONDS[1]:g} s) and one Chromium session; "
        f"{runs} successful collector runs meanwhile; {sum(result['server'].runs)} page runs",
        *table(result),
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load-page-times.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
