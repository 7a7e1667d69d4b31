"""A deterministic canonical event log of a professional-services firm, at any number of deals.

Deal ``i`` is drawn from its own ``random.Random`` seeded with ``(seed, i)``, so the order of
generation does not matter; deals are numbered in the order they are won, so a batch of
consecutive deals is what a collector reading its sources in time order delivers (give or take
the later rows of those deals), and a batch touches weeks of history, not all of it.

About 89 % of deals are won (2 % of all deals are then reopened and lost, 2 % need no project);
a won deal gets a project (the integration user creates 70 % of them), three time entries
logged and approved, a time-and-materials or fixed-fee invoice posted, sent and (mostly)
paid, and sync attempts for provisioning, time posting and invoice status with retries. A few
percent of cases take the paths the KPIs must get right: reopened-then-lost deals, deals needing
no project, stuck handoffs, written-off and held work, billing held for weeks (aged unbilled
work), voided and re-issued invoices, credit notes, failures that stay open, and a bad-release
day every 61 days when provisioning fails far more often. Daily FX rates convert GBP and EUR.

History runs `HISTORY_DAYS` days from `START` (the *cut*); the next `APPEND_DAYS` days hold about
1 % more events: the incremental-refresh benchmark appends them. A row belongs to the time it
becomes visible to a collector: an event when it occurred, an object with its first event, a
link when both its ends exist, a sync attempt when it started. Roughly 10.6 events, 8 objects,
9 links and 5 sync attempts per deal (≈ 47 rows).

The firm's timeline, systems, flows and FX rates are in `bench/firm.py`, one deal's rows in
`bench/deals.py`; this module names the scales and cuts the log into the batches a collector
delivers, each with its cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bench.deals import deal_log
from bench.firm import COLLECTOR, CUT, DAY, END, SPAN_SECONDS, START, STREAM, TAIL_DAYS, fx_rows
from store.canonical import Batch, EventRow, FxRateRow, LinkRow, ObjectRow, SyncAttemptRow
from store.write import CursorUpdate

Part = Literal["base", "append", "all"]


@dataclass(frozen=True)
class Scale:
    """How many deals, and the seed."""

    deals: int
    seed: int = 1

    @property
    def customers(self) -> int:
        return max(50, self.deals // 50)

    @property
    def label(self) -> str:
        return label(self.deals)


def label(deals: int) -> str:
    """`10k`, `100k`, `1m`."""
    if deals >= 1_000_000 and deals % 1_000_000 == 0:
        return f"{deals // 1_000_000}m"
    if deals >= 1_000 and deals % 1_000 == 0:
        return f"{deals // 1_000}k"
    return str(deals)


def parse_scale(text: str) -> int:
    """`10k` → 10 000; `1m` → 1 000 000; `2500` → 2 500."""
    t = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if factor > 1 else t) * factor)


def batches(
    scale: Scale, part: Part = "base", rows_per_batch: int = 50_000
) -> Iterator[tuple[Batch, CursorUpdate]]:
    """The log of `part` (``base``: before the cut; ``append``: the days after it; ``all``) in
    batches of about `rows_per_batch` rows, each with the cursor a collector would save."""
    lo, hi = {"base": (START, CUT), "append": (CUT, END), "all": (START, END)}[part]
    batch, size, high = Batch(fx_rates=_fx_for(lo, hi)), 0, lo
    first = max(
        0,
        int((lo - START).total_seconds() / SPAN_SECONDS * scale.deals)
        - int(TAIL_DAYS * 86400 / SPAN_SECONDS * scale.deals),
    )  # earlier deals have nothing here
    for i in range(first, scale.deals):
        for at, row in deal_log(scale.seed, i, scale.customers, scale.deals).rows:
            if not lo <= at < hi:
                continue
            high = max(high, at)
            size += 1
            if isinstance(row, EventRow):
                batch.events.append(row)
                size += len(row.objects)
            elif isinstance(row, ObjectRow):
                batch.objects.append(row)
            elif isinstance(row, LinkRow):
                batch.links.append(row)
            elif isinstance(row, SyncAttemptRow):
                batch.sync_attempts.append(row)
        if size >= rows_per_batch:
            yield batch, cursor(high)
            batch, size = Batch(), 0
    if size or batch.fx_rates:
        yield batch, cursor(high)


def _fx_for(lo: datetime, hi: datetime) -> list[FxRateRow]:
    """The rates of the days in ``[lo, hi)``."""
    return fx_rows(lo.date(), (hi - DAY).date())


def cursor(at: datetime) -> CursorUpdate:
    """The cursor a collector saves with a batch: how far in source time it has read."""
    return CursorUpdate(COLLECTOR, STREAM, {"since": at.isoformat()})


def rows_in(batch: Batch) -> int:
    """Rows the batch writes to the store's tables (event-object relations included)."""
    return len(batch) + sum(len(e.objects) for e in batch.events)
