"""Every API pages end to end over a real loopback server, and the records add up to the truth."""

from __future__ import annotations

import hashlib
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from estate_walk import SOQL, SUITEQL, authed, walk_crm, walk_erp, walk_ipaas, walk_psa

from collectors.demo_estate import DemoEstateServer, Estate, ground_truth
from collectors.demo_estate.truth import GroundTruth


@pytest.fixture(scope="module")
def truth(estate: Estate) -> GroundTruth:
    return ground_truth(estate, estate.history_end)


@pytest.fixture(scope="module")
def walked(shared_server: DemoEstateServer) -> dict[str, list[dict[str, Any]]]:
    """Every record of every source, read through the APIs once."""
    out: dict[str, list[dict[str, Any]]] = {}
    with authed(shared_server) as c:
        for sobject, fields, order in (
            ("Account", "Id", "SystemModstamp"),
            ("Opportunity", "Id, Amount", "SystemModstamp"),
            ("OpportunityFieldHistory", "Id, Field, OldValue, NewValue", "CreatedDate"),
            ("Contract", "Id", "SystemModstamp"),
            ("Change_Order__c", "Id, Amount__c", "SystemModstamp"),
        ):
            soql = f"SELECT {fields} FROM {sobject} ORDER BY {order}, Id"
            out[f"crm.{sobject}"], _ = walk_crm(c, soql, batch_size=2000)
        for resource, kind in (
            ("projects", "project"),
            ("time-entries", "time_entry"),
            ("expenses", "expense"),
            ("milestones", "milestone"),
        ):
            out[f"psa.{kind}"] = walk_psa(c, resource, page_size=500)
        out["erp.customer"] = walk_erp(c, "SELECT * FROM customer ORDER BY lastmodifieddate, id")
        for kind in ("CustInvc", "CustCred", "CustPymt"):
            out[f"erp.{kind}"] = walk_erp(
                c, f"SELECT * FROM transaction WHERE type = '{kind}' ORDER BY lastmodifieddate, id"
            )
        out["erp.currencyrate"] = walk_erp(c, "SELECT * FROM currencyrate")
        out["ipaas.job"] = walk_ipaas(c, limit=500)
    return out


def test_walked_record_counts_equal_the_truth(
    walked: dict[str, list[dict[str, Any]]], truth: GroundTruth
) -> None:
    counts = {source: len(rows) for source, rows in walked.items()}
    expected = {k: v for k, v in truth.source_counts.items() if k != "crm.User"}
    assert counts == expected


def test_walked_keys_and_amounts_reproduce_the_truth_checksums(
    walked: dict[str, list[dict[str, Any]]], truth: GroundTruth
) -> None:
    keys: dict[str, list[str]] = {}
    amounts: dict[str, Decimal] = Counter()  # type: ignore[assignment]
    plan = {
        "crm.Account": ("account", "Id", None),
        "crm.Opportunity": ("deal", "Id", "Amount"),
        "crm.Contract": ("contract", "Id", None),
        "crm.Change_Order__c": ("change_order", "Id", "Amount__c"),
        "psa.project": ("project", "id", "budget"),
        "psa.time_entry": ("work_item", "id", "amount"),
        "psa.expense": ("work_item", "id", "amount"),
        "psa.milestone": ("milestone", "id", "amount"),
        "erp.customer": ("account", "id", None),
        "erp.CustInvc": ("invoice", "id", "foreigntotal"),
        "erp.CustCred": ("invoice", "id", "foreigntotal"),
        "erp.CustPymt": ("payment", "id", "foreigntotal"),
    }
    for source, (object_type, key, amount) in plan.items():
        system = source.split(".")[0]
        for row in walked[source]:
            keys.setdefault(object_type, []).append(f"{system}|{row[key]}")
            if amount:
                amounts[object_type] += Decimal(str(row[amount]))
    checksums = {
        t: hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
        for t, lines in keys.items()
    }
    assert checksums == truth.object_keys_checksum
    assert {t: Decimal(v) for t, v in truth.amount_totals.items()} == amounts


def test_walked_stage_history_and_jobs_reproduce_the_truth(
    walked: dict[str, list[dict[str, Any]]], truth: GroundTruth
) -> None:
    history = walked["crm.OpportunityFieldHistory"]
    stage = [h for h in history if h["Field"] == "StageName"]
    assert sum(h["NewValue"] == "Closed Won" for h in stage) == truth.events["deal.won"]
    assert sum(h["NewValue"] == "Closed Lost" for h in stage) == truth.events["deal.lost"]
    jobs = walked["ipaas.job"]
    assert sum(j["status"] == "error" for j in jobs) == truth.sync_attempts_failed
    ids = {j["id"] for j in jobs}
    assert all(j["retry_of"] in ids for j in jobs if j["retry_of"])


def test_psa_pages_are_sorted_by_updated_at_then_id(
    walked: dict[str, list[dict[str, Any]]],
) -> None:
    rows = walked["psa.time_entry"]
    keys = [(r["updated_at"], r["id"]) for r in rows]
    assert keys == sorted(keys)
    assert len(set(r["id"] for r in rows)) == len(rows)


def test_crm_pages_by_200_with_a_relative_next_records_url(client: httpx.Client) -> None:
    first = client.get(SOQL, params={"q": "SELECT Id FROM Opportunity"}).json()
    assert first["done"] is False and len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    records, pages = walk_crm(client, "SELECT Id FROM Opportunity")
    assert pages == -(-first["totalSize"] // 200)
    assert len({r["Id"] for r in records}) == first["totalSize"]
    _, big_pages = walk_crm(client, "SELECT Id FROM Opportunity", batch_size=500)
    assert big_pages == -(-first["totalSize"] // 500)


def test_crm_records_have_salesforce_shape_and_nested_relationships(client: httpx.Client) -> None:
    soql = (
        "SELECT Id, Name, Amount, CloseDate, Owner.Name, Account.Name, LastModifiedDate "
        "FROM Opportunity ORDER BY LastModifiedDate DESC LIMIT 3"
    )
    page = client.get(SOQL, params={"q": soql}).json()
    assert page["totalSize"] == 3 and page["done"] is True and "nextRecordsUrl" not in page
    record = page["records"][0]
    assert record["attributes"] == {
        "type": "Opportunity",
        "url": f"/services/data/v60.0/sobjects/Opportunity/{record['Id']}",
    }
    assert record["Owner"]["attributes"]["type"] == "User" and record["Owner"]["Name"]
    assert record["Account"]["attributes"]["type"] == "Account"
    assert record["LastModifiedDate"].endswith(".000+0000")
    stamps = [r["LastModifiedDate"] for r in page["records"]]
    assert stamps == sorted(stamps, reverse=True)


def test_crm_where_filters_on_the_modstamp(client: httpx.Client, estate: Estate) -> None:
    since = "2026-09-01T00:00:00Z"
    records, _ = walk_crm(
        client,
        f"SELECT Id, SystemModstamp FROM Opportunity WHERE SystemModstamp > {since} "
        "ORDER BY SystemModstamp, Id",
        batch_size=2000,
    )
    expected = sum(
        1
        for _, v in estate.visible("Opportunity", estate.history_end)
        if v.valid_from.isoformat() > "2026-09-01T00:00:00+00:00"
    )
    assert len(records) == expected > 0
    assert all(r["SystemModstamp"] > "2026-09-01T00:00:00.000+0000" for r in records)


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id, Colour__c FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Lead", "INVALID_TYPE"),
        ("SELECT Id FROM Opportunity WHERE Name > 2026-01-01T00:00:00Z", "INVALID_FIELD"),
        (
            "SELECT Id FROM Opportunity WHERE SystemModstamp > '2026-01-01T00:00:00Z'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
    ],
)
def test_crm_bad_queries_get_salesforce_errors(client: httpx.Client, soql: str, code: str) -> None:
    response = client.get(SOQL, params={"q": soql})
    assert response.status_code == 400
    (error,) = response.json()
    assert error["errorCode"] == code and error["message"]


def test_psa_modified_since_is_inclusive(client: httpx.Client) -> None:
    page = client.get("/psa/api/v1/projects", params={"page_size": 50}).json()
    boundary = page["data"][10]["updated_at"]
    rows = walk_psa(client, "projects", modified_since=boundary, page_size=500)
    assert rows[0]["updated_at"] == boundary
    assert all(r["updated_at"] >= boundary for r in rows)
    everything = walk_psa(client, "projects", page_size=500)
    assert len(rows) == sum(r["updated_at"] >= boundary for r in everything)


def test_psa_rejects_page_sizes_over_500(client: httpx.Client) -> None:
    response = client.get("/psa/api/v1/projects", params={"page_size": 501})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_erp_values_are_strings_and_nulls_are_omitted(client: httpx.Client) -> None:
    rows = walk_erp(client, "SELECT * FROM customer ORDER BY lastmodifieddate, id")
    assert all(isinstance(v, str) for row in rows for k, v in row.items() if k != "links")
    assert any("custentity_tax_id" not in row for row in rows)
    assert all(row["links"] == [] for row in rows)


def test_erp_lastmodified_filter_and_default_limit(client: httpx.Client, estate: Estate) -> None:
    q = (
        "SELECT * FROM transaction WHERE lastmodifieddate >= '2026-10-01T00:00:00Z' "
        "ORDER BY lastmodifieddate, id"
    )
    page = client.post(SUITEQL, headers={"Prefer": "transient"}, json={"q": q}).json()
    assert page["count"] == 100 and page["hasMore"] is True
    assert {link["rel"] for link in page["links"]} == {"self", "next"}
    expected = sum(
        1
        for kind in ("CustInvc", "CustCred", "CustPymt")
        for _, v in estate.visible(kind, estate.history_end)
        if v.valid_from.isoformat() >= "2026-10-01T00:00:00+00:00"
    )
    assert page["totalResults"] == expected
    rows = walk_erp(client, q, limit=100)
    assert [r["lastmodifieddate"] for r in rows] == sorted(r["lastmodifieddate"] for r in rows)


@pytest.mark.parametrize(
    ("params", "headers", "body"),
    [
        ({}, {}, {"q": "SELECT * FROM customer"}),
        ({"limit": 1001}, {"Prefer": "transient"}, {"q": "SELECT * FROM customer"}),
        ({"limit": 100, "offset": 50}, {"Prefer": "transient"}, {"q": "SELECT * FROM customer"}),
        ({}, {"Prefer": "transient"}, {"q": "SELECT * FROM salesorder"}),
        ({}, {"Prefer": "transient"}, {"q": "SELECT colour FROM customer"}),
        ({}, {"Prefer": "transient"}, {"query": "SELECT * FROM customer"}),
    ],
)
def test_erp_bad_requests_get_netsuite_errors(
    client: httpx.Client, params: dict[str, Any], headers: dict[str, str], body: dict[str, str]
) -> None:
    response = client.post(SUITEQL, params=params, headers=headers, json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["status"] == 400 and error["title"] == "Bad Request"
    assert error["o:errorDetails"][0]["o:errorCode"] in ("INVALID_PARAMETER", "INVALID_HEADER")


def test_ipaas_updated_after_is_exclusive(client: httpx.Client) -> None:
    page = client.get("/ipaas/api/v1/jobs", params={"limit": 20}).json()
    boundary = page["jobs"][5]["updated_at"]
    after = client.get("/ipaas/api/v1/jobs", params={"updated_after": boundary}).json()
    assert all(j["updated_at"] > boundary for j in after["jobs"])
    assert (
        after["jobs"][0]["id"] == next(j for j in page["jobs"] if j["updated_at"] > boundary)["id"]
    )
