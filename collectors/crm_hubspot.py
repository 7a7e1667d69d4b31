"""HubSpot CRM v3: deals (won time = the date a deal entered its closed-won stage) and companies.

API: https://developers.hubspot.com/docs/api/crm/search (``POST /crm/v3/objects/{deals|companies}
/search``), associations https://developers.hubspot.com/docs/api/crm/associations (``POST
/crm/v4/associations/deals/companies/batch/read``) and ``POST /crm/v3/objects/companies/batch/read``
for the associated companies' names. Auth: a private-app access token as a bearer token.

Paging: the search body's ``after`` ← ``paging.next.after``; no ``paging`` on the last page.
Order: filtered on ``hs_lastmodifieddate`` ≥ the cursor (milliseconds since the epoch) and sorted
ascending by it, so the streams are sorted by their cursor (the record's ``updatedAt``). Search
returns at most 10,000 results per query: past that the walk starts a new query from the newest
``hs_lastmodifieddate`` it has read (boundary duplicates are absorbed by the upsert). New writes
take a few seconds to reach the search index, hence the look-back. Limits: 100 requests per 10 s
per account and about 5 search requests per second; 429s are retried by the shared client.

Won time: HubSpot's stage-calculated property ``hs_v2_date_entered_<stage id>`` (the legacy
``hs_date_entered_<stage id>`` was sunset) of the won stage(s) — never the editable close date. A
deal whose current stage is open but that has left a closed stage (``hs_v2_date_exited_…``) was
reopened then. Which property carries the PSA project code is configuration.

Owners: a deal's ``hubspot_owner_id`` is resolved to the owner's name (else email) through the
owners API, read once a run (`collectors.crm_hubspot_owners`); an owner the API does not list
(deactivated, or unknown) stays its id, kept in the deal's attributes either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.crm_hubspot_owners import OWNER_KEY, OwnerDirectory
from collectors.errors import MappingError, SchemaDrift
from collectors.http import json_body, raise_for_source_status
from collectors.mapping import amount, flag, required_text, text
from collectors.page_checks import PageContract
from collectors.paging import PageTokenPaginator, iter_walk, lookup
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

LOOKBACK = timedelta(minutes=5)
SEARCH_RESULT_CAP = 10_000
#: HubSpot's association type id of a deal's primary company (category HUBSPOT_DEFINED).
PRIMARY_COMPANY_TYPE_ID = 5
COMPANIES_KEY = "_companies"  # where the fetch puts a deal's associated companies


@dataclass(frozen=True)
class HubSpotFields:
    """Which pipeline stages close a deal, and which (custom) properties carry what."""

    won_stages: frozenset[str] = frozenset({"closedwon"})
    lost_stages: frozenset[str] = frozenset({"closedlost"})
    date_entered_prefix: str = "hs_v2_date_entered_"
    date_exited_prefix: str = "hs_v2_date_exited_"
    project_code: str | None = None  # deal property holding the PSA project code
    practice: str | None = None
    legal_entity: str | None = None
    no_project_required: str | None = None
    company_legal_entity: str | None = None
    project_system: str = "psa"

    @property
    def closed_stages(self) -> frozenset[str]:
        return self.won_stages | self.lost_stages

    def deal_properties(self) -> list[str]:
        """The properties the deals search asks for."""
        stage_props = [
            f"{prefix}{stage}"
            for stage in sorted(self.closed_stages)
            for prefix in (self.date_entered_prefix, self.date_exited_prefix)
        ]
        custom = [self.project_code, self.practice, self.legal_entity, self.no_project_required]
        return [
            "dealname",
            "amount",
            "deal_currency_code",
            "dealstage",
            "pipeline",
            "closedate",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            *stage_props,
            *(c for c in custom if c),
        ]

    def company_properties(self) -> list[str]:
        extra = [self.company_legal_entity] if self.company_legal_entity else []
        return ["name", "domain", "country", "hs_lastmodifieddate", *extra]


def _props(r: Record) -> dict[str, Any]:
    props = r.get("properties")
    if not isinstance(props, dict):
        raise MappingError("properties should be an object")
    return props


def _at(props: Mapping[str, Any], name: str) -> datetime | None:
    try:
        return optional_timestamp(dict(props), name)
    except MappingError:
        value = props.get(name)
        if isinstance(value, str) and value.isdigit():  # some date properties come as epoch ms
            try:
                return datetime.fromtimestamp(int(value) / 1000, UTC)
            except (ValueError, OverflowError, OSError) as exc:
                raise MappingError(f"{name} is not a valid timestamp: {value!r:.40}") from exc
        raise


def _modified_at(r: Record, props: Mapping[str, Any]) -> datetime | None:
    return _at(props, "hs_lastmodifieddate") or optional_timestamp(r, "updatedAt")


def _deal_ref(system: str, key: str) -> EventObject:
    return EventObject(system, ObjectType.DEAL, key, "deal")


def map_deal(r: Record, f: HubSpotFields, system: str = "crm") -> Batch:
    """A deal → `deal` object; `deal.won`/`deal.lost` when it entered a closed stage; reopen."""
    key = required_text(r, "id")
    p = _props(r)
    companies = r.get(COMPANIES_KEY) or []
    if not isinstance(companies, list):
        raise MappingError(f"{COMPANIES_KEY} should be a list")
    primary = next((c for c in companies if c.get("primary")), companies[0] if companies else {})
    stage = text(p, "dealstage")
    project = text(p, f.project_code) if f.project_code else None
    owner_id = text(p, "hubspot_owner_id")
    resolved = r.get(OWNER_KEY)
    owner: Record = resolved if isinstance(resolved, dict) else {}
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.DEAL,
                source_system=system,
                source_key=key,
                customer=text(primary, "name") or text(primary, "id"),
                legal_entity=text(p, f.legal_entity) if f.legal_entity else None,
                practice=text(p, f.practice) if f.practice else None,
                owner=text(owner, "label") or owner_id,
                currency=text(p, "deal_currency_code"),
                amount=amount(p, "amount"),
                attributes={
                    "name": text(p, "dealname"),
                    "stage": stage,
                    "pipeline": text(p, "pipeline"),
                    "account_id": text(primary, "id"),
                    "close_date": text(p, "closedate"),
                    "project_code": project,
                    "owner_id": owner_id,
                    "no_project_required": flag(p, f.no_project_required)
                    if f.no_project_required
                    else False,
                },
                source_updated_at=_modified_at(r, p),
            )
        ]
    )
    related = [_deal_ref(system, key)]
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                system,
                ObjectType.DEAL,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PROVISIONS,
                system,
            )
        )
    closing = ((f.won_stages, Activity.DEAL_WON), (f.lost_stages, Activity.DEAL_LOST))
    for stages, activity in closing:
        for closed in sorted(stages):
            entered = _at(p, f"{f.date_entered_prefix}{closed}")
            if entered is not None:
                batch.events.append(
                    EventRow(activity, entered, system, key, tuple(related), {"to": closed})
                )
    if stage is not None and stage not in f.closed_stages:
        exits = [
            (at, closed)
            for closed in sorted(f.closed_stages)
            if (at := _at(p, f"{f.date_exited_prefix}{closed}")) is not None
        ]
        if exits:
            at, closed = max(exits)
            batch.events.append(
                EventRow(Activity.DEAL_REOPENED, at, system, key, tuple(related), {"from": closed})
            )
    return batch


def map_company(r: Record, f: HubSpotFields, system: str = "crm") -> Batch:
    """A company → `account` object."""
    p = _props(r)
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT,
                source_system=system,
                source_key=required_text(r, "id"),
                customer=text(p, "name"),
                legal_entity=text(p, f.company_legal_entity) if f.company_legal_entity else None,
                region=text(p, "country"),
                attributes={"name": text(p, "name"), "domain": text(p, "domain")},
                source_updated_at=_modified_at(r, p),
            )
        ]
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


@dataclass(frozen=True)
class HubSpotConfig:
    """Where the API lives (``https://api.hubapi.com``), the system name and the field mapping."""

    base_url: str = "https://api.hubapi.com"
    fields: HubSpotFields = field(default_factory=HubSpotFields)
    system: str = "crm"
    limit: int = 100
    max_results: int = SEARCH_RESULT_CAP


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
