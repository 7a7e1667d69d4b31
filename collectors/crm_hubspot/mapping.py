"""HubSpot deals and companies → canonical rows (won: the date a deal entered its won stage)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from collectors.base import Record, optional_timestamp
from collectors.crm_hubspot.config import COMPANIES_KEY, HubSpotFields
from collectors.crm_hubspot.owners import OWNER_KEY
from collectors.errors import MappingError
from collectors.mapping import amount, flag, required_text, text
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
