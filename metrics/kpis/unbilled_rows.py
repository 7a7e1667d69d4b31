"""What the unbilled work aging reads: billable work item facts and the invoices each was billed
on, for an instant or for a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, Select, literal_column, or_, select

from metrics.kpis.common import ALL, Filters, read_frame
from store.tables import WORK_SETTLED_AT, CaseWorkBilling, CaseWorkItem

ITEM_TIMES = ("logged_at", "approved_at", "written_off_at", "billed_at")
ITEM_DIMENSIONS = ("legal_entity", "practice", "customer")


@dataclass(frozen=True)
class WorkItems:
    """Billable work item facts and the invoices each was billed on; `since` is the instant
    they were loaded from (items settled before it left out)."""

    items: pd.DataFrame
    billing: pd.DataFrame
    since: datetime | None = None


def _conditions(
    filters: Filters, until: datetime | None, since: datetime | None
) -> list[ColumnElement[bool]]:
    t = CaseWorkItem
    where = [t.billable.is_(True), *filters.dims(t)]
    if until is not None:
        where.append(or_(t.approved_at <= until, t.status == "on_hold"))
    if since is not None:
        settled: ColumnElement[Any] = literal_column(WORK_SETTLED_AT)  # the index's, verbatim
        where.append(or_(settled.is_(None), settled >= since))
    return where


def items_query(
    filters: Filters = ALL, until: datetime | None = None, since: datetime | None = None
) -> Select[*tuple[Any, ...]]:
    """The work item facts `load_work_items` reads."""
    t = CaseWorkItem
    return select(
        t.work_item_id,
        t.work_item_key,
        t.kind,
        t.legal_entity,
        t.practice,
        t.customer,
        t.currency,
        t.amount,
        t.status,
        t.work_date,
        t.project_id,
        *(t.__table__.c[n] for n in ITEM_TIMES),
    ).where(*_conditions(filters, until, since))


def load_work_items(
    conn: Connection | Engine,
    filters: Filters = ALL,
    until: datetime | None = None,
    since: datetime | None = None,
) -> WorkItems:
    """Billable work approved by `until` (or on hold) with its billing history.

    With `since`, only the items that can count at some instant from `since` on: work billed
    for good (its current invoice posted, never voided) or written off before `since` is left
    out, so the rows read grow with the period and the open work, not with the history.
    """
    t, b = CaseWorkItem, CaseWorkBilling
    billing = (
        select(b.work_item_id, b.posted_at, b.voided_at)
        .join(t, t.work_item_id == b.work_item_id)
        .where(*_conditions(filters, until, since), b.posted_at.is_not(None))
    )
    query = items_query(filters, until, since).order_by(t.work_item_key)
    items = read_frame(conn, query, ITEM_TIMES)
    return WorkItems(items, read_frame(conn, billing, ("posted_at", "voided_at")), since)
