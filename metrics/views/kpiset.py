"""The four KPIs (and cash impact) for one filter set, each from its loader and pure function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select

from metrics.fx import FxTable, load_fx
from metrics.kpis.cash_impact import CashImpact, cash_impact
from metrics.kpis.common import Filters
from metrics.kpis.invoice_cycle import InvoiceCycle, invoice_cycle, load_invoices
from metrics.kpis.setup_latency import SetupLatency, load_handoffs, setup_latency
from metrics.kpis.sync_trends import SyncErrorTrends, load_sync, sync_error_trends
from metrics.kpis.unbilled import UnbilledAging, WorkItems, load_work_items, unbilled_aging
from metrics.views.common import ViewConfig, period_as_of
from store.reads import among
from store.tables import Object


def fx_table(engine: Engine, config: ViewConfig) -> FxTable:
    """Daily rates into the reporting currency."""
    return load_fx(engine, config.reporting_currency)


def setup(
    engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime, fx: FxTable | None = None
) -> SetupLatency:
    """Project setup latency and the stuck handoffs (amounts converted)."""
    return setup_latency(
        load_handoffs(engine, filters),
        period_as_of(filters, as_of),
        filters=filters,
        countries=config.countries,
        fx=fx or fx_table(engine, config),
    )


def cycle(
    engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime, fx: FxTable | None = None
) -> InvoiceCycle:
    """Invoice cycle time (amounts converted)."""
    return invoice_cycle(
        load_invoices(engine, filters),
        period_as_of(filters, as_of),
        filters=filters,
        countries=config.countries,
        fx=fx or fx_table(engine, config),
    )


def work_items(engine: Engine, filters: Filters, as_of: datetime) -> WorkItems:
    """Billable work items that can count in the period, with their project's key
    (``project_key``) for grouping."""
    work = load_work_items(
        engine, filters, until=period_as_of(filters, as_of), since=filters.start_at
    )
    ids = sorted({int(i) for i in work.items["project_id"].dropna()})
    p = Object
    keys: dict[int, str] = {}
    with engine.connect() as conn:
        for condition in among(conn, p.id, ids):
            keys.update(
                (i, k) for i, k in conn.execute(select(p.id, p.source_key).where(condition))
            )
    items = work.items.assign(project_key=work.items["project_id"].map(keys))
    return WorkItems(items, work.billing, work.since)


def unbilled(
    engine: Engine,
    config: ViewConfig,
    filters: Filters,
    as_of: datetime,
    by: tuple[str, ...] = (),
    work: WorkItems | None = None,
    fx: FxTable | None = None,
) -> UnbilledAging:
    """Unbilled work aging as of `as_of`, bucketed by `by`."""
    work = work if work is not None else work_items(engine, filters, as_of)
    at = period_as_of(filters, as_of)
    return unbilled_aging(work, at, fx=fx or fx_table(engine, config), by=by)


def sync(engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime) -> SyncErrorTrends:
    """Sync error trends over the period."""
    return sync_error_trends(
        load_sync(engine, filters),
        period_as_of(filters, as_of),
        filters=filters,
        countries=config.countries,
    )


@dataclass(frozen=True)
class KpiSet:
    """Every KPI for one filter set at one instant."""

    as_of: datetime
    setup: SetupLatency
    cycle: InvoiceCycle
    unbilled: UnbilledAging
    sync: SyncErrorTrends
    cash: CashImpact


def kpi_set(engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime) -> KpiSet:
    """All four KPIs and the cash impact they add up to."""
    fx = fx_table(engine, config)
    s = setup(engine, config, filters, as_of, fx)
    c = cycle(engine, config, filters, as_of, fx)
    u = unbilled(engine, config, filters, as_of, fx=fx)
    return KpiSet(as_of, s, c, u, sync(engine, config, filters, as_of), cash_impact(s, c, u))


def money_days(frame: pd.DataFrame, days: pd.Series) -> pd.Series:
    """Amount in the reporting currency × days of delay, per row (cash impact per case)."""
    return frame["amount_rc"].astype(float) * days.astype(float)
