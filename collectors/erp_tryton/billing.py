"""Tryton's billable work and billing → canonical rows: time lines (work logged, approved and
billed), customer invoices and their payments."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from collectors.base import Record
from collectors.erp_tryton.values import (
    CENT,
    SYSTEM,
    TrytonMapping,
    day,
    iso_day,
    record_id,
    related,
    related_list,
    related_text,
    required_when,
    when,
)
from collectors.errors import MappingError
from collectors.mapping import amount, decimal_text, text
from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
)


def line_amount(hours: Decimal, price: Decimal | None) -> Decimal | None:
    """What the hours are worth at the work's list price, rounded to the cent."""
    if price is None:
        return None
    return (hours * price).quantize(CENT, ROUND_HALF_UP)


def map_timesheet_line(r: Record, m: TrytonMapping) -> Batch:
    """`timesheet.line` → `work_item` (time), logged/approved, part of its project, billed on
    its invoice (and that invoice bills the project)."""
    key = str(record_id(r))
    duration = r.get("duration")
    if not isinstance(duration, timedelta):
        raise MappingError(f"duration is not a time span: {duration!r:.40}")
    micros = Decimal(duration // timedelta(microseconds=1))
    hours = micros / Decimal(3_600_000_000)
    project = r.get("_project") or {}
    if not isinstance(project, dict):
        raise MappingError("_project is not a record")
    project_key = str(record_id(project)) if project else None
    billable = project.get("invoice_method") == "timesheet"
    price = amount(project, "list_price") if project else None
    invoice_line = related(r, "invoice_line")
    invoice = invoice_line.get("invoice")
    invoice_key = None if invoice is None else str(invoice)
    item = ObjectRow(
        type=ObjectType.WORK_ITEM,
        source_system=SYSTEM,
        source_key=key,
        legal_entity=m.entity(related_text(r, "company.rec_name")),
        owner=related_text(r, "employee.rec_name"),
        currency=text(project, "currency") if project else None,
        amount=line_amount(hours, price) if billable else None,
        attributes={
            "kind": "time",
            "project_id": project_key,
            "work_id": related(r, "work").get("id"),
            "work_date": iso_day(day(r, "date")),
            "hours": decimal_text(hours),
            "billable": billable,
            "status": "invoiced" if invoice_line else "open",
            "invoice_id": invoice_key,
            "description": text(r, "description"),
            "unit_price": None if price is None else str(price),
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    batch = Batch(objects=[item])
    refs = [EventObject(SYSTEM, ObjectType.WORK_ITEM, key, "work_item")]
    if project_key is not None:
        refs.append(EventObject(SYSTEM, ObjectType.PROJECT, project_key, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.PROJECT,
                project_key,
                LinkQualifier.PART_OF,
                SYSTEM,
            )
        )
    if invoice_key is not None:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.INVOICE,
                invoice_key,
                LinkQualifier.BILLED_ON,
                SYSTEM,
            )
        )
        if project_key is not None:
            batch.links.append(
                LinkRow(
                    SYSTEM,
                    ObjectType.INVOICE,
                    invoice_key,
                    SYSTEM,
                    ObjectType.PROJECT,
                    project_key,
                    LinkQualifier.BILLS,
                    SYSTEM,
                )
            )
    entered = required_when(r, "create_date")
    for activity in (Activity.WORK_LOGGED, Activity.WORK_APPROVED):
        batch.events.append(EventRow(activity, entered, SYSTEM, key, tuple(refs)))
    return batch


def invoice_times(r: Record) -> dict[Activity, datetime]:
    """Created, posted and voided times of a customer invoice (see the module docstring)."""
    out = {Activity.INVOICE_CREATED: required_when(r, "create_date")}
    state = r.get("state")
    move, cancel = related(r, "move"), related(r, "cancel_move")
    posted = when(move, "create_date") if move else None
    if posted is not None and state in ("posted", "paid", "cancelled"):
        out[Activity.INVOICE_POSTED] = posted
    if state == "cancelled":
        voided = when(cancel, "create_date") if cancel else None
        out[Activity.INVOICE_VOIDED] = voided or required_when(r, "last_modified_at")
    return out


def map_invoice(r: Record, m: TrytonMapping) -> Batch:
    """`account.invoice` (customer) → `invoice` with its lifecycle events and its payments."""
    key = str(record_id(r))
    total = amount(r, "total_amount")
    currency = related_text(r, "currency.code")
    invoice = ObjectRow(
        type=ObjectType.INVOICE,
        source_system=SYSTEM,
        source_key=key,
        customer=related_text(r, "party.rec_name"),
        legal_entity=m.entity(related_text(r, "company.rec_name")),
        currency=currency,
        amount=total,
        attributes={
            "kind": "credit_note" if total is not None and total < 0 else "invoice",
            "number": text(r, "number"),
            "state": text(r, "state"),
            "invoice_date": iso_day(day(r, "invoice_date")),
            "party_id": related(r, "party").get("id"),
            "payment_lines": [record_id(p) for p in related_list(r, "_payments")],
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    batch = Batch(objects=[invoice])
    ref = EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")
    for activity, at in invoice_times(r).items():
        batch.events.append(EventRow(activity, at, SYSTEM, key, (ref,)))
    for line in related_list(r, "_payments"):
        batch.extend(map_payment_line(line, key, currency))
    return batch


def map_payment_line(line: Record, invoice_key: str, invoice_currency: str | None) -> Batch:
    """A move line in an invoice's `payment_lines` → `payment`, `payment.received`, the
    invoice → payment `settled_by` link. Amount: credit − debit (the company's currency)."""
    key = str(record_id(line))
    credit, debit = amount(line, "credit") or Decimal(0), amount(line, "debit") or Decimal(0)
    payment = ObjectRow(
        type=ObjectType.PAYMENT,
        source_system=SYSTEM,
        source_key=key,
        customer=related_text(line, "party.rec_name"),
        currency=related_text(line, "currency.code") or invoice_currency,
        amount=credit - debit,
        attributes={
            "invoice_id": invoice_key,
            "date": iso_day(day(line, "date")),
            "move": related_text(line, "move.rec_name"),
        },
        source_updated_at=when(line, "last_modified_at"),
    )
    refs = (
        EventObject(SYSTEM, ObjectType.PAYMENT, key, "payment"),
        EventObject(SYSTEM, ObjectType.INVOICE, invoice_key, "invoice"),
    )
    return Batch(
        objects=[payment],
        events=[
            EventRow(
                Activity.PAYMENT_RECEIVED, required_when(line, "create_date"), SYSTEM, key, refs
            )
        ],
        links=[
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                invoice_key,
                SYSTEM,
                ObjectType.PAYMENT,
                key,
                LinkQualifier.SETTLED_BY,
                SYSTEM,
            )
        ],
    )
