"""The dashboard and worker processes that `throughline serve` and `demo` start.

Each child is tied to its parent's life: on Linux the kernel sends it SIGTERM when the parent
dies, even by SIGKILL (`throughline.tether`), so no dashboard is left serving without the process
that owns its secrets file. Elsewhere a child outlives a killed parent; stopping the parent
normally (SIGTERM, SIGINT, SIGHUP) stops it everywhere.

The dashboard always runs headless: Streamlit then never prompts for an e-mail address on a
first run (its prompt is skipped when `server.headless` is true) and never opens a browser
itself; `open_browser` does, once the dashboard answers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def streamlit_command(port: int, *, secrets_file: Path | None = None) -> list[str]:
    """The command that serves the dashboard (with `secrets_file` holding `st.login`'s
    settings when sign-in is configured).

    Error details are off before any page runs: a visitor sees a sentence, never a file path
    or a source line. Streamlit runs a full garbage collection after every page run by default;
    with the dashboard's caches in memory that took most of the server's time under twenty
    sessions (tests/browser/test_load_browser.py), so it is left to Python's own thresholds."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.showEmailPrompt",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--runner.postScriptGC",
        "false",
        "--logger.enableRich",
        "false",
    ]
    if secrets_file is not None:
        command += ["--secrets.files", str(secrets_file)]
    return command


def start_child(
    command: list[str], *, env: dict[str, str] | None = None, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start `command` tied to this process's life (its output to `output` when given), in a
    session of its own: a Ctrl-C in the terminal reaches this process, which stops it."""
    tethered = [sys.executable, "-m", "throughline.tether", str(os.getpid()), *command]
    return subprocess.Popen(
        tethered,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        start_new_session=True,
    )


def run_forwarding_signals(command: list[str]) -> int:
    """Run `command` until it exits, passing SIGTERM, SIGINT and SIGHUP on to it (so stopping
    this process stops the child too); its exit status."""
    child = start_child(command)

    def _forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {s: signal.signal(s, _forward) for s in FORWARDED}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_children(children: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM each child still running, wait for all, SIGKILL one that will not stop."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_until_serving(url: str, child: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether the dashboard at `url` answered its health check within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return False


def display_available() -> bool:
    """Whether a browser window can be opened here (a desktop session, not an SSH terminal)."""
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str, log: IO[bytes]) -> bool:
    """Open `url` in the desktop's browser when there is a desktop; whether it was asked to.
    On Linux `xdg-open` runs with its output in `log`, so a browser's messages never reach
    the terminal."""
    if not display_available():
        return False
    opener = shutil.which("xdg-open") if sys.platform.startswith("linux") else None
    if opener:
        subprocess.Popen(
            [opener, url],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return True
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False
