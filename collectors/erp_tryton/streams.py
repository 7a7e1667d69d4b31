"""The Tryton streams: one model each, read with `search_read` in pages sorted by the cursor.

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

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from collectors.base import FetchWindow, Record
from collectors.erp_tryton.client import (
    Domain,
    call_body,
    decode_value,
    encode,
    records_of,
    result_of,
    search_read,
    search_read_params,
)
from collectors.erp_tryton.mapping import (
    TrytonMapping,
    deal_for_project,
    first_win,
    map_invoice,
    map_opportunity,
    map_project,
    map_timesheet_line,
    reference_id,
)
from collectors.errors import MappingError, SchemaDrift
from collectors.page_checks import PageContract
from collectors.paging import PageRequest, Paginator, iter_records
from store.canonical import Batch

LOOKBACK = timedelta(minutes=5)
ORDER = (("last_modified_at", "ASC"), ("id", "ASC"))
Enrich = Callable[[httpx.Client, list[Record]], None]


_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class DealLink:
    """How a project finds the deal it provisions; core Tryton stores no such link.

    `party` (default): the opportunity of the project's party and company won last at or
    before the project's creation. `field`: a field of `project.work` carries the deal — an
    opportunity id (a custom Many2One), a Reference `sale.opportunity,<id>`, or text from which
    `pattern` extracts the opportunity's id (group `id`) or number (group `number`).
    """

    rule: Literal["party", "field"] = "party"
    field: str = "comment"
    pattern: str = r"sale\.opportunity,(?P<id>\d+)"

    def __post_init__(self) -> None:
        if not _FIELD_NAME.fullmatch(self.field):
            raise ValueError(f"field: {self.field!r:.60} is not a Tryton field name")
        try:
            groups = re.compile(self.pattern).groupindex
        except re.error as exc:
            raise ValueError(
                f"pattern: '{self.pattern:.80}' is not a regular expression ({exc})"
            ) from None
        if not ({"id", "number"} & groups.keys()):
            raise ValueError(
                f"pattern: '{self.pattern:.80}' needs a group named id (the opportunity's id) or"
                " number (its number), e.g. (?P<number>\\S+)"
            )


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


# ------------------------------------------------------------------------------ enrichment


def _by(rows: Sequence[Record], key: str) -> dict[Any, list[Record]]:
    out: dict[Any, list[Record]] = defaultdict(list)
    for row in rows:
        out[row.get(key)].append(row)
    return out


def _chunks(values: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield list(values[i : i + size])


def _read_all(
    client: httpx.Client, model: str, domain: Domain, fields: Sequence[str], order: Any = None
) -> list[Record]:
    """Every row of a (small, id-bounded) related query, in pages of 1000."""
    rows: list[Record] = []
    while True:
        page = search_read(
            client,
            model,
            domain,
            fields,
            order=order or [("id", "ASC")],
            limit=1000,
            offset=len(rows),
        )
        rows.extend(page)
        if len(page) < 1000:
            return rows


def attach_sales_history(client: httpx.Client, opportunities: list[Record]) -> None:
    """`_sales` (each with its state transitions) and `_log` (the opportunity's own buttons)."""
    refs = [f"sale.opportunity,{o['id']}" for o in opportunities]
    sales: list[Record] = []
    for part in _chunks(refs):
        sales += _read_all(
            client,
            "sale.sale",
            [("origin", "in", part)],
            ["id", "number", "origin", "state", "create_date"],
        )
    resources = refs + [f"sale.sale,{s['id']}" for s in sales]
    logs: list[Record] = []
    for part in _chunks(resources):
        logs += _read_all(
            client,
            "ir.model.log",
            [("resource", "in", part), ("event", "in", ["transition", "button"])],
            ["id", "resource", "event", "target", "create_date"],
            order=[("create_date", "ASC"), ("id", "ASC")],
        )
    by_resource = _by(logs, "resource")
    for sale in sales:
        sale["transitions"] = [
            {"id": e["id"], "at": e["create_date"], "state": str(e["target"]).partition(":")[2]}
            for e in by_resource.get(f"sale.sale,{sale['id']}", [])
            if e.get("event") == "transition" and str(e.get("target", "")).startswith("state:")
        ]
    sales_of = _by(sales, "origin")
    for o in opportunities:
        ref = f"sale.opportunity,{o['id']}"
        o["_sales"] = sales_of.get(ref, [])
        o["_log"] = [
            {"id": e["id"], "at": e["create_date"], "event": e["event"], "target": e["target"]}
            for e in by_resource.get(ref, [])
            if e.get("event") == "button"
        ]


OPPORTUNITY_FIELDS = (
    "id",
    "number",
    "description",
    "state",
    "start_date",
    "end_date",
    "amount",
    "party.rec_name",
    "company.rec_name",
    "currency.code",
    "employee.rec_name",
)


def link_projects(link: DealLink) -> Enrich:
    """The `enrich` step of the projects stream: `_deal` (an opportunity id) per project."""

    def by_party(client: httpx.Client, projects: list[Record]) -> None:
        parties = sorted({i for p in projects if (i := _related_id(p, "party")) is not None})
        opportunities: list[Record] = []
        for part in _chunks(parties):
            opportunities += _read_all(
                client,
                "sale.opportunity",
                [("party", "in", part), ("state", "in", ["converted", "won", "lost"])],
                ["id", "state", "end_date", "party.rec_name", "company.rec_name"],
            )
        attach_sales_history(client, opportunities)
        wins = []
        for o in opportunities:
            try:
                won = first_win(o)
            except MappingError:  # its own stream quarantines it; it provisions nothing here
                continue
            if won is not None:
                wins.append((o["id"], _related_id(o, "party"), _related_id(o, "company"), won))
        for project in projects:
            try:
                project["_deal"] = deal_for_project(project, wins)
            except MappingError:  # no creation time: the mapper quarantines the project
                project["_deal"] = None
            project["_deal_rule"] = "party"

    def by_field(client: httpx.Client, projects: list[Record]) -> None:
        pattern = re.compile(link.pattern)
        numbers: dict[int, str] = {}
        for project in projects:
            value = project.get(link.field)
            project["_deal"], project["_deal_rule"] = None, f"field:{link.field}"
            if isinstance(value, int) and not isinstance(value, bool):
                project["_deal"] = value
            elif isinstance(value, str):
                direct = reference_id(value, "sale.opportunity")
                found = pattern.search(value)
                if direct is not None:
                    project["_deal"] = direct
                elif found and "id" in pattern.groupindex and found.group("id"):
                    project["_deal"] = int(found.group("id"))
                elif found and "number" in pattern.groupindex and found.group("number"):
                    numbers[project["id"]] = found.group("number")
        if numbers:
            rows = _read_all(
                client,
                "sale.opportunity",
                [("number", "in", sorted(set(numbers.values())))],
                ["id", "number"],
            )
            ids = {r["number"]: r["id"] for r in rows}
            for project in projects:
                if project.get("id") in numbers:
                    project["_deal"] = ids.get(numbers[project["id"]])

    return by_party if link.rule == "party" else by_field


def attach_projects(client: httpx.Client, lines: list[Record]) -> None:
    """`_project` per time line: its work's nearest project (with the work's invoice method,
    list price and currency), from the timesheet work's origin `project.work,<id>`."""
    works = sorted(
        {w for line in lines if (w := reference_id(_origin(line), "project.work")) is not None}
    )
    rows: dict[int, Record] = {}
    for part in _chunks(works):
        for row in _read_all(
            client,
            "project.work",
            [("id", "in", part)],
            ["id", "type", "path", "invoice_method", "list_price", "currency.code"],
        ):
            rows[row["id"]] = row
    ancestors = {int(a) for r in rows.values() for a in str(r.get("path") or "").split("/") if a}
    types = {r["id"]: r.get("type") for r in rows.values()}
    missing = sorted(ancestors - set(types))
    for part in _chunks(missing):
        for row in _read_all(client, "project.work", [("id", "in", part)], ["id", "type"]):
            types[row["id"]] = row.get("type")
    for line in lines:
        work_id = reference_id(_origin(line), "project.work")
        work = rows.get(work_id) if work_id is not None else None
        if work is None:
            line["_project"] = None
            continue
        chain = [int(a) for a in str(work.get("path") or "").split("/") if a] or [work["id"]]
        project = next((a for a in reversed(chain) if types.get(a) == "project"), chain[0])
        currency = work.get("currency.") or {}
        line["_project"] = {
            "id": project,
            "invoice_method": work.get("invoice_method"),
            "list_price": work.get("list_price"),
            "currency": currency.get("code"),
        }


def _related_id(record: Record, field: str) -> int | None:
    value = record.get(f"{field}.")
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


def _origin(line: Record) -> Any:
    work = line.get("work.")
    if work is not None and not isinstance(work, dict):
        raise MappingError("work is not a related record")
    return (work or {}).get("origin")


def attach_payments(client: httpx.Client, invoices: list[Record]) -> None:
    """`_payments` per invoice: the move lines in its `payment_lines`."""
    ids = sorted({i for inv in invoices for i in inv.get("payment_lines") or []})
    lines: dict[int, Record] = {}
    for part in _chunks(ids):
        for row in _read_all(
            client,
            "account.move.line",
            [("id", "in", part)],
            [
                "id",
                "debit",
                "credit",
                "date",
                "create_date",
                "last_modified_at",
                "party.rec_name",
                "currency.code",
                "move.rec_name",
            ],
        ):
            lines[row["id"]] = row
    for invoice in invoices:
        invoice["_payments"] = [lines[i] for i in invoice.get("payment_lines") or [] if i in lines]


# --------------------------------------------------------------------------------- streams


@dataclass(frozen=True)
class StreamOptions:
    """What the streams are configured with."""

    mapping: TrytonMapping
    deal_link: DealLink = field(default_factory=DealLink)
    page_size: int = 200


def streams(o: StreamOptions) -> list[TrytonStream]:
    """Opportunities, projects, timesheet lines and customer invoices (with their payments)."""
    m, n = o.mapping, o.page_size
    project_fields = (
        "id",
        "name",
        "number",
        "type",
        "project_invoice_method",
        "party.rec_name",
        "company.rec_name",
        "currency.code",
        "status.rec_name",
        "create_uid.login",
    ) + ((o.deal_link.field,) if o.deal_link.rule == "field" else ())
    return [
        TrytonStream(
            "opportunities",
            "sale.opportunity",
            OPPORTUNITY_FIELDS,
            lambda r: map_opportunity(r, m),
            enrich=attach_sales_history,
            page_size=n,
        ),
        TrytonStream(
            "projects",
            "project.work",
            project_fields,
            lambda r: map_project(r, m),
            domain=(("type", "=", "project"),),
            enrich=link_projects(o.deal_link),
            page_size=n,
        ),
        TrytonStream(
            "timesheet_lines",
            "timesheet.line",
            (
                "id",
                "date",
                "duration",
                "description",
                "work.origin",
                "employee.rec_name",
                "company.rec_name",
                "invoice_line.invoice",
            ),
            lambda r: map_timesheet_line(r, m),
            enrich=attach_projects,
            page_size=n,
        ),
        TrytonStream(
            "invoices",
            "account.invoice",
            (
                "id",
                "number",
                "type",
                "state",
                "invoice_date",
                "total_amount",
                "payment_lines",
                "party.rec_name",
                "company.rec_name",
                "currency.code",
                "move.create_date",
                "cancel_move.create_date",
            ),
            lambda r: map_invoice(r, m),
            domain=(("type", "=", "out"),),
            enrich=attach_payments,
            page_size=n,
        ),
    ]
