"""Cash impact: money × days of delay, in reporting-currency-days.

Three parts, each amount × calendar days: stuck handoffs (deal amount × days since the first
win, at `as_of`), invoicing delay (invoice amount × days from billing trigger to the end event,
for the invoices counted in the period) and unbilled work (WIP amount × its age at `as_of`).
Amounts without an FX rate are left out and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metrics.kpis import invoice_cycle, setup_latency, unbilled
from metrics.kpis.declaration import Fact, Figure, Headline, Kpi, Scope, number
from metrics.kpis.invoice_cycle import InvoiceCycle
from metrics.kpis.setup_latency import SetupLatency
from metrics.kpis.unbilled import UnbilledAging

DIMS = ["legal_entity", "practice", "customer"]
COLUMNS = ["part", *DIMS, "cases", "amount_rc", "money_days"]


@dataclass(frozen=True)
class CashImpact:
    """Money-days per part and dimension; `unconverted` cases had no FX rate."""

    total_money_days: float
    parts: dict[str, float]
    detail: pd.DataFrame
    unconverted: int


def _part(name: str, frame: pd.DataFrame, days: pd.Series) -> pd.DataFrame:
    if frame.empty or "amount_rc" not in frame:
        return pd.DataFrame(columns=COLUMNS)
    f = frame[DIMS].copy()
    f["amount_rc"] = frame["amount_rc"].astype(float)
    f["money_days"] = f["amount_rc"] * days.astype(float)
    f = f[np.isfinite(f["money_days"])]
    g = f.groupby(DIMS, dropna=False).agg(
        cases=("amount_rc", "size"),
        amount_rc=("amount_rc", "sum"),
        money_days=("money_days", "sum"),
    )
    return g.reset_index().assign(part=name)[COLUMNS]


def cash_impact(setup: SetupLatency, cycle: InvoiceCycle, unbilled: UnbilledAging) -> CashImpact:
    """Money × days of delay from the three KPI results (computed with an FX table)."""
    parts = [
        _part("stuck_handoffs", setup.stuck, setup.stuck["age_hours"] / 24),
        _part("invoicing_delay", cycle.cases, cycle.cases["calendar_hours"] / 24),
        _part("unbilled_work", unbilled.items, unbilled.items["age_days"]),
    ]
    detail = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    unconverted = sum(
        int(frame["amount_rc"].isna().sum()) if "amount_rc" in frame else len(frame)
        for frame in (setup.stuck, cycle.cases, unbilled.items)
    )
    totals = {
        name: float(detail.loc[detail["part"] == name, "money_days"].sum())
        for name in ("stuck_handoffs", "invoicing_delay", "unbilled_work")
    }
    return CashImpact(sum(totals.values()), totals, detail, unconverted)


# The declaration (metrics.kpis.declaration): derived from three KPIs' results.


def _compute(results: Mapping[str, Any], scope: Scope) -> CashImpact:
    return cash_impact(
        results[setup_latency.KPI.name],
        results[invoice_cycle.KPI.name],
        results[unbilled.KPI.name],
    )


KPI: Kpi[CashImpact] = Kpi(
    name="cash_impact",
    load=None,
    compute=_compute,
    needs=(setup_latency.KPI.name, invoice_cycle.KPI.name, unbilled.KPI.name),
    sources=setup_latency.KPI.sources | invoice_cycle.KPI.sources | unbilled.KPI.sources,
    figures=(
        Figure(
            "cash_impact",
            "Cash impact",
            unit="reporting-currency days",
            audience="CFO",
            definition="Money × days of delay: stuck deals, invoicing delay and unbilled work.",
            report=lambda r: {
                "total_money_days": number(r.total_money_days),
                **{part: number(value) for part, value in r.parts.items()},
                "unconverted": r.unconverted,
            },
            tile=lambda r: Headline(
                r.total_money_days,
                "money_days",
                tuple(Fact(part.replace("_", " "), v, "money_days") for part, v in r.parts.items()),
            ),
        ),
    ),
)
