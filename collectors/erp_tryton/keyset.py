"""A Tryton stream: one model, read with `search_read` in pages sorted by the cursor.

Cursor: `last_modified_at`, which Tryton 8.2 defines as `Coalesce(write_date, create_date)`
(`ModelSQL.column_last_modified_at`, searchable and sortable): `write_date` stays empty until a
record's first edit, so the window is `create_date >= since OR write_date >= since`. Pages are
sorted by (`last_modified_at`, `id`) and walked by keyset ("after the last row's cursor and
id"), not by offset: an edit during the walk moves a record to the end instead of shifting the
others past a page boundary, so nothing is skipped. `KeysetPaginator` builds on the shared
`collectors.paging.Paginator`, so a server that ignored the condition (the same page asked for
twice) raises `PaginationLoop`. After each page the stream attaches what its mapper needs from
related models (the `enrich` step, a few `search_read` calls per page, never one per record).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from collectors.base import FetchWindow, Record
from collectors.erp_tryton.client import (
    call_body,
    decode_value,
    encode,
    records_of,
    result_of,
    search_read_params,
)
from collectors.errors import SchemaDrift
from collectors.page_checks import PageContract
from collectors.paging import PageRequest, Paginator, iter_records
from store.canonical import Batch

LOOKBACK = timedelta(minutes=5)


ORDER = (("last_modified_at", "ASC"), ("id", "ASC"))


Enrich = Callable[[httpx.Client, list[Record]], None]


@dataclass(frozen=True)
class TrytonStream:
    """One Tryton model read incrementally."""

    name: str
    model: str
    fields: tuple[str, ...]
    mapper: Callable[[Record], Batch]
    domain: tuple[Any, ...] = ()
    enrich: Enrich | None = None
    page_size: int = 200
    primary_key: str = "id"
    cursor_field: str = "last_modified_at"  # decoded: an aware datetime
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK

    def window_domain(self, since: datetime | None) -> list[Any]:
        """The stream's own domain and the window `create_date >= since OR write_date >= since`."""
        domain: list[Any] = list(encode(list(self.domain)))
        if since is not None:
            domain.append(
                encode(["OR", [("create_date", ">=", since)], [("write_date", ">=", since)]])
            )
        return domain

    def field_names(self) -> tuple[str, ...]:
        """The fields `search_read` is asked for: the stream's, its creation and cursor."""
        return tuple(dict.fromkeys((*self.fields, "create_date", "last_modified_at")))

    def pages(self, method: str, since: datetime | None) -> PageContract:
        """Every page: at most `page_size` rows, each with only the fields asked for (Tryton
        answers `a.b` as `a.` and always adds `id`), none modified before the window, none read
        twice (typed values decoded first)."""
        names = {f"{n.partition('.')[0]}." if "." in n else n for n in self.field_names()}

        def rows(payload: Any) -> list[Record]:
            return records_of(self.model, decode_value(result_of(method, payload)))

        return PageContract(
            self.name,
            rows,
            key=self.primary_key,
            version=self.cursor_field,
            limit=self.page_size,
            columns=frozenset({*names, "id"}),
            floor=(self.cursor_field, since) if since is not None else None,
        )

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        method = f"model.{self.model}.search_read"
        paginator = KeysetPaginator(self.window_domain(window.since), self.page_size)
        body = call_body(
            method,
            search_read_params(
                paginator.domain, self.field_names(), order=ORDER, limit=self.page_size
            ),
            ident=0,
        )
        pages = self.pages(method, window.since)
        for records in iter_records(client, paginator, "POST", "rpc/", pages, json=body):
            if not records:
                return
            if self.enrich is not None:  # rows without an id are quarantined, not enriched
                try:
                    self.enrich(client, [r for r in records if _keyed(r)])
                except (KeyError, TypeError, ValueError) as exc:
                    raise SchemaDrift(
                        f"{self.model}: related records are not in the expected shape"
                        f" ({exc.__class__.__name__}: {exc})"
                    ) from exc
            yield records

    def map(self, record: Record) -> Batch:
        return self.mapper(record)


class KeysetPaginator(Paginator):
    """`search_read` pages, each asking for the rows after the previous page's last
    (`last_modified_at`, `id`), sent back exactly as Tryton encoded them. A short page is the
    last. A server that ignored the condition would ask for the same page twice, which the base
    class refuses (`PaginationLoop`)."""

    def __init__(self, domain: list[Any], page_size: int) -> None:
        super().__init__()
        self.domain, self.page_size = domain, page_size

    def points_on(self, payload: Any) -> bool:
        rows = payload.get("result") if isinstance(payload, dict) else None
        return isinstance(rows, list) and len(rows) >= self.page_size

    def _next(self, payload: Any, current: PageRequest, page_url: httpx.URL) -> PageRequest | None:
        rows = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(rows, list) or len(rows) < self.page_size:
            return None
        last = rows[-1]
        if not isinstance(last, dict) or "last_modified_at" not in last or "id" not in last:
            raise SchemaDrift("a search_read page's rows lack last_modified_at or id")
        at, ident = last["last_modified_at"], last["id"]
        after = [
            "OR",
            [["last_modified_at", ">", at]],
            [["last_modified_at", "=", at], ["id", ">", ident]],
        ]
        params = [[*self.domain, after], *current.json["params"][1:]]
        return replace(current, json={**current.json, "params": params})


def _keyed(record: Record) -> bool:
    ident = record.get("id")
    return isinstance(ident, int) and not isinstance(ident, bool)
