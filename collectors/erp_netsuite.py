"""NetSuite SuiteQL (and the demo ERP, which speaks it): customers, invoices, credit notes,
payments and daily exchange rates.

API: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html
`POST /services/rest/query/v1/suiteql?limit=<≤1000>&offset=<n>` with `Prefer: transient` and
`{"q": "<SuiteQL>"}`; pages while `hasMore`. Every value comes back as a string and nulls are
omitted. Order: `ORDER BY lastmodifieddate, id` (sorted by the cursor). Limits: concurrency per
account; 429 is retried by the shared client.

A real account authenticates with token-based authentication (OAuth 1.0a, HMAC-SHA256; see
`collectors.auth.NetSuiteTokenAuth`). With `NetSuiteConfig.projects` the collector also reads
projects (the `job` table) and time bills (`timebill`); which custom entity field on the job holds
the CRM opportunity id (deal → project `provisions`) is configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.errors import MappingError
from collectors.mapping import amount, flag, required_text, text
from collectors.paging import OffsetPaginator, iter_records
from metrics.canonical import (
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

SYSTEM = "erp"
LOOKBACK = timedelta(minutes=5)
QUERY_PATH = "services/rest/query/v1/suiteql"


@dataclass(frozen=True)
class NetSuiteFields:
    """Custom body fields that carry Throughline's links (configurable per account)."""

    project_code: str = "custbody_tl_project_code"
    billing_type: str = "custbody_tl_billing_type"
    milestone: str = "custbody_tl_milestone_id"
    period_end: str = "custbody_tl_period_end"
    posted_at: str = "custbody_tl_posted_at"
    sent_at: str = "custbody_tl_sent_at"
    voided_at: str = "custbody_tl_voided_at"
    replaces: str = "custbody_tl_replaces"
    credits: str = "custbody_tl_credits"
    applied_invoice: str = "custbody_tl_applied_invoice"
    tax_id: str = "custentity_tax_id"
    project_system: str = "psa"
    job_opportunity: str = "custentity_tl_crm_opportunity_id"  # CRM opportunity id on the job
    job_system: str = SYSTEM  # the source system of NetSuite's projects
    crm_system: str = "crm"
    integration_users: frozenset[str] = frozenset()  # who creates projects automatically
    timebill_approved: frozenset[str] = frozenset({"3", "Approved"})  # approvalstatus values
    timebill_approved_at: str | None = "custcol_tl_approved_at"  # when it was approved
    timebill_invoice: str | None = "custcol_tl_invoice"  # the invoice that billed it


@dataclass(frozen=True)
class SuiteQLStream:
    """One SuiteQL table (optionally one transaction type)."""

    name: str
    table: str
    mapper: Callable[[Record], Batch]
    transaction_type: str | None = None
    limit: int = 200
    primary_key: str = "id"
    cursor_field: str = "lastmodifieddate"
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK

    def suiteql(self, window: FetchWindow) -> str:
        """The query for one window; only literals this module formats are interpolated."""
        where = []
        if self.transaction_type:
            where.append(f"type = '{self.transaction_type}'")
        if window.since is not None:
            where.append(f"lastmodifieddate >= '{window.since.astimezone(UTC).isoformat()}'")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return f"SELECT * FROM {self.table}{clause} ORDER BY lastmodifieddate, id"  # noqa: S608

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        yield from iter_records(
            client, OffsetPaginator(self.limit), "POST", QUERY_PATH, "items",
            json={"q": self.suiteql(window)},
        )  # fmt: skip

    def map(self, record: Record) -> Batch:
        return self.mapper(record)


def map_customer(r: Record, f: NetSuiteFields) -> Batch:
    """Customer → `account` (the tax id itself is never stored, only whether one is on file)."""
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT, source_system=SYSTEM, source_key=required_text(r, "id"),
                customer=text(r, "companyname"), legal_entity=text(r, "subsidiary"),
                currency=text(r, "currency"),
                attributes={"entity_id": text(r, "entityid"), "name": text(r, "companyname"),
                            "has_tax_id": text(r, f.tax_id) is not None},
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )  # fmt: skip


def _invoice_ref(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")


def map_invoice(r: Record, f: NetSuiteFields, kind: str = "invoice") -> Batch:
    """Invoice or credit note → `invoice`, its lifecycle events and links."""
    key = required_text(r, "id")
    project = text(r, f.project_code)
    replaces = text(r, f.replaces)
    credits = text(r, f.credits)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.INVOICE, source_system=SYSTEM, source_key=key,
                customer=text(r, "entity"), legal_entity=text(r, "subsidiary"),
                currency=text(r, "currency"), amount=amount(r, "foreigntotal"),
                attributes={
                    "kind": kind, "tranid": text(r, "tranid"), "status": text(r, "status"),
                    "customer_id": text(r, "entity"), "project_code": project,
                    "billing_type": text(r, f.billing_type), "milestone_id": text(r, f.milestone),
                    "period_end": text(r, f.period_end), "trandate": text(r, "trandate"),
                    "replaces": replaces, "credits": credits,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )  # fmt: skip
    related = [_invoice_ref(key)]
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.INVOICE, key, f.project_system, ObjectType.PROJECT,
                    project, LinkQualifier.BILLS, SYSTEM)
        )  # fmt: skip
    if replaces:
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.INVOICE, replaces, SYSTEM, ObjectType.INVOICE, key,
                    LinkQualifier.REISSUED_AS, SYSTEM)
        )  # fmt: skip
    if credits:
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.INVOICE, key, SYSTEM, ObjectType.INVOICE, credits,
                    LinkQualifier.CREDITS, SYSTEM)
        )  # fmt: skip
    for activity, column in (
        (Activity.INVOICE_CREATED, "createddate"),
        (Activity.INVOICE_POSTED, f.posted_at),
        (Activity.INVOICE_SENT, f.sent_at),
        (Activity.INVOICE_VOIDED, f.voided_at),
    ):
        at = optional_timestamp(r, column)
        if at is not None:
            batch.events.append(EventRow(activity, at, SYSTEM, key, tuple(related)))
    return batch


def map_payment(r: Record, f: NetSuiteFields) -> Batch:
    """Customer payment → `payment`, `payment.received`, invoice → payment `settled_by`."""
    key = required_text(r, "id")
    invoice = text(r, f.applied_invoice)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PAYMENT, source_system=SYSTEM, source_key=key,
                customer=text(r, "entity"), currency=text(r, "currency"),
                amount=amount(r, "foreigntotal"),
                attributes={"tranid": text(r, "tranid"), "applied_invoice": invoice,
                            "trandate": text(r, "trandate")},
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )  # fmt: skip
    related = [EventObject(SYSTEM, ObjectType.PAYMENT, key, "payment")]
    if invoice:
        related.append(_invoice_ref(invoice))
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.INVOICE, invoice, SYSTEM, ObjectType.PAYMENT, key,
                    LinkQualifier.SETTLED_BY, SYSTEM)
        )  # fmt: skip
    received = optional_timestamp(r, "createddate")
    if received is not None:
        batch.events.append(EventRow(Activity.PAYMENT_RECEIVED, received, SYSTEM, key,
                                     tuple(related)))  # fmt: skip
    return batch


def map_currency_rate(r: Record) -> Batch:
    """Currency rate → one FX row: `exchangerate` units of the base currency per foreign unit."""
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
            FxRateRow(day=day, base=required_text(r, "transactioncurrency"),
                      quote=required_text(r, "basecurrency"), rate=rate, source_system=SYSTEM)
        ]
    )  # fmt: skip


def map_job(r: Record, f: NetSuiteFields) -> Batch:
    """A project (job) → `project`, `project.created`, deal → project `provisions`."""
    key = required_text(r, "id")
    opportunity = text(r, f.job_opportunity)
    created_by = text(r, "createdby")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PROJECT, source_system=f.job_system, source_key=key,
                customer=text(r, "parent") or text(r, "customer"),
                legal_entity=text(r, "subsidiary"), owner=text(r, "projectmanager"),
                currency=text(r, "currency"),
                attributes={
                    "name": text(r, "companyname") or text(r, "entityid"),
                    "entity_id": text(r, "entityid"), "status": text(r, "entitystatus"),
                    "crm_opportunity_id": opportunity, "created_by": created_by,
                    "touchless": created_by in f.integration_users,
                    "start_date": text(r, "startdate"),
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )  # fmt: skip
    related = [EventObject(f.job_system, ObjectType.PROJECT, key, "project")]
    if opportunity:
        related.append(EventObject(f.crm_system, ObjectType.DEAL, opportunity, "deal"))
        batch.links.append(
            LinkRow(f.crm_system, ObjectType.DEAL, opportunity, f.job_system, ObjectType.PROJECT,
                    key, LinkQualifier.PROVISIONS, SYSTEM)
        )  # fmt: skip
    created = optional_timestamp(r, "datecreated")
    if created is not None:
        batch.events.append(EventRow(Activity.PROJECT_CREATED, created, f.job_system, key,
                                     tuple(related), {"by": created_by}))  # fmt: skip
    return batch


def map_timebill(r: Record, f: NetSuiteFields) -> Batch:
    """A time bill → `work_item`, `work.logged` (and `work.approved`), → project `part_of`."""
    key = required_text(r, "id")
    project = text(r, "customer")  # a time bill's customer:project is the job
    invoice = text(r, f.timebill_invoice) if f.timebill_invoice else None
    status = text(r, "approvalstatus")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.WORK_ITEM, source_system=SYSTEM, source_key=key,
                owner=text(r, "employee"), legal_entity=text(r, "subsidiary"),
                attributes={
                    "kind": "time", "project_id": project, "work_date": text(r, "trandate"),
                    "hours": text(r, "hours"), "billable": flag(r, "isbillable"),
                    "status": status, "invoice_id": invoice,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )  # fmt: skip
    related = [EventObject(SYSTEM, ObjectType.WORK_ITEM, key, "work_item")]
    if project:
        related.append(EventObject(f.job_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.WORK_ITEM, key, f.job_system, ObjectType.PROJECT, project,
                    LinkQualifier.PART_OF, SYSTEM)
        )  # fmt: skip
    if invoice:
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.WORK_ITEM, key, SYSTEM, ObjectType.INVOICE, invoice,
                    LinkQualifier.BILLED_ON, SYSTEM)
        )  # fmt: skip
    logged = optional_timestamp(r, "datecreated")
    if logged is not None:
        batch.events.append(EventRow(Activity.WORK_LOGGED, logged, SYSTEM, key, tuple(related)))
    approved = optional_timestamp(r, f.timebill_approved_at) if f.timebill_approved_at else None
    if approved is not None and status in f.timebill_approved:
        batch.events.append(EventRow(Activity.WORK_APPROVED, approved, SYSTEM, key,
                                     tuple(related)))  # fmt: skip
    return batch


@dataclass(frozen=True)
class NetSuiteConfig:
    """Where the account's REST API lives and how its custom fields are named."""

    base_url: str
    fields: NetSuiteFields = field(default_factory=NetSuiteFields)
    limit: int = 200
    projects: bool = False  # also read projects (jobs) and time bills


def streams(config: NetSuiteConfig) -> list[SuiteQLStream]:
    """The ERP streams."""
    f, n = config.fields, config.limit
    return [
        SuiteQLStream("customers", "customer", lambda r: map_customer(r, f), limit=n),
        SuiteQLStream("invoices", "transaction", lambda r: map_invoice(r, f),
                      transaction_type="CustInvc", limit=n),
        SuiteQLStream("credit_notes", "transaction", lambda r: map_invoice(r, f, "credit_note"),
                      transaction_type="CustCred", limit=n),
        SuiteQLStream("payments", "transaction", lambda r: map_payment(r, f),
                      transaction_type="CustPymt", limit=n),
        SuiteQLStream("currency_rates", "currencyrate", map_currency_rate, limit=n),
        *(
            [SuiteQLStream("projects", "job", lambda r: map_job(r, f), limit=n),
             SuiteQLStream("time_bills", "timebill", lambda r: map_timebill(r, f), limit=n)]
            if config.projects else []
        ),
    ]  # fmt: skip


def collector(
    name: str, config: NetSuiteConfig, auth: httpx.Auth,
    *, transport: httpx.BaseTransport | None = None,
) -> HttpCollector:  # fmt: skip
    """A NetSuite SuiteQL collector."""
    return HttpCollector(
        name=name, source_system=SYSTEM, streams=streams(config),
        base_url=config.base_url.rstrip("/") + "/", auth=auth, transport=transport,
        headers={"Prefer": "transient"},
    )  # fmt: skip
