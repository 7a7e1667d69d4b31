"""Private directories of running processes, and the pass that makes a process a demo.

`throughline serve` and `throughline demo` keep what must not outlive them (Streamlit's secrets
file, the demo's pass) in `<data dir>/run/<kind>-<pid>/` (mode 0700, files 0600). The directory
is removed when its process ends normally; one left behind by a process that was killed is
removed by the next start of either command (`claim` sweeps every directory whose process is
gone).

Demo mode (no sign-in, every page says so) is not a setting: a settings file or an environment
variable alone cannot turn it on. `throughline demo` writes a random pass into its private
directory and gives its children the same pass in `THROUGHLINE_DEMO_PASS`; a child is in demo
mode only when the pass it was given equals the one in the directory of the process that
started it (its parent), a file only this user can read.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

DEMO_PASS_ENV = "THROUGHLINE_DEMO_PASS"
DEMO_KIND = "demo"
_PASS_FILE = "pass"
_ENTRY = re.compile(r"(?P<kind>[a-z]+)-(?P<pid>\d+)")


def run_root() -> Path:
    """`<data dir>/run`, private to this user."""
    from foundation.settings import user_data_dir

    root = user_data_dir() / "run"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    return root


def claim(kind: str) -> Path:
    """A new, empty private directory for this process, after sweeping stale ones."""
    sweep()
    directory = run_root() / f"{kind}-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)  # an earlier process with our pid left it
    directory.mkdir(mode=0o700)
    return directory


def release(directory: Path) -> None:
    """Remove a directory `claim` made (and everything in it)."""
    shutil.rmtree(directory, ignore_errors=True)


def sweep() -> list[Path]:
    """Remove every run directory whose process is gone; the directories removed."""
    removed = []
    for entry in sorted(run_root().iterdir()):
        found = _ENTRY.fullmatch(entry.name)
        if found and entry.is_dir() and not _alive(int(found["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def write_private(path: Path, text: str) -> Path:
    """Write `text` to a new file readable by this user only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def grant_demo_mode(directory: Path) -> dict[str, str]:
    """Write a new demo pass into this process's `directory`; the environment entry that
    gives it to a child process."""
    token = secrets.token_urlsafe(32)
    write_private(directory / _PASS_FILE, token)
    return {DEMO_PASS_ENV: token}


def demo_mode_granted(environ: dict[str, str] | os._Environ[str]) -> bool:
    """Whether this process holds the demo pass of the `throughline demo` that started it.

    Raises ValueError when a pass is given but is not that one (set by hand, or inherited by a
    process the demo did not start itself)."""
    given = next((v for k, v in environ.items() if k.upper() == DEMO_PASS_ENV), None)
    if given is None:
        return False
    file = run_root() / f"{DEMO_KIND}-{os.getppid()}" / _PASS_FILE
    try:
        info = file.stat()
        expected = file.read_text(encoding="utf-8") if _private(info) else ""
    except OSError:
        expected = ""
    if expected and hmac.compare_digest(expected, given):
        return True
    raise ValueError(
        f"{DEMO_PASS_ENV} is set, but only `throughline demo` gives it, to the processes it "
        "starts; unset it (to serve without sign-in, set THROUGHLINE_AUTH__ALLOW_ANONYMOUS=true)"
    )


def _private(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
