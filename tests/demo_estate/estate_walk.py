"""Helpers for the demo-estate tests: an authenticated client and one page walker per API."""

from __future__ import annotations

from typing import Any

import httpx

from collectors.demo_estate import DemoEstateServer

TOKEN = "test-token"
SUITEQL = "/erp/services/rest/query/v1/suiteql"
SOQL = "/crm/services/data/v60.0/query"


def authed(server: DemoEstateServer, **options: Any) -> httpx.Client:
    """An httpx client on ``server`` with the bearer token."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    options.setdefault("timeout", 10)
    return httpx.Client(base_url=server.base_url, headers=headers, **options)


def walk_crm(
    client: httpx.Client, soql: str, batch_size: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every record of a SOQL query, following ``nextRecordsUrl``; (records, pages)."""
    headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
    response = client.get(SOQL, params={"q": soql}, headers=headers)
    response.raise_for_status()
    page = response.json()
    records, pages = list(page["records"]), 1
    while not page["done"]:
        response = client.get("/crm" + page["nextRecordsUrl"], headers=headers)
        response.raise_for_status()
        page = response.json()
        records += page["records"]
        pages += 1
    assert len(records) == page["totalSize"]
    return records, pages


def walk_psa(client: httpx.Client, resource: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a PSA resource, following ``next_page_token``."""
    response = client.get(f"/psa/api/v1/{resource}", params=params)
    response.raise_for_status()
    page = response.json()
    records = list(page["data"])
    while page["next_page_token"]:
        response = client.get(
            f"/psa/api/v1/{resource}", params={"page_token": page["next_page_token"]}
        )
        response.raise_for_status()
        page = response.json()
        records += page["data"]
    return records


def walk_erp(client: httpx.Client, q: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Every row of a SuiteQL query, by offset while ``hasMore``."""
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = client.post(
            SUITEQL,
            params={"limit": limit, "offset": offset},
            headers={"Prefer": "transient"},
            json={"q": q},
        )
        response.raise_for_status()
        page = response.json()
        assert page["offset"] == offset and page["count"] == len(page["items"])
        rows += page["items"]
        if not page["hasMore"]:
            assert len(rows) == page["totalResults"]
            return rows
        offset += limit


def walk_ipaas(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every job, following ``next_cursor``."""
    response = client.get("/ipaas/api/v1/jobs", params=params)
    response.raise_for_status()
    page = response.json()
    jobs = list(page["jobs"])
    while page["next_cursor"]:
        response = client.get("/ipaas/api/v1/jobs", params={"cursor": page["next_cursor"]})
        response.raise_for_status()
        page = response.json()
        jobs += page["jobs"]
    return jobs
