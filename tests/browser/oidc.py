"""A real OpenID Connect provider on loopback (oidc-provider-mock), `throughline serve` signing
users in through it, and what a signed-in browser reads: the page's text and every file its
download buttons make."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from playwright.sync_api import Page

from tests.browser.conftest import ROOT, free_port, stop, wait_until_up

#: The script is idle and nothing is still loading.
IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && document.querySelector('h1') !== null;
}"""


@dataclass
class Served:
    url: str
    database_url: str
    log: Path


@contextmanager
def provider(directory: Path) -> Iterator[str]:
    """The OpenID Connect provider in its own process; users and their claims are set with
    `put_user` (``PUT /users/<sub>``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = directory / "provider.log"
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


def put_user(provider_url: str, subject: str, claims: dict[str, Any]) -> None:
    """Create or change a user at the provider (their next token carries these claims)."""
    httpx.put(f"{provider_url}/users/{subject}", json=claims).raise_for_status()


@contextmanager
def serving(provider_url: str, home: Path, database_url: str, **settings: str) -> Iterator[Served]:
    """`throughline serve` with sign-in through `provider_url` (`settings`: more
    ``THROUGHLINE_…`` variables, e.g. ``AUTH__MAX_SESSION_HOURS``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
    env.update(
        {
            "THROUGHLINE_DATABASE_URL": database_url,
            "THROUGHLINE_DASHBOARD_PORT": str(port),
            "THROUGHLINE_AUTH__SERVER_METADATA_URL": f"{provider_url}/.well-known/openid-configuration",
            "THROUGHLINE_AUTH__CLIENT_ID": "throughline",
            "THROUGHLINE_AUTH__REDIRECT_URI": f"{url}/oauth2callback",
            "THROUGHLINE_SECRETS__OIDC_CLIENT_SECRET": "client-secret-for-tests",
            "PYTHONUNBUFFERED": "1",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            **{f"THROUGHLINE_{k}": v for k, v in settings.items()},
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
        yield Served(url, database_url, log)
    finally:
        stop(process)
    assert "client-secret-for-tests" not in log.read_text(errors="replace")


def sign_in(page: Page, served: Served, provider_url: str, subject: str) -> None:
    """Sign in through the provider's form as `subject` (created with `put_user`)."""
    page.goto(served.url)
    page.get_by_role("button", name="Sign in").click()
    authorize(page, served, provider_url, subject)


def authorize(page: Page, served: Served, provider_url: str, subject: str) -> None:
    """Fill the provider's form as `subject` and come back to the dashboard."""
    page.wait_for_url(f"{provider_url}/**")
    page.locator("input[name=sub][type=text]").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{served.url}/**")


def idle(page: Page, timeout: float = 90_000) -> None:
    """Wait until the page's script is idle (its title drawn, nothing loading)."""
    page.wait_for_function(IDLE, timeout=timeout, polling=50)


@dataclass
class Seen:
    """What a visitor could read on one page: its text and its downloaded files."""

    text: str
    files: dict[str, str] = field(default_factory=dict)
    formulas: list[str] = field(default_factory=list)

    def everything(self) -> str:
        return "\n".join([self.text, *self.files.values()])


def read_page(page: Page) -> Seen:
    """The page's visible text and every CSV and Excel file its download buttons give (grids are
    drawn on a canvas: their cells are read through the files a user would download)."""
    for summary in page.locator('[data-testid="stExpander"] details:not([open]) summary').all():
        summary.click()  # tables inside a collapsed expander download too
    seen = Seen(page.evaluate("() => document.body.innerText"))
    buttons = page.get_by_test_id("stDownloadButton")
    for n in range(buttons.count()):
        with page.expect_download() as download:
            buttons.nth(n).get_by_role("button").click()
        name = download.value.suggested_filename
        data = Path(download.value.path()).read_bytes()
        if name.endswith(".xlsx"):
            text, formulas = excel_cells(data)
            seen.formulas += [f"{name}: {f}" for f in formulas]
        else:
            text = data.decode("utf-8-sig")
        seen.files[f"{n}:{name}"] = text
    return seen


def excel_cells(data: bytes) -> tuple[str, list[str]]:
    """Every cell's text of a workbook, and the cells that are formulas."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    formulas = [f"{c.coordinate}={c.value}" for c in cells if c.data_type == "f"]
    return " ".join("" if c.value is None else str(c.value) for c in cells), formulas
