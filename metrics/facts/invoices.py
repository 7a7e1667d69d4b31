"""Invoice facts: one row per invoice or credit note, billing trigger → posted / sent → paid.

Billing trigger: fixed fee (a `milestone_id`): the first `milestone.accepted` of that milestone;
time & materials: the later of the end of the billing period (the day after `period_end`,
00:00 UTC) and the last `work.approved` (up to the posting) of the work items billed on it.
Paid: the last `payment.received` of the payments linked by `settled_by`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection

from metrics.facts.common import Obj, event_times, first, last, objects, replace_rows
from metrics.facts.dims import own_dims, with_project
from metrics.facts.filter_values import offer
from store.canonical import Activity, LinkQualifier, ObjectType, object_id
from store.reads import Ids, links_from, links_to
from store.tables import CaseInvoice

LIFECYCLE = (
    Activity.INVOICE_CREATED,
    Activity.INVOICE_POSTED,
    Activity.INVOICE_SENT,
    Activity.INVOICE_VOIDED,
)
DEFAULT_PROJECT_SYSTEM = "psa"


@dataclass(frozen=True, slots=True)
class Trigger:
    """The parts of an invoice's billing trigger."""

    period_end_at: datetime | None
    last_approved_at: datetime | None
    milestone_accepted_at: datetime | None
    fixed_fee: bool

    @property
    def at(self) -> datetime | None:
        """The trigger time (None while its parts are unknown)."""
        if self.fixed_fee:
            return self.milestone_accepted_at
        parts = [t for t in (self.period_end_at, self.last_approved_at) if t is not None]
        return max(parts) if parts else None


def billing_trigger(
    period_end: Any,
    approvals: list[datetime],
    accepted: list[datetime] | None,
    posted: datetime | None,
) -> Trigger:
    """The trigger of an invoice; `accepted` is None for time & materials.

    Approvals after the posting are ignored, so an event after the case closed never moves its
    start.
    """
    before = [t for t in approvals if posted is None or t <= posted]
    return Trigger(
        period_end_instant(period_end),
        max(before) if before else None,
        min(accepted) if accepted else None,
        fixed_fee=accepted is not None,
    )


def period_end_instant(value: Any) -> datetime | None:
    """The end of the billing period whose last day is `value` (ISO date): next day 00:00 UTC."""
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def invoice_row(
    inv: Obj,
    project: Obj | None,
    events: dict[str, list[datetime]],
    trigger: Trigger,
    reissue_of: int | None,
    paid_at: datetime | None,
    work_items: int,
    milestone_id: int | None,
) -> dict[str, Any]:
    """The fact row of one invoice."""
    dims = with_project(own_dims(inv), project)
    return {
        "invoice_id": inv.id,
        "invoice_key": inv.source_key,
        "kind": str(inv.attr("kind") or "invoice"),
        "billing_type": inv.attr("billing_type"),
        "legal_entity": dims.legal_entity,
        "practice": dims.practice,
        "customer": dims.customer,
        "currency": inv.currency,
        "amount": inv.amount,
        "project_id": project.id if project else None,
        "milestone_id": milestone_id,
        "reissue_of": reissue_of,
        "work_items": work_items,
        "period_end_at": trigger.period_end_at,
        "last_approved_at": trigger.last_approved_at,
        "milestone_accepted_at": trigger.milestone_accepted_at,
        "trigger_at": trigger.at,
        "created_at": first(events.get(Activity.INVOICE_CREATED)),
        "posted_at": first(events.get(Activity.INVOICE_POSTED)),
        "sent_at": first(events.get(Activity.INVOICE_SENT)),
        "voided_at": first(events.get(Activity.INVOICE_VOIDED)),
        "paid_at": paid_at,
    }


def refresh_invoices(conn: Connection, invoice_ids: Ids) -> int:
    """Recompute the rows of `invoice_ids` (every invoice when None); rows written."""
    if invoice_ids is not None and not invoice_ids:
        return 0
    invoices = objects(conn, invoice_ids, ObjectType.INVOICE)
    ids = set(invoices)
    events = event_times(conn, ids, "invoice", LIFECYCLE)
    project_of = _projects(conn, ids, invoices)
    projects = objects(conn, set(project_of.values()), ObjectType.PROJECT)
    reissue_of = {to: frm for frm, to in links_to(conn, ids, LinkQualifier.REISSUED_AS)}
    paid = _paid(conn, ids)
    approvals, counts = _approvals(conn, ids)
    milestones = {
        inv.id: object_id(_system(projects.get(project_of.get(inv.id, -1))), "milestone", str(key))
        for inv in invoices.values()
        if (key := inv.attr("milestone_id"))
    }
    accepted = event_times(
        conn, set(milestones.values()), "milestone", (Activity.MILESTONE_ACCEPTED,)
    )
    rows = []
    for inv_id in sorted(invoices):
        inv = invoices[inv_id]
        milestone = milestones.get(inv_id)
        trigger = billing_trigger(
            inv.attr("period_end"),
            approvals.get(inv_id, []),
            accepted.get(milestone, {}).get(Activity.MILESTONE_ACCEPTED, [])
            if milestone is not None
            else None,
            first(events.get(inv_id, {}).get(Activity.INVOICE_POSTED)),
        )
        rows.append(
            invoice_row(
                inv,
                projects.get(project_of.get(inv_id, -1)),
                events.get(inv_id, {}),
                trigger,
                reissue_of.get(inv_id),
                paid.get(inv_id),
                counts.get(inv_id, 0),
                milestone,
            )
        )
    replace_rows(conn, CaseInvoice.__table__, "invoice_id", invoice_ids, rows)  # type: ignore[arg-type]
    offer(conn, rows)
    return len(rows)


def _system(project: Obj | None) -> str:
    return project.source_system if project else DEFAULT_PROJECT_SYSTEM


def _projects(conn: Connection, ids: set[int], invoices: dict[int, Obj]) -> dict[int, int]:
    """Invoice → its project (the `bills` link whose key matches `project_code` wins)."""
    candidates: dict[int, list[int]] = defaultdict(list)
    for inv, project in links_from(conn, ids, LinkQualifier.BILLS):
        candidates[inv].append(project)
    keys = {
        p: o.source_key
        for p, o in objects(conn, {p for ps in candidates.values() for p in ps}).items()
    }
    out: dict[int, int] = {}
    for inv, projects in candidates.items():
        code = invoices[inv].attr("project_code")
        matching = [p for p in projects if keys.get(p) == code]
        out[inv] = min(matching or projects)
    return out


def _paid(conn: Connection, ids: set[int]) -> dict[int, datetime]:
    links = links_from(conn, ids, LinkQualifier.SETTLED_BY)
    received = event_times(conn, {p for _, p in links}, "payment", (Activity.PAYMENT_RECEIVED,))
    out: dict[int, datetime] = {}
    for inv, payment in links:
        at = last(received.get(payment, {}).get(Activity.PAYMENT_RECEIVED))
        if at is not None and (inv not in out or at > out[inv]):
            out[inv] = at
    return out


def _approvals(conn: Connection, ids: set[int]) -> tuple[dict[int, list[datetime]], dict[int, int]]:
    """Invoice → the approval times of the work billed on it, and how many items that is."""
    links = links_to(conn, ids, LinkQualifier.BILLED_ON)
    approved = event_times(conn, {w for w, _ in links}, "work_item", (Activity.WORK_APPROVED,))
    times: dict[int, list[datetime]] = defaultdict(list)
    counts: dict[int, int] = defaultdict(int)
    for item, inv in links:
        counts[inv] += 1
        times[inv].extend(approved.get(item, {}).get(Activity.WORK_APPROVED, []))
    return dict(times), dict(counts)
