"""The SLI: good and total weight of the occurrences in a window, per group.

**attainment** over a window ``[start, end)`` = good weight / total weight of the occurrences
decided in it (weights are 1 for counted cases, money for value-weighted ones). Windows are
half-open: an occurrence decided exactly at ``as_of`` belongs to the next evaluation.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate

from metrics.slo.inputs import Occurrence

GroupKey = tuple[tuple[str, str], ...]
OVERALL: GroupKey = ()
#: Group value used when an occurrence lacks a dimension the SLO groups by.
MISSING = "(none)"


@dataclass(frozen=True, slots=True)
class Ratio:
    """Good and total weight (and how many occurrences) in one window."""

    good: float
    total: float
    count: int

    @property
    def bad(self) -> float:
        return max(0.0, self.total - self.good)

    @property
    def sli(self) -> float | None:
        """good / total in [0, 1]; None when the window holds nothing."""
        if self.total <= 0:
            return None
        return min(1.0, max(0.0, self.good / self.total))


EMPTY = Ratio(0.0, 0.0, 0)


class OccurrenceSeries:
    """Occurrences sorted by time with prefix sums: any window's `Ratio` in O(log n)."""

    def __init__(self, occurrences: Iterable[Occurrence]) -> None:
        ordered = sorted(occurrences, key=lambda o: o.at)
        self._times = [o.at for o in ordered]
        self._total = [0.0, *accumulate(o.weight for o in ordered)]
        self._bad = [0.0, *accumulate(0.0 if o.good else o.weight for o in ordered)]

    def __len__(self) -> int:
        return len(self._times)

    def ratio(self, start: datetime, end: datetime) -> Ratio:
        """Occurrences decided in ``[start, end)``."""
        if end <= start:
            return EMPTY
        i, j = bisect_left(self._times, start), bisect_left(self._times, end)
        if j <= i:
            return EMPTY
        total = self._total[j] - self._total[i]
        bad = min(total, max(0.0, self._bad[j] - self._bad[i]))
        return Ratio(good=total - bad, total=total, count=j - i)


def attainment(occurrences: Iterable[Occurrence], start: datetime, end: datetime) -> Ratio:
    """Good/total weight of the occurrences decided in ``[start, end)``."""
    return OccurrenceSeries(occurrences).ratio(start, end)


def group_key(group: Mapping[str, str], dimensions: Sequence[str]) -> GroupKey:
    """The group an input belongs to under an SLO's grouping (missing values → ``(none)``)."""
    return tuple((d, group.get(d, MISSING)) for d in dimensions)


def group_label(key: GroupKey) -> str:
    """``legal_entity=DE, practice=Cloud``, or ``all`` for the overall scope."""
    return ", ".join(f"{k}={v}" for k, v in key) if key else "all"


def matches(group: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether a group holds every wanted dimension value."""
    return all(group.get(k, MISSING) == v for k, v in wanted.items())
