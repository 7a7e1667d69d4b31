"""The dashboard in headless Chromium against a real `throughline demo`: every page, one
drill-down from the overview to a case trace, one export, no console errors, a screenshot per
page, and how long each page takes to draw (navigation → last element rendered)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, Demo, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = ARTIFACTS / "screenshots"
#: Sidebar label → (URL path, the page's title).
PAGES = {
    "Overview": ("", "Overview"),
    "Invoice cycle": ("invoice_cycle", "Invoice cycle"),
    "Unbilled aging": ("unbilled", "Unbilled aging"),
    "SLOs": ("slos", "SLOs"),
    "Project setup & stuck handoffs": ("handoffs", "Project setup & stuck handoffs"),
    "Sync errors": ("sync_errors", "Sync errors"),
    "Case trace": ("case_trace", "Case trace"),
    "Collectors": ("collectors", "Collectors"),
    "Audit log": ("audit", "Audit log"),
}
#: The page is drawn: the script is idle and every chart, table and lazy element is rendered.
DRAWN = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const h1 = document.querySelector('h1');
  if (!h1 || h1.innerText.trim() !== title) return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const shown = (e) => e.checkVisibility();  // not inside a collapsed expander
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (shown(c) && !c.querySelector('.main-svg')) return false;
  for (const d of document.querySelectorAll('[data-testid="stDataFrame"]'))
    if (shown(d) && !d.querySelector('canvas')) return false;
  return true;
}"""


@dataclass
class Console:
    """Browser console errors, minus the two 404s Streamlit's front end causes itself when a
    page URL is loaded directly (it probes ``<page>/_stcore/health`` and ``host-config``)."""

    errors: list[str]

    def record(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        own = where.endswith(("/_stcore/health", "/_stcore/host-config"))
        if own and "404" in message.text:
            return
        self.errors.append(f"{message.text} ({where})")


@pytest.fixture(scope="module")
def browser_page(demo: Demo) -> Iterator[tuple[Page, Console]]:
    chromium = require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1440, "height": 2200}, accept_downloads=True
        )
        page = context.new_page()
        console = Console([])
        page.on("console", console.record)
        page.on("pageerror", lambda exc: console.errors.append(f"page error: {exc}"))
        try:
            yield page, console
        finally:
            context.close()
            browser.close()


def drawn(page: Page, title: str, timeout: float = 60_000) -> None:
    """Wait until the page titled `title` is completely drawn (a screenshot when it is not)."""
    try:
        page.wait_for_function(DRAWN, arg=title, timeout=timeout, polling=20)
    except PlaywrightTimeout:
        page.screenshot(path=str(ARTIFACTS / "not-drawn.png"))
        raise AssertionError(f"{title!r} was not drawn within {timeout / 1000:.0f} s") from None


def test_every_page_draws_drills_to_a_case_trace_and_exports(
    demo: Demo, browser_page: tuple[Page, Console]
) -> None:
    page, console = browser_page
    timings: dict[str, list[float]] = {label: [] for label in PAGES}
    page.goto(demo.url)
    drawn(page, "Overview", timeout=180_000)  # the first visit computes and caches the SLOs
    for visit in ("first", "again"):
        for label, (path, title) in PAGES.items():
            started = time.perf_counter()
            page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
            drawn(page, title)
            timings[label].append(time.perf_counter() - started)
            assert urlsplit(page.url).path.strip("/") == path
            assert "Demo mode: no sign-in" in page.locator("body").inner_text()
            if visit == "again":
                page.screenshot(path=str(SHOTS / f"{path or 'overview'}.png"))
    lines = [f"{'page':32} {'first visit':>11} {'again':>7}"] + [
        f"{label:32} {first:10.2f}s {again:6.2f}s" for label, (first, again) in timings.items()
    ]
    (ARTIFACTS / "browser-page-times.txt").write_text("\n".join(lines) + "\n")
    print("\nnavigation → last element rendered:\n" + "\n".join(lines))

    # a page URL loaded directly (as a shared link is)
    page.goto(f"{demo.url}/sync_errors?entity=UK")
    drawn(page, "Sync errors")
    assert parse_qs(urlsplit(page.url).query)["entity"] == ["UK"]

    # drill down: overview → the first case of "Where the money waits" → its case trace
    page.goto(f"{demo.url}/?entity=US")
    drawn(page, "Overview")
    grid = page.get_by_test_id("stDataFrame").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # row 1, its selection cell
    drawn(page, "Case trace")
    query = parse_qs(urlsplit(page.url).query)
    assert query["case"][0].split(":")[0] in {"deal", "project", "invoice"}
    assert query["entity"] == ["US"], "the drill-down keeps the filters"
    page.get_by_text("Held up by").or_(page.get_by_text("Timeline")).first.wait_for()
    page.screenshot(path=str(SHOTS / "case_trace-drilled.png"))
    drilled = page.url

    # a chart element drills too: the overview's first SLO budget bar opens that SLO
    page.goto(f"{demo.url}/?entity=US")
    drawn(page, "Overview")
    budgets = page.get_by_test_id("stPlotlyChart").first
    budgets.scroll_into_view_if_needed()
    budgets.locator(".bars .point path").first.click(force=True)
    drawn(page, "SLOs")
    assert parse_qs(urlsplit(page.url).query)["slo"][0]
    page.get_by_test_id("stSidebarNav").get_by_text("Case trace", exact=True).click()
    page.goto(drilled)
    drawn(page, "Case trace")

    # one export: the case's timeline as CSV
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").first.get_by_role("button").click()
    saved = ARTIFACTS / download.value.suggested_filename
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["at", "lane", "kind"] and len(rows) > 1

    # "run now": the page queues a request, the demo's worker runs it, and the page, refreshing
    # itself when the data changes, shows it done without a reload
    page.get_by_test_id("stSidebarNav").get_by_text("Collectors", exact=True).click()
    drawn(page, "Collectors")
    page.get_by_role("button", name="Run now").click()
    page.get_by_text("Latest request: demo_crm —").wait_for(timeout=30_000)
    page.get_by_text("Latest request: demo_crm — done (success").wait_for(timeout=90_000)

    assert console.errors == [], console.errors
