"""NetSuite records → canonical rows: customers, invoices and credit notes, payments, exchange
rates, projects (jobs) and time bills."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from collectors.base import Record, optional_timestamp
from collectors.erp_netsuite.config import SYSTEM, NetSuiteFields
from collectors.erp_netsuite.lookups import check_resolved
from collectors.errors import MappingError
from collectors.mapping import amount, decimal_text, flag, required_text, text
from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    FxRateRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
)

_DURATION = re.compile(r"(\d{1,4}):([0-5]\d)")


_DECIMAL_HOURS = re.compile(r"\d{1,4}(\.\d+)?")


HOURS_PRECISION = Decimal("0.000001")  # H:MM as hours: 0:20 → 0.333333


def _text(r: Record, column: str | None) -> str | None:
    return text(r, column) if column else None


def _time(r: Record, column: str | None) -> datetime | None:
    return optional_timestamp(r, column) if column else None


def hours(r: Record, column: str = "hours") -> Decimal | None:
    """A time bill's duration in hours: ``7:30`` (H:MM) → 7.5, ``7.5`` → 7.5 (a duration to
    the millionth of an hour)."""
    value = r.get(column)
    if value is None or value == "":
        return None
    raw = str(value).strip() if isinstance(value, str | int | float) else None
    duration = _DURATION.fullmatch(raw) if raw is not None else None
    if duration is not None:
        minutes = Decimal(duration.group(1)) * 60 + Decimal(duration.group(2))
        return (minutes / 60).quantize(HOURS_PRECISION)
    if raw is not None and _DECIMAL_HOURS.fullmatch(raw):
        return Decimal(raw)
    raise MappingError(f"{column} is neither H:MM nor a number of hours: {value!r:.40}")


def map_customer(r: Record, f: NetSuiteFields) -> Batch:
    """Customer → `account` (the tax id itself is never stored, only whether one is on file)."""
    check_resolved(r)
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT,
                source_system=SYSTEM,
                source_key=required_text(r, "id"),
                customer=text(r, "companyname"),
                legal_entity=text(r, "subsidiary"),
                currency=text(r, "currency"),
                attributes={
                    "entity_id": text(r, "entityid"),
                    "name": text(r, "companyname"),
                    "has_tax_id": _text(r, f.tax_id) is not None,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )


def _invoice_ref(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")


def map_invoice(r: Record, f: NetSuiteFields, kind: str = "invoice") -> Batch:
    """Invoice or credit note → `invoice`, its lifecycle events and links."""
    check_resolved(r)
    key = required_text(r, "id")
    project = _text(r, f.project_code)
    replaces = _text(r, f.replaces)
    credits = _text(r, f.credits)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.INVOICE,
                source_system=SYSTEM,
                source_key=key,
                customer=text(r, "entity"),
                legal_entity=text(r, "subsidiary"),
                currency=text(r, "currency"),
                amount=amount(r, "foreigntotal"),
                attributes={
                    "kind": kind,
                    "tranid": text(r, "tranid"),
                    "status": text(r, "status"),
                    "customer_id": text(r, "entity"),
                    "project_code": project,
                    "billing_type": _text(r, f.billing_type),
                    "milestone_id": _text(r, f.milestone),
                    "period_end": _text(r, f.period_end),
                    "trandate": text(r, "trandate"),
                    "replaces": replaces,
                    "credits": credits,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [_invoice_ref(key)]
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.BILLS,
                SYSTEM,
            )
        )
    if replaces:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                replaces,
                SYSTEM,
                ObjectType.INVOICE,
                key,
                LinkQualifier.REISSUED_AS,
                SYSTEM,
            )
        )
    if credits:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                key,
                SYSTEM,
                ObjectType.INVOICE,
                credits,
                LinkQualifier.CREDITS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.INVOICE_CREATED, "createddate"),
        (Activity.INVOICE_POSTED, f.posted_at),
        (Activity.INVOICE_SENT, f.sent_at),
        (Activity.INVOICE_VOIDED, f.voided_at),
    ):
        at = _time(r, column)
        if at is not None:
            batch.events.append(EventRow(activity, at, SYSTEM, key, tuple(related)))
    return batch


def map_payment(r: Record, f: NetSuiteFields) -> Batch:
    """Customer payment → `payment`, `payment.received`, invoice → payment `settled_by`."""
    check_resolved(r)
    key = required_text(r, "id")
    invoice = _text(r, f.applied_invoice)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PAYMENT,
                source_system=SYSTEM,
                source_key=key,
                customer=text(r, "entity"),
                currency=text(r, "currency"),
                amount=amount(r, "foreigntotal"),
                attributes={
                    "tranid": text(r, "tranid"),
                    "applied_invoice": invoice,
                    "trandate": text(r, "trandate"),
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.PAYMENT, key, "payment")]
    if invoice:
        related.append(_invoice_ref(invoice))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                invoice,
                SYSTEM,
                ObjectType.PAYMENT,
                key,
                LinkQualifier.SETTLED_BY,
                SYSTEM,
            )
        )
    received = optional_timestamp(r, "createddate")
    if received is not None:
        batch.events.append(
            EventRow(Activity.PAYMENT_RECEIVED, received, SYSTEM, key, tuple(related))
        )
    return batch


def map_currency_rate(r: Record) -> Batch:
    """Currency rate → one FX row: `exchangerate` units of the base currency per foreign unit."""
    check_resolved(r)
    rate = amount(r, "exchangerate")
    if rate is None or rate <= 0:
        raise MappingError(f"exchangerate must be a positive number: {r.get('exchangerate')!r:.40}")
    effective = required_text(r, "effectivedate")
    try:
        day = date.fromisoformat(effective[:10])
    except ValueError as exc:
        raise MappingError(f"effectivedate is not a date: {effective!r:.40}") from exc
    return Batch(
        fx_rates=[
            FxRateRow(
                day=day,
                base=required_text(r, "transactioncurrency"),
                quote=required_text(r, "basecurrency"),
                rate=rate,
                source_system=SYSTEM,
            )
        ]
    )


def map_job(r: Record, f: NetSuiteFields) -> Batch:
    """A project (job) → `project`, `project.created`, deal → project `provisions`."""
    check_resolved(r)
    key = required_text(r, "id")
    opportunity = _text(r, f.job_opportunity)
    created_by = text(r, "createdby")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PROJECT,
                source_system=f.job_system,
                source_key=key,
                customer=text(r, "parent") or text(r, "customer"),
                legal_entity=text(r, "subsidiary"),
                owner=text(r, "projectmanager"),
                currency=text(r, "currency"),
                attributes={
                    "name": text(r, "companyname") or text(r, "entityid"),
                    "entity_id": text(r, "entityid"),
                    "status": text(r, "entitystatus"),
                    "crm_opportunity_id": opportunity,
                    "created_by": created_by,
                    "touchless": created_by in f.integration_users,
                    "start_date": text(r, "startdate"),
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [EventObject(f.job_system, ObjectType.PROJECT, key, "project")]
    if opportunity:
        related.append(EventObject(f.crm_system, ObjectType.DEAL, opportunity, "deal"))
        batch.links.append(
            LinkRow(
                f.crm_system,
                ObjectType.DEAL,
                opportunity,
                f.job_system,
                ObjectType.PROJECT,
                key,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        )
    created = optional_timestamp(r, "datecreated")
    if created is not None:
        batch.events.append(
            EventRow(
                Activity.PROJECT_CREATED,
                created,
                f.job_system,
                key,
                tuple(related),
                {"by": created_by},
            )
        )
    return batch


def map_timebill(r: Record, f: NetSuiteFields) -> Batch:
    """A time bill → `work_item`, `work.logged` (and `work.approved`), → project `part_of`."""
    check_resolved(r)
    key = required_text(r, "id")
    spent = hours(r)
    project = text(r, "customer")  # a time bill's customer:project is the job
    invoice = _text(r, f.timebill_invoice)
    status = text(r, "approvalstatus")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.WORK_ITEM,
                source_system=SYSTEM,
                source_key=key,
                owner=text(r, "employee"),
                legal_entity=text(r, "subsidiary"),
                attributes={
                    "kind": "time",
                    "project_id": project,
                    "work_date": text(r, "trandate"),
                    "hours": None if spent is None else decimal_text(spent),
                    "billable": flag(r, "isbillable"),
                    "status": status,
                    "invoice_id": invoice,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.WORK_ITEM, key, "work_item")]
    if project:
        related.append(EventObject(f.job_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                f.job_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PART_OF,
                SYSTEM,
            )
        )
    if invoice:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.INVOICE,
                invoice,
                LinkQualifier.BILLED_ON,
                SYSTEM,
            )
        )
    logged = optional_timestamp(r, "datecreated")
    if logged is not None:
        batch.events.append(EventRow(Activity.WORK_LOGGED, logged, SYSTEM, key, tuple(related)))
    approved = _time(r, f.timebill_approved_at)
    if approved is not None and status in f.timebill_approved:
        batch.events.append(EventRow(Activity.WORK_APPROVED, approved, SYSTEM, key, tuple(related)))
    return batch
