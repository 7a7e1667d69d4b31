"""A real trytond 8.2 server on loopback, on a seeded SQLite database.

The database (modules `company party currency account account_invoice sale sale_opportunity
project timesheet project_invoice`, 30–60 s to create, then seeded by `seed_tryton.py`) is
built once and cached under the system temp dir, keyed by the trytond version, the modules
and the seed script; each test session copies it and starts `trytond -d <db>` on a free port.
Nothing is installed at test time: trytond and its modules come with the `dev` extra.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
import pytest

MODULES = [
    "company",
    "party",
    "currency",
    "account",
    "account_invoice",
    "sale",
    "sale_opportunity",
    "project",
    "timesheet",
    "project_invoice",
]
DATABASE = "throughline"
LOGIN, PASSWORD = "admin", "admin-password-for-tests"
COMPANY = "Throughline Tryton Inc."
SEED = Path(__file__).with_name("seed_tryton.py")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class TrytonServer:
    """A running trytond: where it listens and how to log in."""

    server_url: str
    database: str
    login: str
    password: str
    workdir: Path

    @property
    def base_url(self) -> str:
        return f"{self.server_url}/{self.database}/"


def _config(path: Path, port: int) -> Path:
    conf = path / "trytond.conf"
    conf.write_text(
        f"[database]\nuri = sqlite://\npath = {path}\n\n[web]\nlisten = 127.0.0.1:{port}\n\n"
        "[session]\nauthentications = password\n",
        encoding="utf-8",
    )
    return conf


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYTOND_")}
    env["TZ"] = "UTC"  # Tryton's SQLite backend stamps records with the local clock
    return env


def _cache_key() -> str:
    digest = hashlib.sha256()
    digest.update(metadata.version("trytond").encode())
    digest.update(" ".join(MODULES).encode())
    digest.update(SEED.read_bytes())
    return digest.hexdigest()[:16]


def _build(target: Path) -> None:
    """Create and seed the database file `target` (in a scratch directory)."""
    # In memory where there is a tmpfs: SQLite's syncs would otherwise dominate the build.
    scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = Path(tempfile.mkdtemp(prefix="tryton-build-", dir=scratch))
    try:
        conf = _config(work, 0)
        (work / f"{DATABASE}.sqlite").touch()
        (work / "password").write_text(PASSWORD + "\n", encoding="utf-8")
        env = {**_env(), "TRYTONPASSFILE": str(work / "password")}
        subprocess.run(
            [
                BIN / "trytond-admin",
                "-c",
                conf,
                "-d",
                DATABASE,
                "--email",
                "admin@example.com",
                "-u",
                *MODULES,
                "--activate-dependencies",
            ],
            check=True,
            env=env,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [sys.executable, SEED, conf, DATABASE],
            check=True,
            env=env,
            capture_output=True,
            timeout=300,
        )
        partial = target.with_suffix(".partial")
        shutil.copyfile(work / f"{DATABASE}.sqlite", partial)
        os.replace(partial, target)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"building the Tryton test database failed: {exc.cmd}\n{exc.stderr.decode()[-3000:]}"
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def seeded_database() -> Path:
    """The cached, seeded database file (built under a file lock on first use)."""
    cache = Path(tempfile.gettempdir()) / "throughline-tryton" / _cache_key()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{DATABASE}.sqlite"
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            started = time.perf_counter()
            _build(target)
            print(f"\nTryton test database built in {time.perf_counter() - started:.1f}s")
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"trytond exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            answer = httpx.post(
                f"{url}/rpc/",
                json={"id": 0, "method": "common.server.version", "params": []},
                timeout=2,
            )
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"trytond did not answer within 60 s: {log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonServer]:
    """trytond on a copy of the seeded database, on a free loopback port."""
    source = seeded_database()
    work = tmp_path_factory.mktemp("tryton")
    shutil.copyfile(source, work / f"{DATABASE}.sqlite")
    port = _free_port()
    conf = _config(work, port)
    log = work / "trytond.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [BIN / "trytond", "-c", conf, "-d", DATABASE],
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield TrytonServer(url, DATABASE, LOGIN, PASSWORD, work)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
