"""Fixtures for the browser test: a real `throughline demo` and Debian's headless Chromium.

Chromium comes from the Debian package (`make chromium` installs it); a downloaded browser is
never used. Without it the browser tests are skipped locally and **fail** with `CI=true`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("THROUGHLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
START_TIMEOUT = 240


def require_chromium() -> str:
    """The Chromium binary; skip (locally) or fail (in CI) when it is missing."""
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if found:
        return found
    reason = f"Debian's chromium is not installed ({CHROMIUM}); run `make chromium`"
    if IN_CI:
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Demo:
    """A running `throughline demo`: its dashboard URL and its log."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]
    started_in: float = 0.0
    notes: list[str] = field(default_factory=list)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"throughline demo exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the dashboard did not come up:\n{log.read_text()[-3000:]}")


@contextmanager
def running_demo(home: Path, interval_seconds: int) -> Iterator[Demo]:
    """`throughline demo --no-browser` on free ports with its data under `home`, its worker
    polling the live estate every `interval_seconds`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}
    env.update(
        {
            "XDG_DATA_HOME": str(home),
            "THROUGHLINE_DASHBOARD_PORT": str(port),
            "THROUGHLINE_DEMO_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("DEMO_CRM", "DEMO_PSA", "DEMO_ERP", "DEMO_IPAAS"):
        env[f"THROUGHLINE_COLLECTORS__{name}__INTERVAL_SECONDS"] = str(interval_seconds)
    log = home / "demo.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "throughline", "demo", "--no-browser"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield Demo(url, log, process, time.monotonic() - started)
    finally:
        stop(process, timeout=60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo with its live worker polling hourly, so the data stays put while the test
    clicks around."""
    require_chromium()
    with running_demo(tmp_path_factory.mktemp("demo-home"), interval_seconds=3600) as running:
        yield running


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
