"""What the SLO engine consumes: plain records an adapter builds from the KPIs' case facts.

The engine never reads the store. An adapter (one per KPI) turns case facts into:

- `Occurrence` — one decided case: a deal whose project was created, an invoice that was
  posted, a first sync attempt, or one day's value-weighted snapshot of unbilled work. ``at`` is
  when the case was *decided* (project created, invoice posted, attempt finished, snapshot
  taken); ``good`` whether it met the SLO's threshold; ``weight`` 1 for counted cases or the
  money for value-weighted ones.
- `OpenItem` — one item that has a deadline and may sit past it: a won deal without a project,
  approved work not yet billed. ``deadline`` is already resolved (business days on the item's
  legal-entity calendar, see `foundation.business_time.resolve_deadline`). Items closed recently may
  be passed with ``closed_at`` so the days they spent late stay counted in the window.
- `SourceFreshness` — when a collector last succeeded and how old that may get. A mapping
  ``collector → SLO names`` says which SLOs each collector feeds.

Every timestamp must be timezone-aware (refused with the field named, like the canonical rows).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from metrics.freshness import overdue
from store.canonical import require_aware

#: Which SLOs (by ``metadata.name``) each collector feeds: ``{"crm": {"project-setup-latency"}}``.
Feeds = Mapping[str, Collection[str]]


def _aware(value: datetime, name: str) -> datetime:
    aware = require_aware(value, name)
    assert aware is not None
    return aware


def _frozen_group(group: Mapping[str, str], owner: str) -> Mapping[str, str]:
    for key, value in group.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{owner}.group must map str to str (got {key!r}: {value!r})")
    return MappingProxyType(dict(group))


def _weight(value: float, owner: str) -> float:
    weight = float(value)
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"{owner}.weight must be a finite number ≥ 0 (got {value!r})")
    return weight


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One decided case: ``good`` or not, at ``at``, weighing ``weight``, in ``group``.

    ``group`` holds the dimensions the SLO may group by (``practice``, ``legal_entity``,
    ``customer``, ``integration`` …); dimensions an SLO does not group by are ignored.
    """

    at: datetime
    good: bool
    weight: float = 1.0
    group: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _aware(self.at, "Occurrence.at"))
        object.__setattr__(self, "weight", _weight(self.weight, "Occurrence"))
        object.__setattr__(self, "group", _frozen_group(self.group, "Occurrence"))


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An item open since ``since`` that passes its limit at ``deadline``.

    From ``deadline`` until ``closed_at`` (or for ever, while open) it burns the SLO's aging
    budget: one day (or business day, on its group's calendar) per day past the deadline,
    times ``weight`` when the SLO's aging budget is weighted.
    """

    key: str
    since: datetime
    deadline: datetime
    group: Mapping[str, str] = field(default_factory=dict)
    weight: float = 1.0
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _aware(self.since, "OpenItem.since"))
        object.__setattr__(self, "deadline", _aware(self.deadline, "OpenItem.deadline"))
        object.__setattr__(self, "closed_at", require_aware(self.closed_at, "OpenItem.closed_at"))
        object.__setattr__(self, "weight", _weight(self.weight, "OpenItem"))
        object.__setattr__(self, "group", _frozen_group(self.group, "OpenItem"))
        if self.deadline < self.since:
            raise ValueError(f"OpenItem {self.key!r}: deadline is before since")


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """A collector's last successful run and how old that may be before it counts as stale.

    ``last_success`` None means it never succeeded: stale from the start.
    """

    collector: str
    last_success: datetime | None
    stale_after: timedelta

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "last_success", require_aware(self.last_success, "SourceFreshness.last_success")
        )
        if self.stale_after <= timedelta(0):
            raise ValueError(f"SourceFreshness {self.collector!r}: stale_after must be positive")

    def is_stale(self, as_of: datetime) -> bool:
        """True when the last success is missing or older than ``stale_after`` at ``as_of``
        (the rule of `metrics.freshness`)."""
        return overdue(self.last_success, self.stale_after, as_of)


@dataclass(frozen=True, slots=True)
class SloInputs:
    """Everything one SLO is evaluated on: its decided cases and its aging items."""

    occurrences: tuple[Occurrence, ...] = ()
    open_items: tuple[OpenItem, ...] = ()
