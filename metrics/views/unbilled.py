"""The unbilled aging page: WIP buckets by customer, project or practice, and WIP over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd
from sqlalchemy import Engine

from metrics.kpis.common import Filters
from metrics.kpis.unbilled import LABELS as LABELS  # re-exported for the page
from metrics.kpis.unbilled import UnbilledAging, wip_over_time
from metrics.views.access import Access
from metrics.views.common import ViewConfig
from metrics.views.guard import view
from metrics.views.kpiset import fx_table, unbilled, work_items

GroupBy = Literal["customer", "project_key", "practice", "legal_entity"]
GROUPINGS: dict[str, str] = {
    "customer": "Customer",
    "project_key": "Project",
    "practice": "Practice",
    "legal_entity": "Legal entity",
}
ITEM_COLUMNS = [
    "work_item_key",
    "kind",
    "project_key",
    "customer",
    "legal_entity",
    "practice",
    "work_date",
    "approved_at",
    "age_days",
    "bucket",
    "amount",
    "currency",
    "amount_rc",
]
MAX_SNAPSHOTS = 6


@dataclass(frozen=True)
class UnbilledView:
    """WIP as of `as_of` bucketed by one dimension, the items behind it, and WIP over time."""

    kpi: UnbilledAging
    group_by: str
    groups: pd.DataFrame
    items: pd.DataFrame
    over_time: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.kpi.total.items == 0 and self.over_time["items"].sum() == 0


def snapshot_dates(first: date, last: date, limit: int = MAX_SNAPSHOTS) -> list[date]:
    """Up to `limit` evenly spaced Mondays in ``[first, last]``, then the day after `last`."""
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    mondays = []
    while monday <= last:
        mondays.append(monday)
        monday += timedelta(weeks=1)
    step = max(1, -(-len(mondays) // max(1, limit - 1)))
    picked = mondays[::-1][::step][::-1][-(limit - 1) :] if mondays else []
    return [*picked, last + timedelta(days=1)]


def _groups(kpi: UnbilledAging, column: str) -> pd.DataFrame:
    """One row per group: items, amount per bucket and in total, largest first."""
    b = kpi.buckets
    if b.empty:
        return pd.DataFrame(columns=[column, "items", *LABELS, "amount_rc"])
    wide = b.pivot_table(
        index=column,
        columns="bucket",
        values="amount_rc",
        aggfunc="sum",
        observed=False,
        dropna=False,
    ).reindex(columns=LABELS)
    wide.columns = [str(c) for c in wide.columns]
    wide["items"] = b.groupby(column, dropna=False)["items"].sum()
    wide["amount_rc"] = wide[LABELS].sum(axis=1, min_count=1)
    wide = wide.reset_index()
    return wide.sort_values("amount_rc", ascending=False, kind="stable")[
        [column, "items", *LABELS, "amount_rc"]
    ].reset_index(drop=True)


@view("unbilled")
def unbilled_view(
    access: Access,
    engine: Engine,
    config: ViewConfig,
    filters: Filters,
    as_of: datetime,
    group_by: str = "customer",
) -> UnbilledView:
    """WIP aging by `group_by` (customer, project_key, practice or legal_entity)."""
    if group_by not in GROUPINGS:
        raise ValueError(f"cannot group unbilled work by {group_by!r}")
    work = work_items(engine, filters, as_of)
    fx = fx_table(engine, config)
    kpi = unbilled(engine, config, filters, as_of, by=(group_by,), work=work, fx=fx)
    items = kpi.items
    first = filters.start or (as_of.date() - timedelta(weeks=13))
    last = min((filters.end or as_of.date() + timedelta(days=1)) - timedelta(days=1), as_of.date())
    dates = [d for d in snapshot_dates(first, last) if d <= as_of.date() + timedelta(days=1)]
    return UnbilledView(
        kpi=kpi,
        group_by=group_by,
        groups=_groups(kpi, group_by),
        items=(items[ITEM_COLUMNS] if len(items) else pd.DataFrame(columns=ITEM_COLUMNS)),
        over_time=wip_over_time(work, dates, fx=fx),
    )


def items_behind(view: UnbilledView, group: str | None, bucket: str | None) -> pd.DataFrame:
    """The work items behind one bar (a group, a bucket, or both)."""
    items = view.items
    if group is not None:
        items = items[items[view.group_by].astype(str) == group]
    if bucket is not None:
        items = items[items["bucket"].astype(str) == bucket]
    return items.reset_index(drop=True)
