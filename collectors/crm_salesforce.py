"""Salesforce REST (and the demo CRM, which speaks it): deals, stage history, contracts.

API: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
Paging: `nextRecordsUrl` (relative to the instance URL) until `done`; `Sforce-Query-Options:
batchSize=N` (200–2000). Order: `ORDER BY <cursor>, Id`, so streams are sorted by their cursor
(`SystemModstamp`; `CreatedDate` for the immutable field history). Limits: a daily API request
allocation; 429 and 503 are retried by the shared client, honouring `Retry-After`.
The won time of a deal is the first `OpportunityFieldHistory` row whose new stage is the won
stage — never the editable `CloseDate`.

Cross-system identity is configuration: `SalesforceFields.project_code` names the Opportunity
field holding the PSA project code (deal → project `provisions`); a firm that keeps projects or
invoices in Salesforce objects (e.g. a PSA package's project object) declares them with
`SalesforceProjectObject` / `SalesforceInvoiceObject`. Authentication for a real org: OAuth 2.0
client credentials or JWT bearer (`collectors.auth`), refreshed once on a 401.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.mapping import amount, flag, nested, required_text, text
from collectors.page_checks import PageContract
from collectors.paging import NextUrlPaginator, iter_records
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

SYSTEM = "crm"
PSA_SYSTEM = "psa"
LOOKBACK = timedelta(minutes=5)


@dataclass(frozen=True)
class SalesforceFields:
    """Which (custom) fields carry Throughline's dimensions in this org."""

    practice: str = "Practice__c"
    legal_entity: str = "Legal_Entity__c"
    no_project_required: str = "No_Project_Required__c"
    won_stages: frozenset[str] = frozenset({"Closed Won"})
    lost_stages: frozenset[str] = frozenset({"Closed Lost"})
    contract_opportunity: str = "Opportunity__c"
    contract_signed_at: str = "Signed_At__c"
    change_order_object: str = "Change_Order__c"
    project_system: str = PSA_SYSTEM
    project_code: str | None = None  # Opportunity field with the PSA project code

    @property
    def closed_stages(self) -> frozenset[str]:
        return self.won_stages | self.lost_stages


@dataclass(frozen=True)
class SoqlStream:
    """One sObject read with SOQL, sorted by its cursor field."""

    name: str
    sobject: str
    fields: tuple[str, ...]
    mapper: Callable[[Record], Batch]
    cursor_field: str = "SystemModstamp"
    primary_key: str = "Id"
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK
    api_version: str = "v60.0"

    def soql(self, window: FetchWindow) -> str:
        """The query for one window (datetime literals are unquoted in SOQL)."""
        query = f"SELECT {', '.join(self.fields)} FROM {self.sobject}"  # noqa: S608 (SOQL, declared fields)
        if window.since is not None:
            since = window.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            query += f" WHERE {self.cursor_field} >= {since}"
        return f"{query} ORDER BY {self.cursor_field}, Id"

    def pages(self, window: FetchWindow) -> PageContract:
        """Every page: `totalSize` for the whole query, records of this sObject, none modified
        before the window (the query's literal is whole seconds), none read twice."""
        since = window.since.astimezone(UTC).replace(microsecond=0) if window.since else None
        return PageContract(
            self.name,
            "records",
            key=self.primary_key,
            version=self.cursor_field,
            total="totalSize",
            kind=("attributes.type", self.sobject),
            floor=(self.cursor_field, since) if since else None,
        )

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        yield from iter_records(
            client,
            NextUrlPaginator(relative_to_base=True),
            "GET",
            f"services/data/{self.api_version}/query",
            self.pages(window),
            params={"q": self.soql(window)},
        )

    def map(self, record: Record) -> Batch:
        return self.mapper(record)


def _deal(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.DEAL, key, "deal")


def map_account(r: Record, f: SalesforceFields) -> Batch:
    """Account → `account` object."""
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT,
                source_system=SYSTEM,
                source_key=required_text(r, "Id"),
                customer=text(r, "Name"),
                legal_entity=text(r, f.legal_entity),
                region=text(r, "BillingCountry"),
                attributes={"name": text(r, "Name")},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )


def map_opportunity(r: Record, f: SalesforceFields) -> Batch:
    """Opportunity → `deal` object (its won time comes from the stage history).

    With `f.project_code` set, the PSA project code on the opportunity links deal → project."""
    key = required_text(r, "Id")
    project = text(r, f.project_code) if f.project_code else None
    links = (
        [
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        ]
        if project
        else []
    )
    return Batch(
        links=links,
        objects=[
            ObjectRow(
                type=ObjectType.DEAL,
                source_system=SYSTEM,
                source_key=key,
                customer=nested(r, "Account.Name") or text(r, "AccountId"),
                legal_entity=text(r, f.legal_entity),
                practice=text(r, f.practice),
                owner=nested(r, "Owner.Name") or text(r, "OwnerId"),
                currency=text(r, "CurrencyIsoCode"),
                amount=amount(r, "Amount"),
                attributes={
                    "name": text(r, "Name"),
                    "stage": text(r, "StageName"),
                    "account_id": text(r, "AccountId"),
                    "close_date": text(r, "CloseDate"),
                    "no_project_required": flag(r, f.no_project_required),
                    **({"project_code": project} if f.project_code else {}),
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ],
    )


def stage_activity(old: str | None, new: str | None, f: SalesforceFields) -> Activity | None:
    """The canonical activity of one stage change, or None for an in-pipeline move."""
    if new in f.won_stages:
        return Activity.DEAL_WON
    if new in f.lost_stages:
        return Activity.DEAL_LOST
    if old in f.closed_stages and new not in f.closed_stages:
        return Activity.DEAL_REOPENED
    return None


def map_stage_history(r: Record, f: SalesforceFields) -> Batch:
    """OpportunityFieldHistory (StageName) → `deal.won` / `deal.lost` / `deal.reopened`."""
    if text(r, "Field") != "StageName":
        return Batch()
    activity = stage_activity(text(r, "OldValue"), text(r, "NewValue"), f)
    at = optional_timestamp(r, "CreatedDate")
    if activity is None or at is None:
        return Batch()
    return Batch(
        events=[
            EventRow(
                activity=activity,
                occurred_at=at,
                source_system=SYSTEM,
                source_key=required_text(r, "Id"),
                objects=(_deal(required_text(r, "OpportunityId")),),
                attributes={"from": text(r, "OldValue"), "to": text(r, "NewValue")},
            )
        ]
    )


def map_contract(r: Record, f: SalesforceFields) -> Batch:
    """Contract → `contract` object, `contract.signed`, deal → contract `contracted_by`."""
    key = required_text(r, "Id")
    opportunity = text(r, f.contract_opportunity)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.CONTRACT,
                source_system=SYSTEM,
                source_key=key,
                attributes={
                    "status": text(r, "Status"),
                    "account_id": text(r, "AccountId"),
                    "opportunity_id": opportunity,
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    signed = optional_timestamp(r, f.contract_signed_at)
    related = [EventObject(SYSTEM, ObjectType.CONTRACT, key, "contract")]
    if opportunity:
        related.append(_deal(opportunity))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                opportunity,
                SYSTEM,
                ObjectType.CONTRACT,
                key,
                LinkQualifier.CONTRACTED_BY,
                SYSTEM,
            )
        )
    if signed is not None:
        batch.events.append(EventRow(Activity.CONTRACT_SIGNED, signed, SYSTEM, key, tuple(related)))
    return batch


def map_change_order(r: Record, f: SalesforceFields) -> Batch:
    """Change order → object, `change_order.approved`, change order → project `amends`."""
    key = required_text(r, "Id")
    project = text(r, "Project_Code__c")
    opportunity = text(r, "Opportunity__c")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.CHANGE_ORDER,
                source_system=SYSTEM,
                source_key=key,
                currency=text(r, "CurrencyIsoCode"),
                amount=amount(r, "Amount__c"),
                attributes={
                    "status": text(r, "Status__c"),
                    "opportunity_id": opportunity,
                    "project_code": project,
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.CHANGE_ORDER, key, "change_order")]
    if opportunity:
        related.append(_deal(opportunity))
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.CHANGE_ORDER,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.AMENDS,
                SYSTEM,
            )
        )
    approved = optional_timestamp(r, "Approved_At__c")
    if approved is not None:
        batch.events.append(
            EventRow(Activity.CHANGE_ORDER_APPROVED, approved, SYSTEM, key, tuple(related))
        )
    return batch


@dataclass(frozen=True)
class SalesforceProjectObject:
    """A (custom) object that holds projects in this org, and which of its fields carry what."""

    sobject: str
    opportunity: str | None = "Opportunity__c"  # lookup to the won opportunity
    name: str = "Name"
    account: str | None = "Account__c"
    status: str | None = None
    activated_at: str | None = None
    system: str = SYSTEM  # the source system its projects belong to

    @property
    def account_name(self) -> str | None:
        """The account's name through the lookup's relationship (`Account__r.Name`)."""
        if self.account is None:
            return None
        if self.account.endswith("__c"):
            return f"{self.account[:-3]}__r.Name"
        return f"{self.account.removesuffix('Id')}.Name"

    def fields(self) -> tuple[str, ...]:
        optional = (
            self.opportunity,
            self.account,
            self.account_name,
            self.status,
            self.activated_at,
        )
        return ("Id", self.name, *(f for f in optional if f), "CreatedDate", "SystemModstamp")


@dataclass(frozen=True)
class SalesforceInvoiceObject:
    """A (custom) object that holds invoices in this org, and which of its fields carry what."""

    sobject: str
    project: str | None = "Project__c"  # lookup to the project it bills
    amount: str = "Amount__c"
    posted_at: str | None = "Posted_At__c"
    sent_at: str | None = None
    voided_at: str | None = None
    project_system: str = SYSTEM

    def fields(self) -> tuple[str, ...]:
        optional = (self.project, self.posted_at, self.sent_at, self.voided_at)
        return (
            "Id",
            "Name",
            self.amount,
            "CurrencyIsoCode",
            *(f for f in optional if f),
            "CreatedDate",
            "SystemModstamp",
        )


def map_project_object(r: Record, o: SalesforceProjectObject) -> Batch:
    """A project record → `project`, `project.created`/`activated`, deal → project `provisions`."""
    key = required_text(r, "Id")
    opportunity = text(r, o.opportunity) if o.opportunity else None
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PROJECT,
                source_system=o.system,
                source_key=key,
                customer=(nested(r, o.account_name) if o.account_name else None)
                or (text(r, o.account) if o.account else None),
                currency=text(r, "CurrencyIsoCode"),
                attributes={
                    "name": text(r, o.name),
                    "crm_opportunity_id": opportunity,
                    "status": text(r, o.status) if o.status else None,
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    related = [EventObject(o.system, ObjectType.PROJECT, key, "project")]
    if opportunity:
        related.append(_deal(opportunity))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                opportunity,
                o.system,
                ObjectType.PROJECT,
                key,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.PROJECT_CREATED, "CreatedDate"),
        (Activity.PROJECT_ACTIVATED, o.activated_at),
    ):
        at = optional_timestamp(r, column) if column else None
        if at is not None:
            batch.events.append(EventRow(activity, at, o.system, key, tuple(related)))
    return batch


def map_invoice_object(r: Record, o: SalesforceInvoiceObject) -> Batch:
    """An invoice record → `invoice`, its lifecycle events, invoice → project `bills`."""
    key = required_text(r, "Id")
    project = text(r, o.project) if o.project else None
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.INVOICE,
                source_system=SYSTEM,
                source_key=key,
                currency=text(r, "CurrencyIsoCode"),
                amount=amount(r, o.amount),
                attributes={"kind": "invoice", "number": text(r, "Name"), "project_code": project},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")]
    if project:
        related.append(EventObject(o.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                key,
                o.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.BILLS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.INVOICE_CREATED, "CreatedDate"),
        (Activity.INVOICE_POSTED, o.posted_at),
        (Activity.INVOICE_SENT, o.sent_at),
        (Activity.INVOICE_VOIDED, o.voided_at),
    ):
        at = optional_timestamp(r, column) if column else None
        if at is not None:
            batch.events.append(EventRow(activity, at, SYSTEM, key, tuple(related)))
    return batch


@dataclass(frozen=True)
class SalesforceConfig:
    """Where and how to reach one Salesforce org (the token is resolved by the caller)."""

    instance_url: str
    fields: SalesforceFields = field(default_factory=SalesforceFields)
    api_version: str = "v60.0"
    batch_size: int = 200
    change_orders: bool = True  # the demo org has the change-order object; not every org does
    project_object: SalesforceProjectObject | None = None
    invoice_object: SalesforceInvoiceObject | None = None


def streams(config: SalesforceConfig) -> list[SoqlStream]:
    """The CRM streams, mapped with the org's field configuration."""
    f, v = config.fields, config.api_version
    extra: list[SoqlStream] = []
    if config.project_object is not None:
        po = config.project_object
        extra.append(
            SoqlStream(
                "projects",
                po.sobject,
                po.fields(),
                lambda r: map_project_object(r, po),
                api_version=v,
            )
        )
    if config.invoice_object is not None:
        io = config.invoice_object
        extra.append(
            SoqlStream(
                "invoices",
                io.sobject,
                io.fields(),
                lambda r: map_invoice_object(r, io),
                api_version=v,
            )
        )
    project_code = (f.project_code,) if f.project_code else ()
    core = [
        SoqlStream(
            "accounts",
            "Account",
            ("Id", "Name", "BillingCountry", f.legal_entity, "SystemModstamp"),
            lambda r: map_account(r, f),
            api_version=v,
        ),
        SoqlStream(
            "opportunities",
            "Opportunity",
            (
                "Id",
                "Name",
                "AccountId",
                "Account.Name",
                "StageName",
                "Amount",
                "CurrencyIsoCode",
                "CloseDate",
                f.practice,
                f.legal_entity,
                "OwnerId",
                "Owner.Name",
                f.no_project_required,
                *project_code,
                "SystemModstamp",
            ),
            lambda r: map_opportunity(r, f),
            api_version=v,
        ),
        SoqlStream(
            "stage_history",
            "OpportunityFieldHistory",
            ("Id", "OpportunityId", "Field", "OldValue", "NewValue", "CreatedDate"),
            lambda r: map_stage_history(r, f),
            cursor_field="CreatedDate",
            api_version=v,
        ),
        SoqlStream(
            "contracts",
            "Contract",
            (
                "Id",
                "AccountId",
                f.contract_opportunity,
                "Status",
                f.contract_signed_at,
                "SystemModstamp",
            ),
            lambda r: map_contract(r, f),
            api_version=v,
        ),
        SoqlStream(
            "change_orders",
            f.change_order_object,
            (
                "Id",
                "Opportunity__c",
                "Project_Code__c",
                "Amount__c",
                "CurrencyIsoCode",
                "Status__c",
                "Approved_At__c",
                "SystemModstamp",
            ),
            lambda r: map_change_order(r, f),
            api_version=v,
        ),
    ]
    return (core if config.change_orders else core[:-1]) + extra


def collector(
    name: str,
    config: SalesforceConfig,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """A Salesforce collector (the demo CRM uses it with its own instance URL)."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=streams(config),
        base_url=config.instance_url.rstrip("/") + "/",
        auth=auth,
        transport=transport,
        headers={"Sforce-Query-Options": f"batchSize={config.batch_size}"},
    )
