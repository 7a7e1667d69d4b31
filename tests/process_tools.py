"""Looking at the processes a test started: a dashboard's health, a process's children, whether
a process is still alive (Linux `/proc`)."""

from __future__ import annotations

import urllib.request
from pathlib import Path


def healthy(port: int) -> bool:
    """Whether a dashboard answers its health check on this loopback port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    """The process ids of `pid`'s children."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
