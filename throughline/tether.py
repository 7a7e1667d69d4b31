"""`python -m throughline.tether PARENT_PID COMMAND…`: run COMMAND tied to PARENT_PID's life.

On Linux it asks the kernel for SIGTERM when its parent dies (`prctl(PR_SET_PDEATHSIG)`, which
survives the `exec` of COMMAND), exits at once if PARENT_PID is already gone, then becomes
COMMAND (same process id). This runs before COMMAND rather than in a `preexec_fn`, which is not
safe in a parent that has threads (the demo's estate server runs in one).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the signal was armed
        raise SystemExit(1)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
