"""Building blocks of the simulation: record builders, business time, ids and money."""

from __future__ import annotations

import random
import string
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from collectors.demo_estate.model import Record, Version

CENT = Decimal("0.01")
_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SF_SUFFIX = string.ascii_uppercase + "012345"
DAY = timedelta(days=1)


def money(value: float | Decimal) -> Decimal:
    """Round to cents."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def sf_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce id with key ``prefix`` and a valid case-safe suffix."""
    chars = []
    for _ in range(10):
        n, r = divmod(n, 62)
        chars.append(_B62[r])
    id15 = f"{prefix}Dn{''.join(reversed(chars))}"
    suffix = ""
    for i in range(0, 15, 5):
        bits = 0
        for j in range(5):
            if "A" <= id15[i + j] <= "Z":
                bits |= 1 << j
        suffix += _SF_SUFFIX[bits]
    return id15 + suffix


def iban(rng: random.Random, country: str) -> str:
    """A syntactically valid GB or DE IBAN (correct mod-97 check digits)."""
    if country == "GB":
        bban = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(4))
        bban += "".join(rng.choice(string.digits) for _ in range(14))
    else:
        country = "DE"
        bban = "".join(rng.choice(string.digits) for _ in range(18))
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def is_bday(d: date) -> bool:
    """Monday to Friday (the simulation ignores public holidays)."""
    return d.weekday() < 5


def add_bdays(t: datetime, n: int) -> datetime:
    """``t`` moved forward by ``n`` business days (time of day kept)."""
    while not is_bday(t.date()):
        t += DAY
    weeks, n = divmod(n, 5)
    t += 7 * weeks * DAY
    while n > 0:
        t += DAY
        if is_bday(t.date()):
            n -= 1
    return t


def at_time(d: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A UTC datetime on day ``d``."""
    return datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=UTC)


def biz_time(rng: random.Random, d: date, start_hour: int = 8, end_hour: int = 18) -> datetime:
    """A random business-hours time on ``d`` (moved to the next weekday if needed)."""
    while not is_bday(d):
        d += DAY
    seconds = rng.randrange(start_hour * 3600, end_hour * 3600)
    return at_time(d, 0) + timedelta(seconds=seconds)


def biz_after(rng: random.Random, t: datetime, bdays: int) -> datetime:
    """A business-hours time ``bdays`` business days after ``t`` and strictly after it."""
    day = add_bdays(t, bdays).date()
    candidate = biz_time(rng, day)
    if candidate <= t:
        candidate = t + timedelta(minutes=rng.randint(5, 240))
    return candidate


def monday(d: date) -> date:
    """The Monday of ``d``'s week."""
    return d - timedelta(days=d.weekday())


def month_starts(start: date, end: date) -> list[date]:
    """First days of the months from ``start``'s month up to ``end`` (exclusive)."""
    out: list[date] = []
    d = start.replace(day=1)
    while d < end:
        out.append(d)
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _when(change: tuple[datetime, dict[str, Any]]) -> datetime:
    return change[0]


class RecordBuilder:
    """Collects timestamped changes to one record; ``freeze`` folds them into versions."""

    __slots__ = ("changes", "id", "kind")

    def __init__(self, kind: str, record_id: str, t: datetime, state: dict[str, Any]) -> None:
        self.kind = kind
        self.id = record_id
        self.changes: list[tuple[datetime, dict[str, Any]]] = [(t, state)]

    @property
    def created(self) -> datetime:
        """When the record first exists."""
        return self.changes[0][0]

    def update(self, t: datetime, **fields: Any) -> None:
        """Change ``fields`` from ``t`` on (must not precede the creation)."""
        if t < self.changes[0][0]:
            raise ValueError(f"{self.kind} {self.id}: update at {t} before creation")
        self.changes.append((t, fields))

    def current(self) -> dict[str, Any]:
        """The state after every change so far (in time order)."""
        state: dict[str, Any] = {}
        for _, fields in sorted(self.changes, key=_when):
            state.update(fields)
        return state

    def freeze(self, end: datetime) -> Record | None:
        """Versions strictly before ``end``; None when the record starts at or after it."""
        if len(self.changes) == 1:
            t, only = self.changes[0]
            return Record(self.kind, self.id, (Version(t, only),)) if t < end else None
        changes = sorted(self.changes, key=_when)
        versions: list[Version] = []
        state: dict[str, Any] = {}
        for t, fields in changes:
            if t >= end:
                break
            state = {**state, **fields}
            if versions and versions[-1].valid_from == t:
                versions[-1] = Version(t, state)
            else:
                versions.append(Version(t, state))
        return Record(self.kind, self.id, tuple(versions)) if versions else None


class SimRandom(random.Random):
    """``random.Random`` with cheaper ``randint``/``randrange`` (still one seeded stream)."""

    def randint(self, a: int, b: int) -> int:
        """An integer in ``[a, b]``."""
        return a + int(self.random() * (b - a + 1))

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        """An integer in ``[start, stop)`` (or ``[0, start)``)."""
        if stop is None:
            start, stop = 0, start
        if step != 1:
            return super().randrange(start, stop, step)
        return start + int(self.random() * (stop - start))


class World:
    """The mutable estate under construction: one RNG, the records, id counters."""

    def __init__(self, seed: int, start: datetime, history_end: datetime, horizon_end: datetime):
        self.rng: random.Random = SimRandom(seed)
        self.start = start
        self.history_end = history_end
        self.horizon_end = horizon_end
        self.builders: dict[str, list[RecordBuilder]] = defaultdict(list)
        self._counters: dict[str, int] = defaultdict(int)

    def next_number(self, series: str, first: int = 1, step_max: int = 1) -> int:
        """The next number of ``series`` (gaps of up to ``step_max``)."""
        if series not in self._counters:
            self._counters[series] = first
            return first
        step = 1 if step_max == 1 else self.rng.randint(1, step_max)
        self._counters[series] += step
        return self._counters[series]

    def new(self, kind: str, record_id: str, t: datetime, **state: Any) -> RecordBuilder:
        """Create a record at ``t`` with ``state``."""
        builder = RecordBuilder(kind, record_id, t, state)
        self.builders[kind].append(builder)
        return builder

    def freeze(self) -> dict[str, tuple[Record, ...]]:
        """Every record that exists before the horizon end, by kind."""
        out: dict[str, tuple[Record, ...]] = {}
        for kind, builders in self.builders.items():
            frozen = (b.freeze(self.horizon_end) for b in builders)
            out[kind] = tuple(r for r in frozen if r is not None)
        return out
