"""The SOQL streams: one sObject each, sorted by its cursor and paged by `nextRecordsUrl`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record
from collectors.crm_salesforce.config import SYSTEM, SalesforceConfig
from collectors.crm_salesforce.mapping import (
    map_account,
    map_change_order,
    map_contract,
    map_invoice_object,
    map_opportunity,
    map_project_object,
    map_stage_history,
)
from collectors.page_checks import PageContract
from collectors.paging import NextUrlPaginator, iter_records
from store.canonical import (
    Batch,
)

LOOKBACK = timedelta(minutes=5)


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
