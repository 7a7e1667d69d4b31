"""The CRM search streams: ascending by ``hs_lastmodifieddate``, paged by ``paging.next.after``,
restarted from the newest time read past the search's 10,000-result cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.crm_hubspot.associations import attach_companies
from collectors.crm_hubspot.config import LOOKBACK, SEARCH_RESULT_CAP, HubSpotConfig, HubSpotFields
from collectors.crm_hubspot.mapping import map_company, map_deal
from collectors.crm_hubspot.owners import OwnerDirectory
from collectors.errors import MappingError, SchemaDrift
from collectors.page_checks import PageContract
from collectors.paging import PageTokenPaginator, iter_walk, lookup
from store.canonical import (
    Batch,
)


def _millis(at: datetime) -> str:
    return str(int(at.astimezone(UTC).timestamp() * 1000))


@dataclass(frozen=True)
class SearchStream:
    """One CRM object read through the search endpoint, ascending by ``hs_lastmodifieddate``."""

    name: str
    object_type: str
    properties: tuple[str, ...]
    system: str
    fields: HubSpotFields
    limit: int = 100
    max_results: int = SEARCH_RESULT_CAP
    with_companies: bool = False
    with_owners: bool = False  # resolve hubspot_owner_id through the owners API
    primary_key: str = "id"
    cursor_field: str = "updatedAt"
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK

    def body(self, since: datetime | None) -> dict[str, Any]:
        """The search request body for records modified at or after ``since``."""
        body: dict[str, Any] = {
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": list(self.properties),
            "limit": self.limit,
        }
        if since is not None:
            body["filterGroups"] = [
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": _millis(since),
                        }
                    ]
                }
            ]
        return body

    def pages(self, since: datetime | None) -> PageContract:
        """Every page of one search: `total` for the whole search, at most `limit` results,
        none modified before the filter (whole milliseconds), none read twice."""
        floor = datetime.fromtimestamp(int(_millis(since)) / 1000, UTC) if since else None
        return PageContract(
            self.name,
            "results",
            key=self.primary_key,
            version=self.cursor_field,
            total="total",
            limit=self.limit,
            floor=("properties.hs_lastmodifieddate", floor) if floor else None,
        )

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        path = f"crm/v3/objects/{self.object_type}/search"
        since = window.since
        owners = OwnerDirectory(client) if self.with_owners else None  # read once a run
        while True:
            read, newest, restart = 0, None, False
            paginator = PageTokenPaginator("paging.next.after", "after", in_body=True)
            pages = iter_walk(
                client, paginator, "POST", path, self.pages(since), json=self.body(since)
            )
            for payload, results in pages:
                if self.with_companies and results:
                    attach_companies(client, results)
                if owners is not None and results:
                    owners.attach(results)
                yield results
                read += len(results)
                newest = max([newest, *(_modified(r) for r in results)], key=_order)
                if read + self.limit > self.max_results and lookup(payload, "paging.next.after"):
                    restart = True
                    break
            if not restart:
                return
            if newest is None or (since is not None and newest <= since):
                raise SchemaDrift(
                    f"more than {self.max_results} {self.object_type} share one"
                    " hs_lastmodifieddate; the search cannot page past them"
                )
            since = newest

    def map(self, record: Record) -> Batch:
        if self.object_type == "deals":
            return map_deal(record, self.fields, self.system)
        return map_company(record, self.fields, self.system)


def _modified(r: Any) -> datetime | None:
    try:
        return optional_timestamp(r, "updatedAt") if isinstance(r, dict) else None
    except MappingError:
        return None


def _order(at: datetime | None) -> datetime:
    return at or datetime.min.replace(tzinfo=UTC)


def streams(config: HubSpotConfig) -> list[SearchStream]:
    """Companies, then deals (with their associated companies and owners)."""
    f, s, n, cap = config.fields, config.system, config.limit, config.max_results
    return [
        SearchStream("companies", "companies", tuple(f.company_properties()), s, f, n, cap),
        SearchStream(
            "deals",
            "deals",
            tuple(f.deal_properties()),
            s,
            f,
            n,
            cap,
            with_companies=True,
            with_owners=True,
        ),
    ]


def collector(
    name: str,
    config: HubSpotConfig,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """A HubSpot collector (auth: ``BearerAuth(private_app_token)``)."""
    return HttpCollector(
        name=name,
        source_system=config.system,
        streams=streams(config),
        base_url=config.base_url.rstrip("/") + "/",
        auth=auth,
        transport=transport,
    )
