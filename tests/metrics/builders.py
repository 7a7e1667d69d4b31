"""Canonical rows for hand-computed KPI cases, shaped like the real collectors' output."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from store.canonical import (
    Activity,
    Batch,
    ErrorClass,
    EventObject,
    EventRow,
    FxRateRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
    SyncAttemptRow,
    SyncStatus,
)

CRM, PSA, ERP, IPAAS = "crm", "psa", "erp", "ipaas"
T = ObjectType


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A UTC datetime."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def _ref(system: str, type_: ObjectType, key: str, qualifier: str) -> EventObject:
    return EventObject(system, type_, key, qualifier)


def deal(
    key: str,
    entity: str = "US",
    *,
    practice: str = "Cloud",
    customer: str = "Acme",
    amount: str = "1000",
    currency: str = "USD",
    no_project: bool = False,
) -> Batch:
    """A deal object."""
    return Batch(
        objects=[
            ObjectRow(
                T.DEAL,
                CRM,
                key,
                customer=customer,
                legal_entity=entity,
                practice=practice,
                owner="Sam",
                currency=currency,
                amount=Decimal(amount),
                attributes={"no_project_required": no_project},
            )
        ]
    )


def stage(key: str, activity: Activity, when: datetime) -> Batch:
    """A stage-history event of a deal."""
    return Batch(
        events=[
            EventRow(
                activity,
                when,
                CRM,
                f"{key}-{activity}-{when.isoformat()}",
                (_ref(CRM, T.DEAL, key, "deal"),),
            )
        ]
    )


def project(
    key: str,
    deal_key: str | None,
    created: datetime,
    entity: str = "US",
    *,
    touchless: bool = False,
    practice: str = "Cloud",
    customer: str = "Acme",
    currency: str = "USD",
) -> Batch:
    """A project, its `project.created` event and the deal → project link."""
    refs = [_ref(PSA, T.PROJECT, key, "project")]
    links = []
    if deal_key:
        refs.append(_ref(CRM, T.DEAL, deal_key, "deal"))
        links.append(
            LinkRow(CRM, T.DEAL, deal_key, PSA, T.PROJECT, key, LinkQualifier.PROVISIONS, PSA)
        )
    return Batch(
        objects=[
            ObjectRow(
                T.PROJECT,
                PSA,
                key,
                customer=customer,
                legal_entity=entity,
                practice=practice,
                currency=currency,
                attributes={"touchless": touchless},
            )
        ],
        events=[EventRow(Activity.PROJECT_CREATED, created, PSA, key, tuple(refs))],
        links=links,
    )


def work(
    key: str,
    project_key: str,
    amount: str,
    currency: str,
    work_date: date | None,
    *,
    approved: datetime | None = None,
    logged: datetime | None = None,
    written_off: datetime | None = None,
    invoice: str | None = None,
    billable: bool = True,
    status: str | None = None,
    updated: datetime | None = None,
) -> Batch:
    """A time entry with its events and links (`invoice` is its current invoice)."""
    status = status or ("written_off" if written_off else "approved" if approved else "submitted")
    refs = (_ref(PSA, T.WORK_ITEM, key, "work_item"), _ref(PSA, T.PROJECT, project_key, "project"))
    events = [
        EventRow(activity, when, PSA, key, refs)
        for activity, when in (
            (Activity.WORK_LOGGED, logged),
            (Activity.WORK_APPROVED, approved),
            (Activity.WORK_WRITTEN_OFF, written_off),
        )
        if when is not None
    ]
    links = [
        LinkRow(PSA, T.WORK_ITEM, key, PSA, T.PROJECT, project_key, LinkQualifier.PART_OF, PSA)
    ]
    if invoice:
        links.append(
            LinkRow(PSA, T.WORK_ITEM, key, ERP, T.INVOICE, invoice, LinkQualifier.BILLED_ON, PSA)
        )
    return Batch(
        objects=[
            ObjectRow(
                T.WORK_ITEM,
                PSA,
                key,
                currency=currency,
                amount=Decimal(amount),
                attributes={
                    "kind": "time",
                    "project_id": project_key,
                    "billable": billable,
                    "status": status,
                    "invoice_id": invoice,
                    "work_date": work_date.isoformat() if work_date else None,
                },
                source_updated_at=updated,
            )
        ],
        events=events,
        links=links,
    )


def invoice(
    key: str,
    project_key: str,
    amount: str,
    *,
    created: datetime,
    currency: str = "USD",
    posted: datetime | None = None,
    sent: datetime | None = None,
    voided: datetime | None = None,
    period_end: date | None = None,
    milestone: str | None = None,
    replaces: str | None = None,
    credits: str | None = None,
    entity: str = "US",
) -> Batch:
    """An invoice (or, with `credits`, a credit note) with its lifecycle events and links."""
    kind = "credit_note" if credits else "invoice"
    attributes: dict[str, Any] = {
        "kind": kind,
        "project_code": project_key,
        "billing_type": "Fixed Fee" if milestone else "T&M",
        "milestone_id": milestone,
        "period_end": period_end.isoformat() if period_end else None,
        "replaces": replaces,
        "credits": credits,
    }
    refs = (_ref(ERP, T.INVOICE, key, "invoice"), _ref(PSA, T.PROJECT, project_key, "project"))
    events = [
        EventRow(activity, when, ERP, key, refs)
        for activity, when in (
            (Activity.INVOICE_CREATED, created),
            (Activity.INVOICE_POSTED, posted),
            (Activity.INVOICE_SENT, sent),
            (Activity.INVOICE_VOIDED, voided),
        )
        if when is not None
    ]
    links = [LinkRow(ERP, T.INVOICE, key, PSA, T.PROJECT, project_key, LinkQualifier.BILLS, ERP)]
    if replaces:
        links.append(
            LinkRow(ERP, T.INVOICE, replaces, ERP, T.INVOICE, key, LinkQualifier.REISSUED_AS, ERP)
        )
    if credits:
        links.append(
            LinkRow(ERP, T.INVOICE, key, ERP, T.INVOICE, credits, LinkQualifier.CREDITS, ERP)
        )
    return Batch(
        objects=[
            ObjectRow(
                T.INVOICE,
                ERP,
                key,
                customer="C-1",
                legal_entity=entity,
                currency=currency,
                amount=Decimal(amount),
                attributes=attributes,
            )
        ],
        events=events,
        links=links,
    )


def payment(key: str, invoice_key: str, amount: str, when: datetime) -> Batch:
    """A payment settling an invoice."""
    return Batch(
        objects=[ObjectRow(T.PAYMENT, ERP, key, currency="USD", amount=Decimal(amount))],
        events=[
            EventRow(
                Activity.PAYMENT_RECEIVED,
                when,
                ERP,
                key,
                (
                    _ref(ERP, T.PAYMENT, key, "payment"),
                    _ref(ERP, T.INVOICE, invoice_key, "invoice"),
                ),
            )
        ],
        links=[
            LinkRow(ERP, T.INVOICE, invoice_key, ERP, T.PAYMENT, key, LinkQualifier.SETTLED_BY, ERP)
        ],
    )


def milestone(key: str, project_key: str, accepted: datetime) -> Batch:
    """A fixed-fee milestone and its acceptance."""
    return Batch(
        objects=[ObjectRow(T.MILESTONE, PSA, key, attributes={"project_id": project_key})],
        events=[
            EventRow(
                Activity.MILESTONE_ACCEPTED,
                accepted,
                PSA,
                key,
                (
                    _ref(PSA, T.MILESTONE, key, "milestone"),
                    _ref(PSA, T.PROJECT, project_key, "project"),
                ),
            )
        ],
        links=[
            LinkRow(PSA, T.MILESTONE, key, PSA, T.PROJECT, project_key, LinkQualifier.PART_OF, PSA)
        ],
    )


def attempt(
    key: str,
    trace: str,
    n: int,
    when: datetime,
    *,
    failed: bool = False,
    error_class: ErrorClass = ErrorClass.VALIDATION,
    signature: str = "X <id>",
    flow: str = "crm-psa/project_provisioning",
    deal_key: str | None = None,
) -> SyncAttemptRow:
    """One sync attempt of `trace` (attempt number `n`)."""
    return SyncAttemptRow(
        IPAAS,
        key,
        flow.split("/")[0],
        flow,
        SyncStatus.FAILED if failed else SyncStatus.SUCCESS,
        when,
        attempt_number=n,
        error_class=error_class if failed else None,
        error_message=signature if failed else None,
        error_signature=signature if failed else None,
        trace_key=trace,
        object_system=CRM if deal_key else None,
        object_type=T.DEAL if deal_key else None,
        object_key=deal_key,
    )


def rate(day: date, base: str, value: str, quote: str = "USD") -> Batch:
    """One daily FX rate: one `base` buys `value` `quote`."""
    return Batch(fx_rates=[FxRateRow(day, base, quote, Decimal(value), ERP)])


def merge(*batches: Batch) -> Batch:
    """One batch with the rows of all."""
    out = Batch()
    for b in batches:
        out.extend(b)
    return out
