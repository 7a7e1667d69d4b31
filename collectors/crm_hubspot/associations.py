"""A deal's associated companies (v4 associations batch read) and their names (companies batch
read), attached to each deal of a page before it is mapped."""

from __future__ import annotations

from typing import Any

import httpx

from collectors.base import Record
from collectors.crm_hubspot.config import COMPANIES_KEY, PRIMARY_COMPANY_TYPE_ID
from collectors.errors import SchemaDrift
from collectors.http import json_body, raise_for_source_status
from collectors.paging import lookup


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    raise_for_source_status(response)
    payload = json_body(response)
    if not isinstance(payload, dict):
        raise SchemaDrift(f"{path} did not answer with a JSON object")
    return payload


def attach_companies(client: httpx.Client, deals: list[Record]) -> None:
    """Put each deal's associated companies (id, name, primary) under ``_companies``."""
    ids = [str(d["id"]) for d in deals if isinstance(d, dict) and d.get("id")]
    links: dict[str, list[tuple[str, bool]]] = {i: [] for i in ids}
    pending: list[dict[str, str]] = [{"id": i} for i in ids]
    while pending:
        payload = _post(
            client, "crm/v4/associations/deals/companies/batch/read", {"inputs": pending}
        )
        pending = []
        for result in payload.get("results") or []:
            source = str(lookup(result, "from.id"))
            for to in result.get("to") or []:
                types = to.get("associationTypes") or []
                primary = any(t.get("typeId") == PRIMARY_COMPANY_TYPE_ID for t in types)
                links.setdefault(source, []).append((str(to.get("toObjectId")), primary))
            after = lookup(result, "paging.next.after")
            if after:
                pending.append({"id": source, "after": str(after)})
    company_ids = sorted({c for pairs in links.values() for c, _ in pairs})
    names: dict[str, str | None] = {}
    for start in range(0, len(company_ids), 100):  # batch endpoints take 100 inputs
        chunk = company_ids[start : start + 100]
        payload = _post(
            client,
            "crm/v3/objects/companies/batch/read",
            {"properties": ["name"], "inputs": [{"id": c} for c in chunk]},
        )
        for company in payload.get("results") or []:
            names[str(company.get("id"))] = lookup(company, "properties.name")
    for deal in deals:
        if isinstance(deal, dict) and deal.get("id"):
            deal[COMPANIES_KEY] = [
                {"id": c, "name": names.get(c), "primary": primary}
                for c, primary in links.get(str(deal["id"]), [])
            ]
