"""A first run on a fresh machine: `throughline demo` in a terminal, nobody typing.

The demo runs under a pseudo-terminal (so Streamlit and tqdm see a terminal, as in `make run`)
with a new home and data directory: no `~/.streamlit/credentials.toml`, no database. Its
standard input is the terminal, and nothing is ever typed into it.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from store.tables import CollectorRun
from tests.browser.conftest import free_port
from tests.process_tools import alive, children_of, healthy
from throughline.demo import WorkerSummary

ROOT = Path(__file__).resolve().parent.parent
BACKFILL_TIMEOUT = 300
#: What the dashboard may take after the progress bars end (it starts while they run).
AFTER_BARS = 10.0


@dataclass
class Terminal:
    """What a pseudo-terminal's reader has seen so far."""

    text: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read_from(self, master: int) -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other side closed
                return
            if not chunk:
                return
            with self.lock:
                self.text += chunk.decode("utf-8", errors="replace")

    def seen(self) -> str:
        with self.lock:
            return self.text

    def wait_for(self, pattern: str, process: subprocess.Popen[bytes], timeout: float) -> float:
        """When `pattern` appeared (monotonic time); fails if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.seen()):
                return time.monotonic()
            assert process.poll() is None, f"the demo exited early:\n{self.seen()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared:\n{self.seen()[-3000:]}")


@dataclass
class FirstRun:
    process: subprocess.Popen[bytes]
    terminal: Terminal
    home: Path
    port: int


@pytest.fixture(params=[["--no-browser"], []], ids=["no-browser", "make-run"])
def first_run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FirstRun]:
    """`throughline demo --no-browser`, or `make run`'s plain `throughline demo` on a machine
    without a desktop, on a fresh home under a pseudo-terminal, nothing typed."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("THROUGHLINE_", "XDG_", "STREAMLIT_")) and k != "DISPLAY"
    }
    env.update(
        {
            "HOME": str(home),
            "TERM": "xterm-256color",
            "THROUGHLINE_DASHBOARD_PORT": str(port),
            "THROUGHLINE_DEMO_PORT": str(free_port()),
            "THROUGHLINE_COLLECTORS__DEMO_CRM__INTERVAL_SECONDS": "3600",
        }
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 × 40
    process = subprocess.Popen(
        [sys.executable, "-m", "throughline", "demo", *request.param],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(slave)
    terminal = Terminal()
    reader = threading.Thread(target=terminal.read_from, args=(master,), daemon=True)
    reader.start()
    try:
        yield FirstRun(process, terminal, home, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        reader.join(timeout=5)
        os.close(master)


def test_the_demo_serves_the_dashboard_in_a_terminal_without_any_input(
    first_run: FirstRun,
) -> None:
    run, terminal = first_run, first_run.terminal
    bars_done = terminal.wait_for(r"Back-filled [\d,]+ rows", run.process, BACKFILL_TIMEOUT)
    while not healthy(run.port):
        assert time.monotonic() - bars_done < AFTER_BARS, (
            f"no dashboard {AFTER_BARS:.0f} s after the progress bars:\n{terminal.seen()}"
        )
        assert run.process.poll() is None, terminal.seen()
        time.sleep(0.1)
    log = run.home / ".local" / "share" / "throughline" / "logs" / "demo.log"
    terminal.wait_for(re.escape(f"Logs: {log}"), run.process, 10)
    shown = terminal.seen()
    assert f"Dashboard: http://localhost:{run.port}   (Ctrl-C stops the demo)" in shown
    for name in ("demo_crm", "demo_psa", "demo_erp", "demo_ipaas"):
        assert re.search(rf"{name}\s*: \d+ records", shown), name
    assert "Email" not in shown and "Traceback" not in shown
    # The worker's and Streamlit's lines go to the log file, not the terminal.
    time.sleep(3)
    shown = terminal.seen()
    assert "throughline.worker" not in shown and "You can now view" not in shown
    deadline = time.monotonic() + 60
    while "worker started" not in log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
        time.sleep(0.5)
    logged = log.read_text(encoding="utf-8")
    assert "You can now view your Streamlit app" in logged and "Email" not in logged
    assert re.search(r"worker started; jobs: .*collect:demo_ipaas", logged)
    assert "throughline.worker" not in terminal.seen()
    assert not (run.home / ".streamlit").exists(), "Streamlit asked for nothing and stored nothing"


@pytest.mark.parametrize("first_run", [["--no-browser"]], indirect=True, ids=["no-browser"])
def test_stopping_the_demo_stops_its_processes_and_removes_its_pass(first_run: FirstRun) -> None:
    run = first_run
    run.terminal.wait_for(r"Logs: ", run.process, BACKFILL_TIMEOUT)
    run_dir = run.home / ".local" / "share" / "throughline" / "run"
    assert [p.name for p in run_dir.iterdir()] == [f"demo-{run.process.pid}"]
    run.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert run.process.wait(timeout=60) == 0
    assert list(run_dir.iterdir()) == []
    assert not healthy(run.port), "the dashboard stopped with the demo"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
@pytest.mark.parametrize("first_run", [["--no-browser"]], indirect=True, ids=["no-browser"])
def test_a_killed_demo_takes_its_dashboard_and_worker_along(first_run: FirstRun) -> None:
    run = first_run
    run.terminal.wait_for(r"Logs: ", run.process, BACKFILL_TIMEOUT)
    children = children_of(run.process.pid)
    assert len(children) == 2, "the dashboard and the worker"
    run.process.send_signal(signal.SIGKILL)
    run.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children):
        assert time.monotonic() < deadline, "a demo process outlived the killed demo"
        time.sleep(0.1)
    assert not healthy(run.port)
    left = run.home / ".local" / "share" / "throughline" / "run" / f"demo-{run.process.pid}"
    assert (left / "pass").exists(), "nothing runs on SIGKILL: the next start removes it"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THROUGHLINE_", "XDG_"))}
    subprocess.run(
        [sys.executable, "-c", "from foundation.rundir import sweep; sweep()"],
        env={**env, "HOME": str(run.home)},
        check=True,
        cwd=ROOT,
    )
    assert not left.exists()


@pytest.mark.parametrize("first_run", [["--no-browser"]], indirect=True, ids=["no-browser"])
def test_ctrl_c_during_the_back_fill_stops_everything_without_a_traceback(
    first_run: FirstRun,
) -> None:
    run = first_run
    run.terminal.wait_for(r"demo_crm\s*: \d+ records", run.process, BACKFILL_TIMEOUT)
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=60) == 0
    time.sleep(0.5)  # the reader drains the terminal
    shown = run.terminal.seen()
    assert shown.rstrip().endswith("Stopped.") and "Traceback" not in shown, shown
    run_dir = run.home / ".local" / "share" / "throughline" / "run"
    assert list(run_dir.iterdir()) == []
    assert not healthy(run.port)


def test_the_worker_line_comes_at_most_once_a_minute_and_only_when_something_happened(
    engine: Engine,
) -> None:
    """What the demo prints about its worker: a line per minute that stored or failed."""
    now = [0.0]
    summary = WorkerSummary(engine, clock=lambda: now[0])

    def ran(status: str, rows: int, kind: str = "collect") -> None:
        with engine.begin() as conn:
            conn.execute(
                insert(CollectorRun).values(
                    collector="demo_crm",
                    kind=kind,
                    started_at=datetime.now(UTC),
                    status=status,
                    rows_in=rows,
                    rows_quarantined=0,
                )
            )

    ran("success", 0)
    now[0] = 59.0
    assert summary.due() is None, "not before the minute is over"
    now[0] = 60.0
    assert summary.due() is None, "a minute that stored nothing is not worth a line"
    ran("success", 1200)
    ran("success", 34)
    ran("failed", 0)
    ran("success", 99_999, kind="backfill")  # the back-fill has its own progress bars
    now[0] = 90.0
    assert summary.due() is None
    now[0] = 120.0
    line = summary.due()
    assert line is not None
    assert re.fullmatch(
        r"\d\d:\d\d worker: 3 runs stored 1,234 rows, 1 failed \(see the log\)", line
    )
    now[0] = 180.0
    assert summary.due() is None, "each run is told once"
