"""NetSuite SuiteQL (and the demo ERP, which speaks it): customers, invoices, credit notes,
payments and daily exchange rates.

API: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html
`POST /services/rest/query/v1/suiteql?limit=<≤1000>&offset=<n>` with `Prefer: transient` and
`{"q": "<SuiteQL>"}`; pages while `hasMore`. Every value comes back as a string and nulls are
omitted. Order: `ORDER BY lastmodifieddate, id` (sorted by the cursor). Limits: concurrency per
account; 429 is retried by the shared client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.errors import MappingError, SchemaDrift
from collectors.mapping import amount, required_text, text
from collectors.paging import OffsetPaginator, iter_pages
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
        pages = iter_pages(
            client, OffsetPaginator(self.limit), "POST", QUERY_PATH,
            json={"q": self.suiteql(window)},
        )  # fmt: skip
        for payload, _ in pages:
            items = payload.get("items") if isinstance(payload, dict) else None
            if not isinstance(items, list):
                raise SchemaDrift(f"SuiteQL page for {self.table} has no 'items' list")
            yield items

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


@dataclass(frozen=True)
class NetSuiteConfig:
    """Where the account's REST API lives and how its custom fields are named."""

    base_url: str
    fields: NetSuiteFields = field(default_factory=NetSuiteFields)
    limit: int = 200


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
