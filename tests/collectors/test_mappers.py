"""Pure mappers: vendor payloads in their documented shapes → canonical rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from collectors.base import parse_timestamp
from collectors.crm_salesforce import (
    SalesforceFields,
    map_contract,
    map_opportunity,
    map_stage_history,
)
from collectors.erp_netsuite import NetSuiteFields, map_currency_rate, map_invoice, map_payment
from collectors.errors import MappingError
from collectors.ipaas_jobs import map_job
from collectors.psa_rest import PsaFields, map_project, map_work_item
from store.canonical import (
    Activity,
    ErrorClass,
    LinkQualifier,
    ObjectType,
    SyncStatus,
    object_id,
)

SF = SalesforceFields()
NS = NetSuiteFields()
PSA = PsaFields()

OPPORTUNITY = {
    "attributes": {"type": "Opportunity", "url": "/services/data/v60.0/sobjects/Opportunity/006"},
    "Id": "006Dn000004Xy1AAQ",
    "Name": "Acme data platform",
    "AccountId": "001Dn00000A1bcDEF",
    "Account": {"attributes": {"type": "Account"}, "Name": "Acme GmbH"},
    "StageName": "Closed Won",
    "Amount": 120000.5,
    "CurrencyIsoCode": "EUR",
    "CloseDate": "2026-02-27",
    "Practice__c": "Data & AI",
    "Legal_Entity__c": "DE",
    "OwnerId": "005Dn0000001",
    "Owner": {"attributes": {"type": "User"}, "Name": "Jana Roth"},
    "No_Project_Required__c": False,
    "SystemModstamp": "2026-03-02T09:30:00.000+0000",
}


def test_an_opportunity_becomes_a_deal_with_its_dimensions() -> None:
    (deal,) = map_opportunity(OPPORTUNITY, SF).objects
    assert (deal.type, deal.source_system, deal.source_key) == (
        ObjectType.DEAL,
        "crm",
        "006Dn000004Xy1AAQ",
    )
    assert (deal.customer, deal.legal_entity, deal.practice, deal.owner) == (
        "Acme GmbH",
        "DE",
        "Data & AI",
        "Jana Roth",
    )
    assert deal.amount == Decimal("120000.5") and deal.currency == "EUR"
    assert deal.source_updated_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert deal.attributes["no_project_required"] is False


@pytest.mark.parametrize(
    ("old", "new", "activity"),
    [
        ("Negotiation", "Closed Won", Activity.DEAL_WON),
        ("Proposal", "Closed Lost", Activity.DEAL_LOST),
        ("Closed Won", "Negotiation", Activity.DEAL_REOPENED),
        ("Closed Lost", "Proposal", Activity.DEAL_REOPENED),
        ("Prospecting", "Proposal", None),
    ],
)
def test_stage_history_rows_become_won_lost_reopened_events(
    old: str, new: str, activity: Activity | None
) -> None:
    row = {
        "Id": "017Dn0001",
        "OpportunityId": "006X",
        "Field": "StageName",
        "OldValue": old,
        "NewValue": new,
        "CreatedDate": "2026-03-02T10:00:00.000+0000",
    }
    events = map_stage_history(row, SF).events
    assert [e.activity for e in events] == ([activity] if activity else [])
    if activity:
        assert events[0].occurred_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
        assert events[0].objects[0].object_id == object_id("crm", ObjectType.DEAL, "006X")


def test_a_contract_links_its_deal_and_is_signed_when_signed() -> None:
    row = {
        "Id": "800Dn01",
        "AccountId": "001A",
        "Opportunity__c": "006X",
        "Status": "Activated",
        "Signed_At__c": "2026-03-03T08:00:00.000+0000",
        "SystemModstamp": "2026-03-03T08:00:00.000+0000",
    }
    batch = map_contract(row, SF)
    assert [e.activity for e in batch.events] == [Activity.CONTRACT_SIGNED]
    assert [(lk.qualifier, lk.from_key, lk.to_key) for lk in batch.links] == [
        (LinkQualifier.CONTRACTED_BY, "006X", "800Dn01")
    ]


def test_a_project_records_its_deal_link_creation_and_touchless_flag() -> None:
    row = {
        "id": "PRJ-00042",
        "name": "Acme platform",
        "customer_id": "C-0042",
        "customer_name": "Acme GmbH",
        "legal_entity": "DE",
        "practice": "Data & AI",
        "manager": "Ola Berg",
        "crm_opportunity_id": "006X",
        "billing_type": "T&M",
        "budget": "120000.00",
        "currency": "EUR",
        "status": "active",
        "created_at": "2026-03-03T11:00:00Z",
        "created_by": "svc-integration",
        "activated_at": "2026-03-05T09:00:00Z",
        "updated_at": "2026-03-05T09:00:00Z",
    }
    batch = map_project(row, PSA)
    (project,) = batch.objects
    assert project.attributes["touchless"] is True and project.amount == Decimal("120000.00")
    assert [e.activity for e in batch.events] == [
        Activity.PROJECT_CREATED,
        Activity.PROJECT_ACTIVATED,
    ]
    assert {o.qualifier for o in batch.events[0].objects} == {"project", "deal"}
    assert [(lk.qualifier, lk.from_system, lk.from_key) for lk in batch.links] == [
        (LinkQualifier.PROVISIONS, "crm", "006X")
    ]


def test_a_billed_time_entry_links_project_and_invoice() -> None:
    row = {
        "id": "TE-0000001",
        "project_id": "PRJ-00042",
        "person": "Ann Lee",
        "work_date": "2026-03-09",
        "hours": 7.5,
        "rate": "180.00",
        "amount": "1350.00",
        "currency": "EUR",
        "billable": True,
        "status": "approved",
        "submitted_at": "2026-03-13T17:00:00Z",
        "approved_at": "2026-03-16T09:00:00Z",
        "written_off_at": None,
        "invoice_id": "9001",
        "updated_at": "2026-04-01T10:00:00Z",
    }
    batch = map_work_item(row, PSA, "time")
    assert batch.objects[0].amount == Decimal("1350.00")
    assert [e.activity for e in batch.events] == [Activity.WORK_LOGGED, Activity.WORK_APPROVED]
    assert {(lk.qualifier, lk.to_system, lk.to_key) for lk in batch.links} == {
        (LinkQualifier.PART_OF, "psa", "PRJ-00042"),
        (LinkQualifier.BILLED_ON, "erp", "9001"),
    }


def test_a_reissued_invoice_links_back_to_the_voided_one() -> None:
    row = {
        "links": [],
        "id": "9002",
        "tranid": "INV-DE-000002",
        "entity": "C-0042",
        "subsidiary": "DE",
        "currency": "EUR",
        "foreigntotal": "1350.00",
        "trandate": "2026-04-01",
        "createddate": "2026-04-01T08:00:00Z",
        "lastmodifieddate": "2026-04-02T08:00:00Z",
        "status": "Open",
        "custbody_tl_posted_at": "2026-04-02T08:00:00Z",
        "custbody_tl_project_code": "PRJ-00042",
        "custbody_tl_replaces": "9001",
    }
    batch = map_invoice(row, NS)
    assert [e.activity for e in batch.events] == [Activity.INVOICE_CREATED, Activity.INVOICE_POSTED]
    assert {(lk.qualifier, lk.from_key, lk.to_key) for lk in batch.links} == {
        (LinkQualifier.BILLS, "9002", "PRJ-00042"),
        (LinkQualifier.REISSUED_AS, "9001", "9002"),
    }


def test_a_payment_settles_its_invoice() -> None:
    row = {
        "id": "7001",
        "tranid": "PYMT-1",
        "entity": "C-0042",
        "currency": "EUR",
        "foreigntotal": "1350.00",
        "trandate": "2026-05-01",
        "createddate": "2026-05-01T12:00:00Z",
        "lastmodifieddate": "2026-05-01T12:00:00Z",
        "custbody_tl_applied_invoice": "9002",
    }
    batch = map_payment(row, NS)
    assert batch.events[0].activity is Activity.PAYMENT_RECEIVED
    assert batch.links[0].qualifier is LinkQualifier.SETTLED_BY


def test_a_currency_rate_becomes_an_fx_row_and_a_bad_rate_is_refused() -> None:
    row = {
        "id": "1",
        "basecurrency": "USD",
        "transactioncurrency": "GBP",
        "exchangerate": "1.2675",
        "effectivedate": "2026-03-02",
        "lastmodifieddate": "2026-03-02T00:00:00Z",
    }
    (fx,) = map_currency_rate(row).fx_rates
    assert (fx.day, fx.base, fx.quote, fx.rate) == (
        date(2026, 3, 2),
        "GBP",
        "USD",
        Decimal("1.2675"),
    )
    with pytest.raises(MappingError, match="exchangerate must be a positive number"):
        map_currency_rate({**row, "exchangerate": "-1"})


def test_a_failed_job_becomes_a_classified_attempt_with_a_signature() -> None:
    row = {
        "id": "J-000123",
        "integration": "crm-psa",
        "flow": "project_provisioning",
        "direction": "outbound",
        "status": "error",
        "attempt": 2,
        "retry_of": "J-000100",
        "correlation_id": "corr-006X",
        "started_at": "2026-03-02T10:00:00Z",
        "finished_at": "2026-03-02T10:00:01Z",
        "duration_ms": 1200,
        "error": {
            "code": "VALIDATION",
            "http_status": 422,
            "message": "Customer 'C-0042' has no tax id (VAT) on record 8812",
        },
        "record": {"system": "crm", "type": "opportunity", "id": "006X"},
        "payload": {"tax_id": None, "email": "ap@acme.example"},
        "updated_at": "2026-03-02T10:00:01Z",
    }
    (attempt,) = map_job(row).sync_attempts
    assert attempt.status is SyncStatus.FAILED and attempt.error_class is ErrorClass.VALIDATION
    assert attempt.error_signature == "Customer <value> has no tax id (VAT) on record <n>"
    assert attempt.attempt_number == 2 and attempt.retry_of_key == "J-000100"
    assert attempt.object_id == object_id("crm", ObjectType.DEAL, "006X")


@pytest.mark.parametrize(
    ("mapper", "record", "reason"),
    [
        (
            lambda r: map_opportunity(r, SF),
            {**OPPORTUNITY, "Amount": "abc"},
            "Amount is not a number",
        ),
        (
            lambda r: map_opportunity(r, SF),
            {**OPPORTUNITY, "Amount": 1e20},
            "Amount is out of range",
        ),
        (
            lambda r: map_opportunity(r, SF),
            {k: v for k, v in OPPORTUNITY.items() if k != "Id"},
            "Id is missing",
        ),
        (
            lambda r: map_opportunity(r, SF),
            {**OPPORTUNITY, "SystemModstamp": "2026-03-02T09:30"},
            "SystemModstamp has no timezone",
        ),
        (map_job, {"id": "J1", "status": "exploded"}, "status is not one of"),
    ],
)
def test_malformed_records_raise_a_mapping_error_with_a_reason(
    mapper: object, record: dict[str, object], reason: str
) -> None:
    with pytest.raises(MappingError, match=reason):
        mapper(record)  # type: ignore[operator]


@pytest.mark.parametrize(
    "value", ["2026-03-02T09:30:00.000+0000", "2026-03-02T09:30:00Z", "2026-03-02T10:30:00+01:00"]
)
def test_source_timestamp_shapes_parse_to_the_same_utc_instant(value: str) -> None:
    assert parse_timestamp(value, "t") == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
