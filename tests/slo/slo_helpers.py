"""Helpers for the SLO tests: SLO documents as dicts, and hourly occurrence streams."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from metrics.slo.inputs import Occurrence
from metrics.slo.spec import DEFAULT_KPI_NAMES, Slo, parse_slos

BASE_DOC: dict[str, Any] = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "sync-first-attempts", "displayName": "First attempts succeed"},
    "spec": {
        "description": "test SLO",
        "service": "integrations",
        "indicator": {"kpi": "sync_error_rate"},
        "timeWindow": [{"duration": "7d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.99}],
    },
}


def slo_doc(**changes: Any) -> dict[str, Any]:
    """A copy of BASE_DOC; keys like ``spec__objectives`` replace nested values."""
    doc = copy.deepcopy(BASE_DOC)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value
    return doc


def make_slo(**changes: Any) -> Slo:
    """One validated SLO built from BASE_DOC with ``changes`` (see `slo_doc`)."""
    (slo,) = parse_slos(yaml.safe_dump(slo_doc(**changes)), kpis=DEFAULT_KPI_NAMES)
    return slo


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hourly(
    start: datetime,
    end: datetime,
    bad_share: Callable[[datetime], float],
    *,
    volume: float = 100.0,
    group: dict[str, str] | None = None,
) -> Iterator[Occurrence]:
    """Per hour in ``[start, end)``: one good and one bad occurrence at hh:30, weighted so that
    ``bad_share(hour)`` of ``volume`` is bad."""
    hour = start
    while hour < end:
        share = bad_share(hour)
        at = hour + timedelta(minutes=30)
        if share < 1:
            yield Occurrence(at, True, volume * (1 - share), group or {})
        if share > 0:
            yield Occurrence(at, False, volume * share, group or {})
        hour += timedelta(hours=1)
