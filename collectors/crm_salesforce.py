"""Salesforce REST (and the demo CRM, which speaks it): deals, stage history, contracts.

API: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
Paging: `nextRecordsUrl` (relative to the instance URL) until `done`; `Sforce-Query-Options:
batchSize=N` (200–2000). Order: `ORDER BY <cursor>, Id`, so streams are sorted by their cursor
(`SystemModstamp`; `CreatedDate` for the immutable field history). Limits: a daily API request
allocation; 429 and 503 are retried by the shared client, honouring `Retry-After`.
The won time of a deal is the first `OpportunityFieldHistory` row whose new stage is the won
stage — never the editable `CloseDate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.errors import SchemaDrift
from collectors.mapping import amount, flag, nested, required_text, text
from collectors.paging import NextUrlPaginator, iter_pages
from metrics.canonical import (
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

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        url = f"services/data/{self.api_version}/query"
        pages = iter_pages(
            client, NextUrlPaginator(relative_to_base=True), "GET", url,
            params={"q": self.soql(window)},
        )  # fmt: skip
        for payload, _ in pages:
            records = payload.get("records") if isinstance(payload, dict) else None
            if not isinstance(records, list):
                raise SchemaDrift(f"{self.sobject} query page has no 'records' list")
            yield records

    def map(self, record: Record) -> Batch:
        return self.mapper(record)


def _deal(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.DEAL, key, "deal")


def map_account(r: Record, f: SalesforceFields) -> Batch:
    """Account → `account` object."""
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT, source_system=SYSTEM, source_key=required_text(r, "Id"),
                customer=text(r, "Name"), legal_entity=text(r, f.legal_entity),
                region=text(r, "BillingCountry"), attributes={"name": text(r, "Name")},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )  # fmt: skip


def map_opportunity(r: Record, f: SalesforceFields) -> Batch:
    """Opportunity → `deal` object (its won time comes from the stage history)."""
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.DEAL, source_system=SYSTEM, source_key=required_text(r, "Id"),
                customer=nested(r, "Account.Name") or text(r, "AccountId"),
                legal_entity=text(r, f.legal_entity), practice=text(r, f.practice),
                owner=nested(r, "Owner.Name") or text(r, "OwnerId"),
                currency=text(r, "CurrencyIsoCode"), amount=amount(r, "Amount"),
                attributes={
                    "name": text(r, "Name"), "stage": text(r, "StageName"),
                    "account_id": text(r, "AccountId"), "close_date": text(r, "CloseDate"),
                    "no_project_required": flag(r, f.no_project_required),
                },
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )  # fmt: skip


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
                activity=activity, occurred_at=at, source_system=SYSTEM,
                source_key=required_text(r, "Id"),
                objects=(_deal(required_text(r, "OpportunityId")),),
                attributes={"from": text(r, "OldValue"), "to": text(r, "NewValue")},
            )
        ]
    )  # fmt: skip


def map_contract(r: Record, f: SalesforceFields) -> Batch:
    """Contract → `contract` object, `contract.signed`, deal → contract `contracted_by`."""
    key = required_text(r, "Id")
    opportunity = text(r, f.contract_opportunity)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.CONTRACT, source_system=SYSTEM, source_key=key,
                attributes={"status": text(r, "Status"), "account_id": text(r, "AccountId"),
                            "opportunity_id": opportunity},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )  # fmt: skip
    signed = optional_timestamp(r, f.contract_signed_at)
    related = [EventObject(SYSTEM, ObjectType.CONTRACT, key, "contract")]
    if opportunity:
        related.append(_deal(opportunity))
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.DEAL, opportunity, SYSTEM, ObjectType.CONTRACT, key,
                    LinkQualifier.CONTRACTED_BY, SYSTEM)
        )  # fmt: skip
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
                type=ObjectType.CHANGE_ORDER, source_system=SYSTEM, source_key=key,
                currency=text(r, "CurrencyIsoCode"), amount=amount(r, "Amount__c"),
                attributes={"status": text(r, "Status__c"), "opportunity_id": opportunity,
                            "project_code": project},
                source_updated_at=optional_timestamp(r, "SystemModstamp"),
            )
        ]
    )  # fmt: skip
    related = [EventObject(SYSTEM, ObjectType.CHANGE_ORDER, key, "change_order")]
    if opportunity:
        related.append(_deal(opportunity))
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(SYSTEM, ObjectType.CHANGE_ORDER, key, f.project_system, ObjectType.PROJECT,
                    project, LinkQualifier.AMENDS, SYSTEM)
        )  # fmt: skip
    approved = optional_timestamp(r, "Approved_At__c")
    if approved is not None:
        batch.events.append(
            EventRow(Activity.CHANGE_ORDER_APPROVED, approved, SYSTEM, key, tuple(related))
        )
    return batch


@dataclass(frozen=True)
class SalesforceConfig:
    """Where and how to reach one Salesforce org (the token is resolved by the caller)."""

    instance_url: str
    fields: SalesforceFields = field(default_factory=SalesforceFields)
    api_version: str = "v60.0"
    batch_size: int = 200


def streams(config: SalesforceConfig) -> list[SoqlStream]:
    """The CRM streams, mapped with the org's field configuration."""
    f, v = config.fields, config.api_version
    return [
        SoqlStream("accounts", "Account",
                   ("Id", "Name", "BillingCountry", f.legal_entity, "SystemModstamp"),
                   lambda r: map_account(r, f), api_version=v),
        SoqlStream("opportunities", "Opportunity",
                   ("Id", "Name", "AccountId", "Account.Name", "StageName", "Amount",
                    "CurrencyIsoCode", "CloseDate", f.practice, f.legal_entity, "OwnerId",
                    "Owner.Name", f.no_project_required, "SystemModstamp"),
                   lambda r: map_opportunity(r, f), api_version=v),
        SoqlStream("stage_history", "OpportunityFieldHistory",
                   ("Id", "OpportunityId", "Field", "OldValue", "NewValue", "CreatedDate"),
                   lambda r: map_stage_history(r, f), cursor_field="CreatedDate",
                   api_version=v),
        SoqlStream("contracts", "Contract",
                   ("Id", "AccountId", f.contract_opportunity, "Status", f.contract_signed_at,
                    "SystemModstamp"),
                   lambda r: map_contract(r, f), api_version=v),
        SoqlStream("change_orders", f.change_order_object,
                   ("Id", "Opportunity__c", "Project_Code__c", "Amount__c", "CurrencyIsoCode",
                    "Status__c", "Approved_At__c", "SystemModstamp"),
                   lambda r: map_change_order(r, f), api_version=v),
    ]  # fmt: skip


def collector(
    name: str, config: SalesforceConfig, auth: httpx.Auth,
    *, transport: httpx.BaseTransport | None = None,
) -> HttpCollector:  # fmt: skip
    """A Salesforce collector (the demo CRM uses it with its own instance URL)."""
    return HttpCollector(
        name=name, source_system=SYSTEM, streams=streams(config),
        base_url=config.instance_url.rstrip("/") + "/", auth=auth, transport=transport,
        headers={"Sforce-Query-Options": f"batchSize={config.batch_size}"},
    )  # fmt: skip
