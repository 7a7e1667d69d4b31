"""A SuiteQL stream: its query (columns named, dates formatted with TO_CHAR, the cursor filter a
wall-clock TO_DATE in the user's time zone), its page checks and its offset walk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from collectors.base import FetchWindow, Record
from collectors.erp_netsuite.config import time_zone
from collectors.erp_netsuite.lookups import Lookups
from collectors.page_checks import PageContract
from collectors.paging import OffsetPaginator, iter_records
from store.canonical import (
    Batch,
)

LOOKBACK = timedelta(minutes=5)


QUERY_PATH = "services/rest/query/v1/suiteql"


DATE_MASK = "YYYY-MM-DD"


DATETIME_MASK = 'YYYY-MM-DD"T"HH24:MI:SS'  # "T" is quoted text in an Oracle format model


FILTER_MASK = "YYYY-MM-DD HH24:MI:SS"


FILTER_FORMAT = "%Y-%m-%d %H:%M:%S"  # what `wall_clock` writes for FILTER_MASK


_WALL_CLOCK = "%Y-%m-%dT%H:%M:%S"  # what DATETIME_MASK produces


def wall_clock(at: datetime, zone: ZoneInfo) -> str:
    """``at`` as a wall-clock time in ``zone`` for a TO_DATE literal (``FILTER_MASK``). In the
    hour a change to standard time repeats, an hour earlier, so nothing in it is skipped."""
    local = at.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        local -= timedelta(hours=1)
    return local.strftime(FILTER_FORMAT)


def localize(record: Record, datetimes: Iterable[str], zone: ZoneInfo) -> Record:
    """The record with each date-time column (a ``DATETIME_MASK`` wall-clock time in ``zone``)
    as ISO 8601 UTC. A value in another shape is left as it is, for the mapper to refuse."""
    if not isinstance(record, dict):
        return record
    out = dict(record)
    for column in datetimes:
        value = out.get(column)
        if not isinstance(value, str):
            continue
        try:
            naive = datetime.strptime(value, _WALL_CLOCK)
        except ValueError:
            continue
        out[column] = naive.replace(tzinfo=zone).astimezone(UTC).isoformat()
    return out


@dataclass(frozen=True)
class SuiteQLStream:
    """One SuiteQL table (optionally one transaction type), its columns named explicitly."""

    name: str
    table: str
    mapper: Callable[[Record], Batch]
    columns: tuple[str, ...]  # sent as they are: ids, text, numbers, T/F
    dates: tuple[str, ...] = ()  # DATE columns, formatted YYYY-MM-DD
    datetimes: tuple[str, ...] = ("lastmodifieddate",)  # read in `timezone`
    transaction_type: str | None = None
    timezone: str = "UTC"  # the integration user's time zone preference
    limit: int = 200
    #: Currency and subsidiary ids → codes, shared by the streams of one run.
    lookups: Lookups | None = field(default=None, compare=False)
    primary_key: str = "id"
    cursor_field: str = "lastmodifieddate"
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK

    def plain_columns(self) -> tuple[str, ...]:
        """The columns sent as they are; a transaction stream's `type` too, so that each row
        says which query it answers."""
        kind = ("type",) if self.transaction_type and "type" not in self.columns else ()
        return (*self.columns, *kind)

    def select_list(self) -> str:
        """The columns, with TO_CHAR around the date and date-time ones (same names)."""
        items = [*self.plain_columns()]
        items += [f"TO_CHAR({c}, '{DATE_MASK}') AS {c}" for c in self.dates]
        items += [f"TO_CHAR({c}, '{DATETIME_MASK}') AS {c}" for c in self.datetimes]
        return ", ".join(items)

    def suiteql(self, window: FetchWindow) -> str:
        """The query for one window; only names checked by `NetSuiteFields` and literals this
        module formats are interpolated."""
        where = []
        if self.transaction_type:
            where.append(f"type = '{self.transaction_type}'")
        if window.since is not None:
            since = wall_clock(window.since, time_zone(self.timezone))
            where.append(f"lastmodifieddate >= TO_DATE('{since}', '{FILTER_MASK}')")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            f"SELECT {self.select_list()} FROM {self.table}{clause}"  # noqa: S608
            " ORDER BY lastmodifieddate, id"
        )

    def pages(self, window: FetchWindow) -> PageContract:
        """Every page: `count` for itself and `totalResults` for the query, the offset asked
        for, full pages while `hasMore`, rows of this transaction type with no column outside
        the select list and none modified before the window, none read twice. Date-times are
        localised before they are checked."""
        zone = time_zone(self.timezone)
        floor = None
        if window.since is not None:
            wall = datetime.strptime(wall_clock(window.since, zone), FILTER_FORMAT)
            floor = wall.replace(tzinfo=zone).astimezone(UTC)

        def rows(payload: Any) -> Any:
            items = payload.get("items") if isinstance(payload, dict) else None
            if not isinstance(items, list):
                return items  # refused by the walk
            return [localize(r, self.datetimes, zone) for r in items]

        selected = {*self.plain_columns(), *self.dates, *self.datetimes, "links"}
        return PageContract(
            self.name,
            rows,
            key=self.primary_key,
            version=self.cursor_field,
            total="totalResults",
            count="count",
            echo=(("offset", "offset"),),
            limit=self.limit,
            full_pages=True,
            columns=frozenset(selected),
            kind=("type", self.transaction_type) if self.transaction_type else None,
            floor=(self.cursor_field, floor) if floor else None,
        )

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        for page in iter_records(
            client,
            OffsetPaginator(self.limit),
            "POST",
            QUERY_PATH,
            self.pages(window),
            json={"q": self.suiteql(window)},
        ):
            yield self.lookups.resolve(client, page) if self.lookups is not None else page

    def map(self, record: Record) -> Batch:
        return self.mapper(record)
