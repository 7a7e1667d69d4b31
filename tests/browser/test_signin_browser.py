"""Sign-in end to end: `throughline serve` with OpenID Connect against a real provider on
loopback (oidc-provider-mock), in headless Chromium, once per role: which pages each role's
navigation lists, a forbidden page refused, an e-mail address masked or shown, the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from metrics.facts import write_and_refresh
from metrics.views import audit
from metrics.views.access import ANONYMOUS as ADMIN
from store.canonical import Batch, ObjectRow, ObjectType
from store.db import make_engine
from store.migrate import upgrade
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    ROOT,
    free_port,
    require_chromium,
    stop,
    wait_until_up,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OWNER = "vera.schulz@firm.example"
DEAL = "006SIGNIN0001"
#: role → the navigation labels it must show (and nothing else).
NAV = {
    "cfo": {
        "Overview",
        "Invoice cycle",
        "Unbilled aging",
        "SLOs",
        "Project setup & stuck handoffs",
        "Case trace",
    },
    "pmo": {"Overview", "SLOs", "Project setup & stuck handoffs", "Case trace"},
    "support": {"Overview", "SLOs", "Sync errors", "Case trace", "Collectors"},
    "admin": {
        "Overview",
        "Invoice cycle",
        "Unbilled aging",
        "SLOs",
        "Project setup & stuck handoffs",
        "Sync errors",
        "Case trace",
        "Collectors",
        "Audit log",
    },
}
#: role → (a page path it may not open, whether it sees the owner's e-mail address).
FORBIDDEN = {"cfo": "sync_errors", "pmo": "unbilled", "support": "audit", "admin": None}
SEES_EMAIL = {"cfo": True, "pmo": True, "support": False, "admin": True}


#: The script is idle and at least `n` tables (and their export buttons) are drawn.
IDLE_WITH_TABLES = """(n) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelectorAll('[data-testid="stDataFrame"]').length >= n
    && document.querySelectorAll('[data-testid="stDownloadButton"]').length >= 2 * n;
}"""


@dataclass
class Served:
    url: str
    database_url: str


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The OpenID Connect provider in its own process; the test creates each user with its
    claims (``PUT /users/<sub>``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        stop(process)


def seed(url: str) -> None:
    """A store with one deal owned by an e-mail address."""
    engine = make_engine(url)
    upgrade(engine)
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    deal = ObjectRow(
        ObjectType.DEAL,
        "crm",
        DEAL,
        customer="Hostile <b>Corp</b>",
        legal_entity="UK",
        practice="Cloud",
        owner=OWNER,
        currency="GBP",
        amount=Decimal("1200.00"),
        source_updated_at=at,
    )
    write_and_refresh(engine, Batch(objects=[deal]))
    engine.dispose()


@pytest.fixture(scope="module")
def served(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`throughline serve` with sign-in through the provider."""
    require_chromium()
    home = tmp_path_factory.mktemp("signin")
    database_url = f"sqlite:///{home}/store.db"
    seed(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
    env.update(
        {
            "THROUGHLINE_DATABASE_URL": database_url,
            "THROUGHLINE_DASHBOARD_PORT": str(port),
            "THROUGHLINE_AUTH__SERVER_METADATA_URL": f"{provider}/.well-known/openid-configuration",
            "THROUGHLINE_AUTH__CLIENT_ID": "throughline",
            "THROUGHLINE_AUTH__REDIRECT_URI": f"{url}/oauth2callback",
            "THROUGHLINE_SECRETS__OIDC_CLIENT_SECRET": "client-secret-for-tests",
            "PYTHONUNBUFFERED": "1",
            "HOME": str(home),
        }
    )
    log = home / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "throughline", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        wait_until_up(url, process, log)
        yield Served(url, database_url)
    finally:
        stop(process)
    assert "client-secret-for-tests" not in log.read_text(errors="replace")
    for _ in range(50):  # stopping `throughline serve` stopped its dashboard too
        try:
            httpx.get(f"{url}/_stcore/health", timeout=0.5)
        except httpx.HTTPError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the dashboard outlived `throughline serve`")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(page: Page, served: Served, provider: str, role: str) -> None:
    """Sign in through the provider's form as a user whose `roles` claim is `role`."""
    sub = f"{role}-user"
    claims = {"email": f"{role}@firm.example", "name": f"{role} user", "roles": [role]}
    if role == "pmo":  # without a practices claim a PMO sees no practice (deny by default)
        claims["practices"] = ["Cloud"]
    httpx.put(f"{provider}/users/{sub}", json=claims).raise_for_status()
    page.goto(served.url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider}/**")
    page.locator("input[name=sub][type=text]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{served.url}/**")
    try:
        page.get_by_text(f"role: {role}").wait_for(timeout=60_000)
    except Exception:
        print("URL", page.url, "TEXT", page.evaluate("() => document.body.innerText")[:2000])
        raise


def nav_labels(page: Page) -> set[str]:
    nav = page.get_by_test_id("stSidebarNav")
    nav.wait_for()
    return {link.inner_text().split("\n")[-1].strip() for link in nav.get_by_role("link").all()}


@pytest.mark.parametrize("role", ["cfo", "pmo", "support", "admin"])
def test_each_role_signs_in_and_sees_its_pages_and_fields(
    served: Served, provider: str, browser: Browser, role: str
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, served, provider, role)
        assert nav_labels(page) == NAV[role]
        page.goto(f"{served.url}/case_trace?case=deal:{DEAL}")
        page.wait_for_function(IDLE_WITH_TABLES, arg=1, timeout=60_000)
        text = page.evaluate("() => document.body.innerText")
        assert "Hostile <b>Corp</b>" in text  # shown as typed, never as HTML
        exported = exports(page)
        assert any("Hostile <b>Corp</b>" in text for text in exported), (role, exported)
        assert any(OWNER in text for text in exported) is SEES_EMAIL[role]
        assert OWNER not in text or SEES_EMAIL[role]
        forbidden = FORBIDDEN[role]
        if forbidden:
            page.goto(f"{served.url}/{forbidden}")
            page.locator("h1", has_text="Overview").wait_for(timeout=60_000)
            assert urlsplit(page.url).path.strip("/") == ""  # refused: sent to the overview
        assert errors == []
    finally:
        context.close()
    entries = audit.audit_log(ADMIN, make_engine(served.database_url))
    signed = entries[
        (entries["action"] == "sign_in") & (entries["actor"] == f"{role}@firm.example")
    ]
    assert len(signed) == 1 and set(signed["role"]) == {role}


def exports(page: Page) -> list[str]:
    """The CSV export of every table on the page (grids are drawn on a canvas: their text is
    read through the export the user would download)."""
    texts = []
    buttons = page.get_by_test_id("stDownloadButton").filter(has_text="CSV")
    for n in range(buttons.count()):
        with page.expect_download() as download:
            buttons.nth(n).click()
        texts.append(Path(download.value.path()).read_text(encoding="utf-8-sig"))
    return texts
