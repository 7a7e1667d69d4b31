"""`throughline serve` as a process: its dashboard never outlives it, its secrets file never
outlives the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.conftest import free_port
from tests.process_tools import alive, children_of, healthy

ROOT = Path(__file__).resolve().parent.parent
CLIENT_SECRET = "client-secret-sentinel-4711"
UP_TIMEOUT = 120


def serve_env(home: Path, port: int) -> dict[str, str]:
    """Sign-in configured with made-up provider values (the metadata URL is only fetched when
    someone signs in), on a private data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THROUGHLINE_", "XDG_"))}
    env.update(
        {
            "HOME": str(home),
            "THROUGHLINE_DASHBOARD_PORT": str(port),
            "THROUGHLINE_DATABASE_URL": f"sqlite:///{home}/store.db",
            "THROUGHLINE_AUTH__SERVER_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
            "THROUGHLINE_AUTH__CLIENT_ID": "throughline",
            "THROUGHLINE_SECRETS__OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }
    )
    return env


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "throughline", "serve"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    port = int(env["THROUGHLINE_DASHBOARD_PORT"])
    deadline = time.monotonic() + UP_TIMEOUT
    try:
        while not healthy(port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_a_killed_serve_takes_its_dashboard_along_and_the_next_start_removes_its_secrets(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = serve_env(home, port)
    run_dir = home / ".local" / "share" / "throughline" / "run"
    log = tmp_path / "serve.log"
    with serving(env, log) as first:
        (dashboard,) = children_of(first.pid)
        secrets_file = run_dir / f"serve-{first.pid}" / "secrets.toml"
        assert CLIENT_SECRET in secrets_file.read_text()
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        assert run_dir.stat().st_mode & 0o777 == 0o700
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        deadline = time.monotonic() + 5
        while alive(dashboard):
            assert time.monotonic() < deadline, "the dashboard outlived its killed parent"
            time.sleep(0.1)
        assert not healthy(port)
    assert secrets_file.exists(), "SIGKILL left it (nothing runs on SIGKILL)"
    with serving(env, log) as second:
        assert not secrets_file.parent.exists(), "the next start removed the old one"
        assert [p.name for p in run_dir.iterdir()] == [f"serve-{second.pid}"]
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    assert list(run_dir.iterdir()) == [], "a normal stop removes its own"
    assert CLIENT_SECRET not in log.read_text(errors="replace")


def test_a_stale_directory_of_a_live_process_is_kept(tmp_path: Path) -> None:
    """The sweep removes only what a process that is gone left behind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THROUGHLINE_", "XDG_"))}
    env["XDG_DATA_HOME"] = str(tmp_path)
    run_dir = tmp_path / "throughline" / "run"
    run_dir.mkdir(parents=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (run_dir / f"serve-{int(gone.stdout)}").mkdir()
    (run_dir / f"serve-{os.getpid()}").mkdir()  # this test's own process: alive
    (run_dir / "notes").mkdir()  # not ours to judge
    sweep = "from foundation.rundir import sweep; print(len(sweep()))"
    done = subprocess.run(
        [sys.executable, "-c", sweep], env=env, capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "1"
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes", f"serve-{os.getpid()}"]
