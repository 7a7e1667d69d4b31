"""The invoice cycle page: distribution, weekly p50/p90, by practice and entity, slowest ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine

from metrics.kpis.common import Filters, duration_stats, period_start
from metrics.kpis.invoice_cycle import InvoiceCycle
from metrics.views.access import Access
from metrics.views.common import ViewConfig
from metrics.views.guard import view
from metrics.views.kpiset import cycle

CASE_COLUMNS = [
    "invoice_key",
    "customer",
    "legal_entity",
    "practice",
    "billing_type",
    "trigger_at",
    "ended_at",
    "business_days",
    "calendar_hours",
    "within_target",
    "amount",
    "currency",
    "amount_rc",
    "days_to_pay",
]
GROUP_COLUMNS = ["invoices", "p50_days", "p90_days", "within_target"]


@dataclass(frozen=True)
class InvoiceView:
    """Invoice cycle time for the page; `cases` are the counted invoices (slowest first)."""

    kpi: InvoiceCycle
    by_practice: pd.DataFrame
    by_entity: pd.DataFrame
    cases: pd.DataFrame
    waiting: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.kpi.stats.cases == 0 and self.waiting.empty


def by_group(cases: pd.DataFrame, column: str, target_days: float) -> pd.DataFrame:
    """Invoices, p50, p90 and share within target per value of `column`."""
    rows = []
    for value, group in cases.groupby(column, dropna=False, sort=True):
        s = duration_stats(group["business_days"], group["calendar_hours"], target_days)
        rows.append((value, s.cases, s.p50_days, s.p90_days, s.within_target))
    return pd.DataFrame(rows, columns=[column, *GROUP_COLUMNS])


@view("invoices")
def invoice_view(
    access: Access, engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime
) -> InvoiceView:
    """The invoice cycle KPI with its breakdowns."""
    kpi = cycle(engine, config, filters, as_of)
    cases = kpi.cases
    ordered = (
        cases.sort_values("business_days", ascending=False, kind="stable")[CASE_COLUMNS]
        if len(cases)
        else pd.DataFrame(columns=CASE_COLUMNS)
    )
    waiting = kpi.waiting
    return InvoiceView(
        kpi=kpi,
        by_practice=by_group(cases, "practice", kpi.target_days),
        by_entity=by_group(cases, "legal_entity", kpi.target_days),
        cases=ordered.reset_index(drop=True),
        waiting=waiting[
            [
                "invoice_key",
                "customer",
                "legal_entity",
                "practice",
                "trigger_at",
                "age_business_days",
                "amount",
                "currency",
            ]
        ]
        if len(waiting)
        else pd.DataFrame(),
    )


def invoices_in_week(view: InvoiceView, week: date) -> pd.DataFrame:
    """The counted invoices whose end event fell in the week starting `week` (a Monday)."""
    cases = view.cases
    if cases.empty:
        return cases
    return cases[period_start(cases["ended_at"], "W") == week].reset_index(drop=True)


def invoices_in_group(view: InvoiceView, column: str, value: str) -> pd.DataFrame:
    """The counted invoices of one practice or legal entity."""
    cases = view.cases
    return cases[cases[column].astype(str) == value].reset_index(drop=True)
