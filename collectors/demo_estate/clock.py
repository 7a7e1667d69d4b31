"""``SimClock``: the simulated "now" the server reveals records up to.

Fixed mode: ``now()`` is the end of history (plus whatever ``advance`` added). Live mode:
``now() = history_end + offset + real elapsed seconds x speed`` (speed = simulated seconds per
real second; the default 3600 plays an hour of the firm per second).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    """A thread-safe simulated clock, fixed or running at ``speed``."""

    def __init__(
        self,
        history_end: datetime,
        *,
        live: bool = False,
        speed: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if history_end.tzinfo is None:
            raise ValueError("history_end must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.history_end = history_end
        self.live = live
        self.speed = speed
        self._monotonic = monotonic
        self._started = monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The simulated time now (whole milliseconds)."""
        with self._lock:
            t = self.history_end + self._offset
            if self.live:
                t += timedelta(seconds=(self._monotonic() - self._started) * self.speed)
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward by ``delta`` (for tests); the new ``now()``."""
        if delta < timedelta(0):
            raise ValueError("the simulated clock never goes back")
        with self._lock:
            self._offset += delta
        return self.now()

    def __repr__(self) -> str:
        mode = f"live x{self.speed:g}" if self.live else "fixed"
        return f"SimClock({self.now().isoformat()}, {mode})"
