"""Work item facts: one row per time entry or expense, and the invoices it was billed on.

`case_work_billing` lists every invoice a work item was ever billed on (its `billed_on` links,
stale ones included, plus the voided invoices those re-issue, transitively) with when each was
posted and voided, so unbilled work can be reconstructed as of any date. The item's current
invoice is the linked one whose key matches its `invoice_id` attribute; `billed_at` is that
invoice's posting unless it was voided.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from metrics.facts.common import Obj, event_times, first, last, objects, replace_rows
from metrics.facts.dims import own_dims, with_project
from metrics.facts.filter_values import offer
from store.canonical import Activity, LinkQualifier, ObjectType, object_id
from store.reads import Ids, links_from, links_to
from store.tables import CaseWorkBilling, CaseWorkItem

WORK = (Activity.WORK_LOGGED, Activity.WORK_APPROVED, Activity.WORK_WRITTEN_OFF)
BILLING = (Activity.INVOICE_POSTED, Activity.INVOICE_VOIDED)


def work_date(value: Any) -> date | None:
    """The work date attribute as a date (None when absent or not a date)."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def work_item_row(
    item: Obj,
    project: Obj | None,
    events: dict[str, list[datetime]],
    invoice_id: int | None,
    billed_at: datetime | None,
) -> dict[str, Any]:
    """The fact row of one work item."""
    dims = with_project(own_dims(item), project)
    return {
        "work_item_id": item.id,
        "work_item_key": item.source_key,
        "kind": item.attr("kind"),
        "project_id": project.id if project else None,
        "legal_entity": dims.legal_entity,
        "practice": dims.practice,
        "customer": dims.customer,
        "currency": item.currency,
        "amount": item.amount,
        "billable": item.attr("billable") is True,
        "status": item.attr("status"),
        "work_date": work_date(item.attr("work_date")),
        "logged_at": first(events.get(Activity.WORK_LOGGED)),
        "approved_at": first(events.get(Activity.WORK_APPROVED)),
        "last_approved_at": last(events.get(Activity.WORK_APPROVED)),
        "written_off_at": first(events.get(Activity.WORK_WRITTEN_OFF)),
        "invoice_id": invoice_id,
        "billed_at": billed_at,
    }


def refresh_work_items(conn: Connection, item_ids: Ids) -> int:
    """Recompute the rows of `item_ids` (every work item when None); rows written."""
    if item_ids is not None and not item_ids:
        return 0
    items = objects(conn, item_ids, ObjectType.WORK_ITEM)
    ids = set(items)
    events = event_times(conn, ids, "work_item", WORK)
    project_of = _projects(conn, items)
    projects = objects(conn, set(project_of.values()), ObjectType.PROJECT)
    linked: dict[int, set[int]] = defaultdict(set)
    for item_id, invoice in links_from(conn, ids, LinkQualifier.BILLED_ON):
        linked[item_id].add(invoice)
    chains = _with_predecessors(conn, {i for invs in linked.values() for i in invs})
    all_invoices = {i for c in chains.values() for i in c}
    times = event_times(conn, all_invoices, "invoice", BILLING)
    keys = {i: o.source_key for i, o in objects(conn, all_invoices).items()}
    rows, billing = [], []
    for item_id in sorted(items):
        item = items[item_id]
        current = next(
            (i for i in sorted(linked[item_id]) if keys.get(i) == item.attr("invoice_id")), None
        )
        posted = first(times.get(current or -1, {}).get(Activity.INVOICE_POSTED))
        voided = first(times.get(current or -1, {}).get(Activity.INVOICE_VOIDED))
        rows.append(
            work_item_row(
                item,
                projects.get(project_of.get(item_id, -1)),
                events.get(item_id, {}),
                current,
                posted if voided is None else None,
            )
        )
        for invoice in sorted({i for inv in linked[item_id] for i in chains[inv]}):
            by = times.get(invoice, {})
            billing.append(
                {
                    "work_item_id": item_id,
                    "invoice_id": invoice,
                    "posted_at": first(by.get(Activity.INVOICE_POSTED)),
                    "voided_at": first(by.get(Activity.INVOICE_VOIDED)),
                }
            )
    replace_rows(conn, CaseWorkItem.__table__, "work_item_id", item_ids, rows)  # type: ignore[arg-type]
    offer(conn, rows)
    replace_rows(conn, CaseWorkBilling.__table__, "work_item_id", item_ids, billing)  # type: ignore[arg-type]
    return len(rows)


def _projects(conn: Connection, items: dict[int, Obj]) -> dict[int, int]:
    """Work item → project: from its `project_id` attribute, else its `part_of` link."""
    out = {
        i: object_id(o.source_system, "project", str(o.attr("project_id")))
        for i, o in items.items()
        if o.attr("project_id")
    }
    missing = set(items) - set(out)
    for item_id, project in links_from(conn, missing, LinkQualifier.PART_OF):
        out.setdefault(item_id, project)
    return out


def _with_predecessors(conn: Connection, invoices: set[int]) -> dict[int, set[int]]:
    """Each invoice with the voided invoices it re-issues, transitively."""
    before: dict[int, set[int]] = defaultdict(set)
    frontier = set(invoices)
    seen = set(invoices)
    while frontier:
        step = links_to(conn, frontier, LinkQualifier.REISSUED_AS)
        for old, new in step:
            before[new].add(old)
        frontier = {old for old, _ in step} - seen
        seen |= frontier
    chains: dict[int, set[int]] = {}
    for inv in invoices:
        chain, todo = {inv}, [inv]
        while todo:
            for old in before.get(todo.pop(), ()):
                if old not in chain:
                    chain.add(old)
                    todo.append(old)
        chains[inv] = chain
    return chains
