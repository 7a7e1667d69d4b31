"""The KPIs for one filter set, each read and computed by its declaration (`metrics.registry`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from metrics.fx import FxTable, load_fx
from metrics.kpis.cash_impact import KPI as CASH
from metrics.kpis.cash_impact import CashImpact
from metrics.kpis.common import Filters
from metrics.kpis.declaration import Scope, measure_all
from metrics.kpis.invoice_cycle import KPI as CYCLE
from metrics.kpis.invoice_cycle import InvoiceCycle
from metrics.kpis.setup_latency import KPI as SETUP
from metrics.kpis.setup_latency import SetupLatency
from metrics.kpis.sync_trends import KPI as SYNC
from metrics.kpis.sync_trends import SyncErrorTrends
from metrics.kpis.unbilled import KPI as UNBILLED
from metrics.kpis.unbilled import UnbilledAging, WorkItems, unbilled_aging
from metrics.registry import DECLARED
from metrics.views.common import ViewConfig
from store.reads import among
from store.tables import Object


def fx_table(engine: Engine, config: ViewConfig) -> FxTable:
    """Daily rates into the reporting currency."""
    return load_fx(engine, config.reporting_currency)


def scope(config: ViewConfig, filters: Filters, as_of: datetime, fx: FxTable | None) -> Scope:
    """A page's scope: at `as_of` or the period's end, the entities' calendars, `fx`."""
    return Scope.of(as_of, filters, config.countries, fx)


def setup(
    engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime, fx: FxTable | None = None
) -> SetupLatency:
    """Project setup latency and the stuck handoffs (amounts converted)."""
    rates = fx or fx_table(engine, config)
    return SETUP.measure(engine, scope(config, filters, as_of, rates))


def cycle(
    engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime, fx: FxTable | None = None
) -> InvoiceCycle:
    """Invoice cycle time (amounts converted)."""
    rates = fx or fx_table(engine, config)
    return CYCLE.measure(engine, scope(config, filters, as_of, rates))


def work_items(engine: Engine, filters: Filters, as_of: datetime) -> WorkItems:
    """Billable work items that can count in the period, with their project's key
    (``project_key``) for grouping."""
    work = UNBILLED.read(engine, Scope.of(as_of, filters))
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
    """Unbilled work aging as of `as_of`, bucketed by `by` (the unbilled page's grouping)."""
    work = work if work is not None else work_items(engine, filters, as_of)
    at = Scope.of(as_of, filters).at
    return unbilled_aging(work, at, fx=fx or fx_table(engine, config), by=by)


def sync(engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime) -> SyncErrorTrends:
    """Sync error trends over the period."""
    return SYNC.measure(engine, scope(config, filters, as_of, None))


@dataclass(frozen=True)
class KpiSet:
    """Every KPI's result for one filter set at one instant, by KPI name."""

    as_of: datetime
    results: dict[str, Any]

    @property
    def setup(self) -> SetupLatency:
        return self.results[SETUP.name]  # type: ignore[no-any-return]

    @property
    def cycle(self) -> InvoiceCycle:
        return self.results[CYCLE.name]  # type: ignore[no-any-return]

    @property
    def unbilled(self) -> UnbilledAging:
        return self.results[UNBILLED.name]  # type: ignore[no-any-return]

    @property
    def sync(self) -> SyncErrorTrends:
        return self.results[SYNC.name]  # type: ignore[no-any-return]

    @property
    def cash(self) -> CashImpact:
        return self.results[CASH.name]  # type: ignore[no-any-return]


def kpi_set(engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime) -> KpiSet:
    """Every declared KPI (unbilled work with its projects' keys, for the overview)."""
    rows = {UNBILLED.name: work_items(engine, filters, as_of)}
    at = scope(config, filters, as_of, fx_table(engine, config))
    return KpiSet(as_of, measure_all(engine, at, DECLARED, rows))


def money_days(frame: pd.DataFrame, days: pd.Series) -> pd.Series:
    """Amount in the reporting currency × days of delay, per row (cash impact per case)."""
    return frame["amount_rc"].astype(float) * days.astype(float)
