"""The streams' `enrich` steps: what each mapper needs from related models, read with a few
`search_read` calls per page (never one per record): a deal's sales and audit trail, a
project's deal, a time line's project, an invoice's payments."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from collectors.base import Record
from collectors.erp_tryton.client import (
    Domain,
    search_read,
)
from collectors.erp_tryton.keyset import Enrich
from collectors.erp_tryton.mapping import deal_for_project, first_win
from collectors.erp_tryton.values import reference_id
from collectors.errors import MappingError

FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


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
        if not FIELD_NAME.fullmatch(self.field):
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
