"""The CFO's overview: a tile per KPI of the registry, SLO budgets, cash impact, biggest delays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics.kpis.common import Filters
from metrics.kpis.declaration import Fact, Unit
from metrics.registry import KPIS
from metrics.views.access import Access
from metrics.views.admin import collector_health
from metrics.views.common import ViewConfig
from metrics.views.guard import view
from metrics.views.kpiset import KpiSet, kpi_set, money_days

DELAY_COLUMNS = [
    "case",
    "key",
    "customer",
    "legal_entity",
    "practice",
    "why",
    "amount_rc",
    "days",
    "money_days",
]


@dataclass(frozen=True)
class Tile:
    """One KPI: its headline value, secondary facts, target, weekly trend and SLO status."""

    kpi: str
    title: str
    value: float | None
    unit: Unit
    facts: tuple[Fact, ...]
    target: str | None
    trend: tuple[float, ...]
    slo_status: str | None
    slo_name: str | None
    page: str


@dataclass(frozen=True)
class Board:
    """Everything the overview draws."""

    as_of: datetime
    currency: str
    tiles: tuple[Tile, ...]
    budgets: pd.DataFrame
    cash_parts: pd.DataFrame
    cash_by_entity: pd.DataFrame
    delays: pd.DataFrame
    collectors: pd.DataFrame
    empty: bool

    def tile(self, kpi: str) -> Tile:
        """The tile of one KPI."""
        return next(t for t in self.tiles if t.kpi == kpi)


def _tiles(k: KpiSet, slos: pd.DataFrame) -> tuple[Tile, ...]:
    """A tile per figure of the registry, from its KPI's result and its SLO's status."""
    overall = slos[slos["scope"] == "all"] if len(slos) else slos
    tiles = []
    for figure in KPIS:
        headline = figure.tile(k.results[figure.kpi.name])
        slo = overall[overall["kpi"] == figure.name] if len(overall) else overall
        tiles.append(
            Tile(
                kpi=figure.name,
                title=figure.title,
                value=_number(headline.value),
                unit=headline.unit,
                facts=headline.facts,
                target=figure.target,
                trend=headline.trend,
                slo_status=str(slo["status"].iloc[0]) if len(slo) else None,
                slo_name=str(slo["display_name"].iloc[0]) if len(slo) else None,
                page=figure.page,
            )
        )
    return tuple(tiles)


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def _delays(k: KpiSet, projects: pd.DataFrame, top: int) -> pd.DataFrame:
    """The cases holding the most money for the longest (money × days of delay)."""
    stuck = k.setup.stuck
    deals = pd.DataFrame(
        {
            "case": "deal",
            "key": stuck["deal_key"],
            "customer": stuck["customer"],
            "legal_entity": stuck["legal_entity"],
            "practice": stuck["practice"],
            "why": "won, no project yet",
            "amount_rc": stuck.get("amount_rc"),
            "days": stuck["age_hours"] / 24,
        }
    )
    cases = k.cycle.cases
    late = cases[~cases["within_target"].astype(bool)] if len(cases) else cases
    invoices = pd.DataFrame(
        {
            "case": "invoice",
            "key": late["invoice_key"],
            "customer": late["customer"],
            "legal_entity": late["legal_entity"],
            "practice": late["practice"],
            "why": "invoiced late",
            "amount_rc": late.get("amount_rc"),
            "days": late["calendar_hours"] / 24,
        }
    )
    parts = [p for p in (deals, invoices, projects) if len(p)]
    if not parts:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["money_days"] = money_days(out, out["days"])
    out = out[np.isfinite(out["money_days"].astype(float))]
    return (
        out.sort_values("money_days", ascending=False)
        .head(top)[DELAY_COLUMNS]
        .reset_index(drop=True)
    )


def _unbilled_projects(items: pd.DataFrame) -> pd.DataFrame:
    """Unbilled work per project: amount, money-days and their ratio (average age)."""
    if items.empty or "project_key" not in items:
        return pd.DataFrame(columns=DELAY_COLUMNS[:-1])
    f = items.assign(md=money_days(items, items["age_days"]))
    g = f.groupby("project_key", dropna=True).agg(
        customer=("customer", "first"),
        legal_entity=("legal_entity", "first"),
        practice=("practice", "first"),
        amount_rc=("amount_rc", "sum"),
        md=("md", "sum"),
    )
    g["days"] = g["md"] / g["amount_rc"].where(g["amount_rc"] > 0)
    g = g.reset_index().rename(columns={"project_key": "key"})
    return g.assign(case="project", why="work not billed")[DELAY_COLUMNS[:-1]]


@view("overview")
def board(
    access: Access,
    engine: Engine,
    config: ViewConfig,
    filters: Filters,
    as_of: datetime,
    slos: pd.DataFrame | None = None,
    top: int = 10,
) -> Board:
    """The overview at `as_of`: `slos` is the SLO board (`metrics.slo.service.slo_board`)."""
    slos = slos if slos is not None else pd.DataFrame()
    k = kpi_set(engine, config, filters, as_of)
    budgets = (
        slos[slos["scope"] == "all"][
            [
                "slo",
                "display_name",
                "kpi",
                "status",
                "target",
                "attainment",
                "budget_remaining",
                "budget_left",
                "budget_unit",
                "window",
            ]
        ].reset_index(drop=True)
        if len(slos)
        else pd.DataFrame()
    )
    detail = k.cash.detail
    by_entity = (
        detail.groupby(["legal_entity", "part"], dropna=False)["money_days"].sum().reset_index()
        if len(detail)
        else pd.DataFrame(columns=["legal_entity", "part", "money_days"])
    )
    parts = pd.DataFrame(
        {
            "part": [p.replace("_", " ") for p in k.cash.parts],
            "money_days": list(k.cash.parts.values()),
        }
    )
    return Board(
        as_of=as_of,
        currency=config.reporting_currency,
        tiles=_tiles(k, slos),
        budgets=budgets,
        cash_parts=parts,
        cash_by_entity=by_entity,
        delays=_delays(k, _unbilled_projects(k.unbilled.items), top),
        collectors=collector_health(engine, config)[
            ["collector", "health", "last_success", "source_time", "last_error"]
        ],
        empty=_empty(k),
    )


def _empty(k: KpiSet) -> bool:
    """Nothing at all to show for these filters."""
    counts = (
        k.setup.stats.cases,
        len(k.setup.stuck),
        k.cycle.stats.cases,
        k.unbilled.total.items,
        k.sync.totals.attempts,
    )
    return sum(counts) == 0
