"""PSA REST API (the demo estate's project system): projects, time, expenses, milestones.

Endpoints: `GET /api/v1/{projects|time-entries|expenses|milestones}?modified_since=<ISO>
&page_size=<≤500>&page_token=<opaque>` → `{"data": [...], "next_page_token": …}`, sorted by
(`updated_at`, `id`) ascending, `modified_since` inclusive. Rate limit: per-token requests per
second, answered with 429 and `Retry-After`. The CRM opportunity id on a project is the
cross-system identity of the deal → project handoff (configurable field).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.mapping import amount, flag, required_text, text
from collectors.page_checks import PageContract
from collectors.paging import PageTokenPaginator, iter_records
from collectors.spec import ConnectorSpec, Context
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

SYSTEM = "psa"
LOOKBACK = timedelta(minutes=5)


@dataclass(frozen=True)
class PsaFields:
    """Cross-system identity and the integration user, configurable per firm."""

    crm_opportunity_id: str = "crm_opportunity_id"
    crm_system: str = "crm"
    erp_system: str = "erp"
    integration_users: frozenset[str] = frozenset({"svc-integration"})


@dataclass(frozen=True)
class PsaStream:
    """One PSA collection endpoint."""

    name: str
    path: str
    mapper: Callable[[Record], Batch]
    page_size: int = 200
    primary_key: str = "id"
    cursor_field: str = "updated_at"
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        params: dict[str, str | int] = {"page_size": self.page_size}
        if window.since is not None:
            params["modified_since"] = window.since.astimezone(UTC).isoformat()
        paginator = PageTokenPaginator("next_page_token", "page_token")
        pages = PageContract(
            self.name,
            "data",
            key=self.primary_key,
            version=self.cursor_field,
            limit=self.page_size,
            floor=(self.cursor_field, window.since) if window.since is not None else None,
        )
        yield from iter_records(client, paginator, "GET", self.path, pages, params=params)

    def map(self, record: Record) -> Batch:
        return self.mapper(record)


def _project_ref(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.PROJECT, key, "project")


def map_project(r: Record, f: PsaFields) -> Batch:
    """Project → object, `project.created` / `project.activated`, deal → project `provisions`."""
    key = required_text(r, "id")
    opportunity = text(r, f.crm_opportunity_id)
    created_by = text(r, "created_by")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PROJECT,
                source_system=SYSTEM,
                source_key=key,
                customer=text(r, "customer_name"),
                legal_entity=text(r, "legal_entity"),
                practice=text(r, "practice"),
                owner=text(r, "manager"),
                currency=text(r, "currency"),
                amount=amount(r, "budget"),
                attributes={
                    "name": text(r, "name"),
                    "billing_type": text(r, "billing_type"),
                    "status": text(r, "status"),
                    "customer_id": text(r, "customer_id"),
                    "crm_opportunity_id": opportunity,
                    "created_by": created_by,
                    "touchless": created_by in f.integration_users,
                },
                source_updated_at=optional_timestamp(r, "updated_at"),
            )
        ]
    )
    related = [_project_ref(key)]
    if opportunity:
        related.append(EventObject(f.crm_system, ObjectType.DEAL, opportunity, "deal"))
        batch.links.append(
            LinkRow(
                f.crm_system,
                ObjectType.DEAL,
                opportunity,
                SYSTEM,
                ObjectType.PROJECT,
                key,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.PROJECT_CREATED, "created_at"),
        (Activity.PROJECT_ACTIVATED, "activated_at"),
    ):
        at = optional_timestamp(r, column)
        if at is not None:
            batch.events.append(
                EventRow(
                    activity,
                    at,
                    SYSTEM,
                    key,
                    tuple(related),
                    {"by": created_by} if activity is Activity.PROJECT_CREATED else {},
                )
            )
    return batch


def map_work_item(r: Record, f: PsaFields, kind: str) -> Batch:
    """Time entry or expense → `work_item`, its logged/approved/written-off events and links."""
    key = required_text(r, "id")
    project = required_text(r, "project_id")
    invoice = text(r, "invoice_id")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.WORK_ITEM,
                source_system=SYSTEM,
                source_key=key,
                owner=text(r, "person"),
                currency=text(r, "currency"),
                amount=amount(r, "amount"),
                attributes={
                    "kind": kind,
                    "project_id": project,
                    "work_date": text(r, "work_date") or text(r, "expense_date"),
                    "hours": str(amount(r, "hours")) if r.get("hours") is not None else None,
                    "billable": flag(r, "billable"),
                    "status": text(r, "status"),
                    "invoice_id": invoice,
                    "category": text(r, "category"),
                },
                source_updated_at=optional_timestamp(r, "updated_at"),
            )
        ],
        links=[
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PART_OF,
                SYSTEM,
            )
        ],
    )
    if invoice:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                f.erp_system,
                ObjectType.INVOICE,
                invoice,
                LinkQualifier.BILLED_ON,
                SYSTEM,
            )
        )
    related = (EventObject(SYSTEM, ObjectType.WORK_ITEM, key, "work_item"), _project_ref(project))
    for activity, column in (
        (Activity.WORK_LOGGED, "submitted_at"),
        (Activity.WORK_APPROVED, "approved_at"),
        (Activity.WORK_WRITTEN_OFF, "written_off_at"),
    ):
        at = optional_timestamp(r, column)
        if at is not None:
            batch.events.append(EventRow(activity, at, SYSTEM, key, related))
    return batch


def map_milestone(r: Record, f: PsaFields) -> Batch:
    """Milestone → object, `milestone.accepted`, milestone → project `part_of`."""
    key = required_text(r, "id")
    project = required_text(r, "project_id")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.MILESTONE,
                source_system=SYSTEM,
                source_key=key,
                currency=text(r, "currency"),
                amount=amount(r, "amount"),
                attributes={
                    "name": text(r, "name"),
                    "status": text(r, "status"),
                    "project_id": project,
                },
                source_updated_at=optional_timestamp(r, "updated_at"),
            )
        ],
        links=[
            LinkRow(
                SYSTEM,
                ObjectType.MILESTONE,
                key,
                SYSTEM,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PART_OF,
                SYSTEM,
            )
        ],
    )
    accepted = optional_timestamp(r, "accepted_at")
    if accepted is not None:
        batch.events.append(
            EventRow(
                Activity.MILESTONE_ACCEPTED,
                accepted,
                SYSTEM,
                key,
                (
                    EventObject(SYSTEM, ObjectType.MILESTONE, key, "milestone"),
                    _project_ref(project),
                ),
            )
        )
    return batch


@dataclass(frozen=True)
class PsaConfig:
    """Where the PSA API lives and how its fields are read."""

    base_url: str
    fields: PsaFields = field(default_factory=PsaFields)
    page_size: int = 200


def streams(config: PsaConfig) -> list[PsaStream]:
    """The PSA streams."""
    f, n = config.fields, config.page_size
    return [
        PsaStream("projects", "api/v1/projects", lambda r: map_project(r, f), n),
        PsaStream("time_entries", "api/v1/time-entries", lambda r: map_work_item(r, f, "time"), n),
        PsaStream("expenses", "api/v1/expenses", lambda r: map_work_item(r, f, "expense"), n),
        PsaStream("milestones", "api/v1/milestones", lambda r: map_milestone(r, f), n),
    ]


def collector(
    name: str,
    config: PsaConfig,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """A PSA collector."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=streams(config),
        base_url=config.base_url.rstrip("/") + "/",
        auth=auth,
        transport=transport,
    )


def _build(c: Context) -> HttpCollector:
    return collector(c.name, PsaConfig(c.demo_url()), c.demo_auth(), transport=c.transport)


SPEC = ConnectorSpec(
    name="demo_psa",
    kind="demo",
    description="Demo PSA (project and time REST API)",
    build=_build,
    streams=("projects", "time_entries", "expenses", "milestones"),
    path="psa",
)
