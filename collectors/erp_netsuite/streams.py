"""The ERP streams of one account (sharing one run's id lookups) and its collector."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from collectors.base import HttpCollector, Record
from collectors.erp_netsuite.config import SYSTEM, NetSuiteConfig, columns_of
from collectors.erp_netsuite.lookups import Lookups
from collectors.erp_netsuite.mapping import (
    map_currency_rate,
    map_customer,
    map_invoice,
    map_job,
    map_payment,
    map_timebill,
)
from collectors.erp_netsuite.suiteql import SuiteQLStream
from store.canonical import (
    Batch,
)


def streams(config: NetSuiteConfig) -> list[SuiteQLStream]:
    """The ERP streams, each with the columns its mapper reads (sharing one run's lookups)."""
    f = config.fields
    lookups = Lookups(config.legal_entities, config.entities)

    def stream(
        name: str,
        table: str,
        mapper: Callable[[Record], Batch],
        columns: tuple[str, ...],
        dates: tuple[str, ...] = (),
        datetimes: tuple[str, ...] = ("lastmodifieddate",),
        kind: str | None = None,
    ) -> SuiteQLStream:
        return SuiteQLStream(
            name,
            table,
            mapper,
            columns,
            dates,
            datetimes,
            kind,
            config.timezone,
            config.limit,
            lookups,
        )

    invoice = columns_of(
        "id",
        "tranid",
        "entity",
        "subsidiary",
        "currency",
        "foreigntotal",
        "status",
        f.project_code,
        f.billing_type,
        f.milestone,
        f.replaces,
        f.credits,
    )
    invoice_dates = columns_of("trandate", f.period_end)
    invoice_times = columns_of(
        "createddate", f.posted_at, f.sent_at, f.voided_at, "lastmodifieddate"
    )
    payment = columns_of("id", "tranid", "entity", "currency", "foreigntotal", f.applied_invoice)
    created = ("createddate", "lastmodifieddate")
    return [
        stream(
            "customers",
            "customer",
            lambda r: map_customer(r, f),
            columns_of("id", "entityid", "companyname", "subsidiary", "currency", f.tax_id),
        ),
        stream(
            "invoices",
            "transaction",
            lambda r: map_invoice(r, f),
            invoice,
            invoice_dates,
            invoice_times,
            "CustInvc",
        ),
        stream(
            "credit_notes",
            "transaction",
            lambda r: map_invoice(r, f, "credit_note"),
            invoice,
            invoice_dates,
            invoice_times,
            "CustCred",
        ),
        stream(
            "payments",
            "transaction",
            lambda r: map_payment(r, f),
            payment,
            ("trandate",),
            created,
            "CustPymt",
        ),
        stream(
            "currency_rates",
            "currencyrate",
            map_currency_rate,
            ("id", "basecurrency", "transactioncurrency", "exchangerate"),
            ("effectivedate",),
        ),
        *(
            [
                stream(
                    "projects",
                    "job",
                    lambda r: map_job(r, f),
                    columns_of(
                        "id",
                        "entityid",
                        "companyname",
                        "parent",
                        "subsidiary",
                        "currency",
                        "entitystatus",
                        "projectmanager",
                        "createdby",
                        f.job_opportunity,
                    ),
                    ("startdate",),
                    ("datecreated", "lastmodifieddate"),
                ),
                stream(
                    "time_bills",
                    "timebill",
                    lambda r: map_timebill(r, f),
                    columns_of(
                        "id",
                        "employee",
                        "customer",
                        "subsidiary",
                        "hours",
                        "isbillable",
                        "approvalstatus",
                        f.timebill_invoice,
                    ),
                    ("trandate",),
                    columns_of("datecreated", f.timebill_approved_at, "lastmodifieddate"),
                ),
            ]
            if config.projects
            else []
        ),
    ]


def collector(
    name: str,
    config: NetSuiteConfig,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """A NetSuite SuiteQL collector."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=streams(config),
        base_url=config.base_url.rstrip("/") + "/",
        auth=auth,
        transport=transport,
        headers={"Prefer": "transient"},
    )
