"""What every page of a walk must look like before any of its records is mapped.

A stream *declares* a `PageContract`; `collectors.paging.iter_walk` hands each page to a
`PageWalk` built from it before the page is yielded, so a page that fails never reaches the
mapper, the store or the cursor: the stream fails and its cursor stays where the last verified
page left it. The rules are written once, here, for every connector:

- a page that is empty yet points to a next page (following it would skip records);
- a page holding more records than the ``limit`` asked for, or, where the source fills every page
  but the last (``full_pages``), fewer while it points to a next page;
- a page whose declared size (``count``, NetSuite) is not the number of records on it;
- a page whose declared total (``total``: the size of the whole result set, Salesforce
  ``totalSize``, NetSuite ``totalResults``, HubSpot ``total``) differs from page 1's, would bring
  the records read past it, or ends the walk short of it;
- a page that echoes another position than the one asked for (``echo``, NetSuite ``offset``);
- a record of another type (``kind``: Salesforce ``attributes.type``, SuiteQL ``type``), with
  members the query did not select (``columns``: SuiteQL's select list, Tryton's fields), or
  whose cursor lies before the window the query asked for (``floor``);
- a record (``key`` and ``version``) already read on an earlier page of the walk: a stale page,
  or a source that restarted its paging (`PaginationLoop`).

Each failure is a `PageRejected` whose message is one sentence naming the stream, the page and
the reason. A record that is itself malformed (not an object, no key, an unreadable time) is not
the page's fault: the checks pass over it and the runner quarantines it with its reason. A page
with a record whose bytes are damaged is read a second time first (`PageWalk.damaged`): damage
in transit does not come back, so a garbled transfer never puts a good record in quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.errors import CollectorError, PageRejected, PaginationLoop, SchemaDrift
from collectors.salvage import DEFECT_KEY

Extract = Callable[[Any], Any]


@dataclass(frozen=True)
class PageContract:
    """A stream's declaration of its pages (dotted paths into a page or into one record)."""

    stream: str
    records: str | Extract  # where a page keeps its records, or how to take them out
    key: str | None = None  # a record's primary key
    version: str | None = None  # what changes when a record changes (its cursor field)
    total: str | None = None  # the size of the whole result set, declared on every page
    count: str | None = None  # the number of records on this page, declared on it
    echo: tuple[tuple[str, str], ...] = ()  # (page member, request parameter) that must agree
    limit: int | None = None  # the most records a page may hold
    full_pages: bool = False  # every page but the last holds exactly `limit` records
    kind: tuple[str, str] | None = None  # (record member, the value the query asks for)
    columns: frozenset[str] | None = None  # the only members a record may have
    floor: tuple[str, datetime] | None = None  # (record member, the lowest value asked for)


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def member(value: Any, path: str) -> Any:
    """The member at a dotted ``path`` of a record, or None wherever the path cannot be followed."""
    for name in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def instant(value: Any) -> datetime | None:
    """A record's time as an aware UTC datetime, or None when it cannot be read (the runner then
    quarantines the record with the reason)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else None
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


class PageWalk:
    """The checks of one walk: what was read so far and on which page."""

    def __init__(self, contract: PageContract) -> None:
        self.contract = contract
        self.page = 0
        self.read = 0
        self.total: int | None = None
        self.seen: dict[tuple[str, str], int] = {}

    def verify(self, payload: Any, params: Mapping[str, Any], *, more: bool) -> list[Any]:
        """The page's records once every check passed; `PageRejected` otherwise. ``params`` are
        the page request's query parameters, ``more`` whether the page points to a next one."""
        self.page += 1
        records = self._records(payload)
        self._check_size(payload, records, params, more)
        self._check_total(payload, len(records), more)
        for record in records:
            if isinstance(record, Mapping) and DEFECT_KEY not in record:  # else: quarantined
                self._check_record(record)
        self.read += len(records)
        return records

    def damaged(self, payload: Any) -> bool:
        """Whether a record of ``payload`` was salvaged (`collectors.salvage`: bytes that are not
        UTF-8, nesting too deep). Damage at the source comes back on a second read; damage in
        transit does not, so the walk reads such a page twice before the record is quarantined."""
        try:
            records = self._records(payload)
        except CollectorError:
            return False
        return any(isinstance(r, Mapping) and DEFECT_KEY in r for r in records)

    def reject(self, reason: str) -> PageRejected:
        """The error for this page: one sentence naming the stream, the page and ``reason``."""
        return PageRejected(self._sentence(reason), stream=self.contract.stream, page=self.page)

    def _sentence(self, reason: str) -> str:
        return f"{self.contract.stream}: page {self.page} {reason}"

    def _records(self, payload: Any) -> list[Any]:
        extract = self.contract.records
        records = member(payload, extract) if isinstance(extract, str) else extract(payload)
        if not isinstance(records, list):
            where = repr(extract) if isinstance(extract, str) else "records"
            raise SchemaDrift(self._sentence(f"has no {where} list"))
        return records

    def _number(self, payload: Any, path: str) -> int:
        value = member(payload, path)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.reject(f"does not declare its {path!r} as a whole number: {value!r:.40}")
        return value

    def _check_size(
        self, payload: Any, records: list[Any], params: Mapping[str, Any], more: bool
    ) -> None:
        c, n = self.contract, len(records)
        if n == 0 and more:
            raise self.reject("is empty yet points to a next page; following it would skip records")
        if c.limit is not None and n > c.limit:
            raise self.reject(f"holds {_records(n)}, more than the {c.limit} asked for")
        if c.limit is not None and c.full_pages and more and n < c.limit:
            raise self.reject(
                f"holds {_records(n)}, fewer than the {c.limit} asked for, yet points to a next"
                " page"
            )
        if c.count is not None and (declared := self._number(payload, c.count)) != n:
            raise self.reject(f"declares {_records(declared)} ({c.count!r}) but holds {n}")
        for answered, asked in c.echo:
            got, want = member(payload, answered), params.get(asked)
            if want is not None and str(got) != str(want):
                raise self.reject(
                    f"answers {answered} {got!r:.40}, not the {asked} {want!r:.40} asked for"
                )

    def _check_total(self, payload: Any, n: int, more: bool) -> None:
        path = self.contract.total
        if path is None:
            return
        total = self._number(payload, path)
        if self.total is None:
            self.total = total
        elif total != self.total:
            raise self.reject(
                f"declares {total} records in all ({path!r}) where page 1 declared {self.total};"
                " the result set changed under the walk or the page answers another query"
            )
        if self.read + n > total:
            raise self.reject(
                f"brings the records read to {self.read + n}, past the {total} declared ({path!r})"
            )
        if not more and self.read + n != total:
            raise self.reject(
                f"ends the walk after {self.read + n} of the {total} records declared ({path!r})"
            )

    def _check_record(self, record: Mapping[str, Any]) -> None:
        c = self.contract
        key = member(record, c.key) if c.key else None
        name = f"record {key!s:.60}" if key not in (None, "") else "a record"
        if c.kind is not None:
            path, wanted = c.kind
            got = member(record, path)  # SOQL and SuiteQL names are case-insensitive
            if got is not None and str(got).lower() != wanted.lower():
                raise self.reject(
                    f"holds {name} of type {got!r:.40} ({path}) where the query asks for {wanted!r}"
                )
        if c.columns is not None and (extra := sorted(set(record) - c.columns)):
            raise self.reject(
                f"holds {name} with members the query did not select: {', '.join(extra)[:200]}"
            )
        if c.floor is not None:
            path, floor = c.floor
            at = instant(member(record, path))
            if at is not None and at < floor:
                raise self.reject(
                    f"holds {name} with {path} {at.isoformat()}, before the window the query"
                    f" asked for (from {floor.isoformat()})"
                )
        if key not in (None, ""):
            version = member(record, c.version) if c.version else None
            identity = (str(key), str(version))
            earlier = self.seen.get(identity)
            if earlier is not None:
                raise PaginationLoop(
                    self._sentence(
                        f"repeats {name} already read on page {earlier}: a stale page, or a"
                        " source that restarted its paging"
                    ),
                    stream=c.stream,
                    page=self.page,
                )
            self.seen[identity] = self.page
