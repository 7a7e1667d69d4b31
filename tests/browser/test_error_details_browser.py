"""An unexpected error on the very first request after a start shows no file path, no source
line and no message: Streamlit's configuration hides error details before any page code runs,
for `throughline serve` (its flags) and for `streamlit run app.py` (`.streamlit/config.toml`
beside `app.py`, which Streamlit reads wherever it is started from).

The error is real: a `sitecustomize` on the dashboard's `PYTHONPATH` makes the shared chrome
(`throughline.ui.shell.chrome`, which `throughline.ui` re-exports and `app.py` draws around
every page) raise with a sentinel message naming a source file. A control run with error details switched back on shows the sentinel, so the test cannot pass by
accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from store.db import make_engine
from store.migrate import upgrade
from tests.browser.conftest import CHROMIUM_ARGS, ROOT, free_port, require_chromium, stop
from tests.test_first_run import healthy

pytestmark = pytest.mark.browser
SENTINEL = "SENTINEL-7f3a in /srv/throughline/secret_module.py line 42"
RAISING_CHROME = f"""
import importlib.abc, importlib.util, sys

class _Raise(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "throughline.ui.shell":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)

            def chrome():
                raise RuntimeError({SENTINEL!r})

            module.chrome = chrome

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Raise())
"""
GENERIC = "This app has encountered an error"


def dashboard(how: str, tmp_path: Path, port: int) -> tuple[list[str], Path]:
    """The command and working directory of each way to start the dashboard."""
    if how == "throughline serve":
        return [sys.executable, "-m", "throughline", "serve"], tmp_path
    streamlit = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
    ]
    if how == "streamlit run app.py in the repository":
        return streamlit, ROOT
    # the control: the same start with error details switched back on shows them
    return [*streamlit, "--client.showErrorDetails", "full"], ROOT


@pytest.fixture
def started(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The dashboard started one way, on a migrated store, its first page not yet requested."""
    require_chromium()
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(RAISING_CHROME)
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{tmp_path}/store.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THROUGHLINE_", "XDG_"))}
    env.update(
        {
            "HOME": str(home),
            "PYTHONPATH": str(inject),
            "THROUGHLINE_DATABASE_URL": url,
            "THROUGHLINE_AUTH__ALLOW_ANONYMOUS": "true",
            "THROUGHLINE_DASHBOARD_PORT": str(port),
        }
    )
    command, cwd = dashboard(request.param, tmp_path, port)
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 120
        while not healthy(port):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop(process)


def first_page_text(url: str) -> str:
    """The text of a page opened directly by URL as the first request after the start."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/invoice_cycle?entity=DE")
            page.get_by_test_id("stException").first.wait_for(timeout=90_000)
            return str(page.evaluate("() => document.body.innerText"))
        finally:
            browser.close()


@pytest.mark.parametrize(
    "started",
    ["throughline serve", "streamlit run app.py in the repository"],
    indirect=True,
)
def test_the_first_request_after_a_start_shows_no_error_details(
    started: tuple[str, Path],
) -> None:
    url, log = started
    shown = first_page_text(url)
    assert GENERIC in shown
    for leak in ("SENTINEL", "secret_module", "Traceback", 'File "', ".py", "RuntimeError"):
        assert leak not in shown, (leak, shown)
    assert SENTINEL in log.read_text(), "the error did happen (and went to the server's log)"


@pytest.mark.parametrize("started", ["control"], indirect=True)
def test_with_error_details_switched_on_the_same_error_shows_its_details(
    started: tuple[str, Path],
) -> None:
    url, _log = started
    shown = first_page_text(url)
    assert SENTINEL in shown and GENERIC not in shown
