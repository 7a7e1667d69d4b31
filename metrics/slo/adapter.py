"""From the KPIs' case facts to the SLO engine's inputs: occurrences, open items, freshness.

Each SLO names a KPI of the registry; this module turns that KPI's cases into `Occurrence`s
judged against the SLO's own threshold, and its open cases into `OpenItem`s with deadlines on
the legal entity's business calendar. Loaders read only the SLO windows (plus a margin).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from foundation.business_time import BusinessCalendar, resolve_deadline
from metrics.freshness import last_successes, stale_after
from metrics.fx import load_fx
from metrics.kpis.common import Filters
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.unbilled import load_work_items, unbilled_aging, wip_daily
from metrics.slo.inputs import Occurrence, OpenItem, SloInputs, SourceFreshness
from metrics.slo.spec import Slo, Threshold
from store.tables import SyncAttempt

#: Which source systems each KPI reads: a stale collector of one pauses the KPI's SLOs. The
#: demo's and the connectors' systems: Tryton feeds deals, projects, time and invoices; n8n and
#: integration log files ("logs") feed sync attempts.
KPI_SOURCES: dict[str, frozenset[str]] = {
    "setup_latency": frozenset({"crm", "psa", "tryton"}),
    "invoice_cycle": frozenset({"psa", "erp", "tryton"}),
    "unbilled_wip": frozenset({"psa", "erp", "tryton"}),
    "sync_error_rate": frozenset({"ipaas", "n8n", "logs"}),
}
DIMENSIONS = ("legal_entity", "practice", "customer")
MARGIN = timedelta(days=35)
UNBILLED_LIMIT_DAYS = 60
_OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


@dataclass(frozen=True)
class Context:
    """What the adapter needs besides the store: entity countries and the reporting currency."""

    countries: Mapping[str, str]
    reporting_currency: str

    def calendar(self, group: Mapping[str, str]) -> BusinessCalendar:
        """The business calendar of a group's legal entity (weekends only when unknown)."""
        return _calendar_of(self.countries.get(group.get("legal_entity", "")))


@functools.lru_cache(maxsize=64)
def _calendar_of(country: str | None) -> BusinessCalendar:
    """One calendar per country: building one loads its holiday rules, asking one is cheap."""
    return BusinessCalendar(country)


def is_good(threshold: Threshold | None, business_days: float, hours: float) -> bool:
    """Whether one case meets the SLO's threshold (no threshold: every decided case is good)."""
    if threshold is None:
        return True
    value = {"business_days": business_days, "hours": hours, "days": hours / 24}[threshold.unit]
    return _OPS[threshold.op](value, threshold.value)


def _group(row: Mapping[str, Any]) -> dict[str, str]:
    return {d: str(row[d]) for d in DIMENSIONS if d in row and pd.notna(row[d])}


def _aware(value: Any) -> datetime:
    return pd.Timestamp(value).tz_convert(UTC).to_pydatetime()  # type: ignore[no-any-return]


def _latency_inputs(
    slo: Slo,
    cases: pd.DataFrame,
    open_cases: pd.DataFrame,
    end_col: str,
    start_col: str,
    age_col: str,
    ctx: Context,
) -> SloInputs:
    threshold = slo.spec.indicator.threshold
    decided = cases.to_dict("records")
    occurrences = tuple(
        Occurrence(
            _aware(r[end_col]),
            is_good(threshold, r["business_days"], r["calendar_hours"]),
            group=_group(r),
        )
        for r in decided
    )
    items: list[OpenItem] = []
    limit = slo.aging_limit
    if limit is not None:
        # Open cases, and cases closed after their deadline: their late days stay counted.
        candidates: list[tuple[Mapping[str, Any], datetime | None]] = [
            (r, None) for r in open_cases.to_dict("records")
        ]
        candidates += [(r, _aware(r[end_col])) for r in decided]
        for r, closed in candidates:
            group, since = _group(r), _aware(r[start_col])
            deadline = resolve_deadline(since, limit.value, limit.unit, ctx.calendar(group))
            if closed is None or closed > deadline:
                items.append(OpenItem(str(r[age_col]), since, deadline, group, closed_at=closed))
    return SloInputs(occurrences, tuple(items))


def setup_inputs(engine: Engine, slo: Slo, as_of: datetime, ctx: Context) -> SloInputs:
    """Handoffs decided in the window (project created); won deals still waiting, and deals
    whose project came after their deadline (closed open items), for the aging budget."""
    filters = Filters(start=(as_of - MARGIN).date())
    kpi = setup_latency(
        load_handoffs(engine, filters), as_of, filters=filters, countries=ctx.countries
    )
    return _latency_inputs(
        slo, kpi.cases, kpi.stuck, "project_created_at", "won_at", "deal_key", ctx
    )


def invoice_inputs(engine: Engine, slo: Slo, as_of: datetime, ctx: Context) -> SloInputs:
    """Invoices posted in the window; triggered invoices still waiting, and invoices posted
    after their deadline (closed open items), for an aging budget."""
    filters = Filters(start=(as_of - MARGIN).date())
    kpi = invoice_cycle(
        load_invoices(engine, filters), as_of, filters=filters, countries=ctx.countries
    )
    key = "invoice_key" if "invoice_key" in kpi.waiting.columns else kpi.waiting.columns[0]
    return _latency_inputs(slo, kpi.cases, kpi.waiting, "ended_at", "trigger_at", key, ctx)


def sync_inputs(engine: Engine, slo: Slo, as_of: datetime) -> SloInputs:
    """One occurrence per first sync attempt in the window, grouped by integration."""
    query = select(SyncAttempt.started_at, SyncAttempt.status, SyncAttempt.integration).where(
        SyncAttempt.attempt_number == 1,
        SyncAttempt.status != "running",
        SyncAttempt.started_at >= as_of - MARGIN,
        SyncAttempt.started_at <= as_of,
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return SloInputs(
        tuple(
            Occurrence(at, status == "success", group={"integration": integration})
            for at, status, integration in rows
        )
    )


def unbilled_inputs(engine: Engine, slo: Slo, as_of: datetime, ctx: Context) -> SloInputs:
    """Daily value-weighted snapshots (good while ≤ 60 days old) and items past 60 days."""
    days = [as_of.date() - timedelta(days=n) for n in range(int(MARGIN.days), -1, -1)]
    work = load_work_items(engine, until=as_of, since=_midnight(days[0]))
    fx = load_fx(engine, ctx.reporting_currency, days[0], as_of.date())
    daily = wip_daily(work, days, fx=fx)
    daily = daily[daily["amount_rc"] > 0]  # NaN (no FX rate) is reported by the KPI
    daily = daily.assign(good=daily["age_days"] <= UNBILLED_LIMIT_DAYS)
    # One occurrence per day, group and verdict weighing the summed value: the same budget
    # and burn as one per item, without materialising thousands of records.
    keys = ["as_of", "good", *DIMENSIONS]
    summed = daily.groupby(keys, dropna=False, observed=True)["amount_rc"].sum().reset_index()
    occurrences = [
        Occurrence(_midnight(r["as_of"]), bool(r["good"]), float(r["amount_rc"]), _group(r))
        for r in summed.to_dict("records")
    ]
    current = unbilled_aging(work, as_of, fx=fx).items
    items = tuple(
        OpenItem(
            str(r["work_item_key"]),
            _start_of(r),
            _start_of(r) + timedelta(days=UNBILLED_LIMIT_DAYS),
            _group(r),
            float(r["amount_rc"]) or 1.0,
        )
        for r in current.to_dict("records")
        if r["amount_rc"] == r["amount_rc"]
    )
    return SloInputs(tuple(occurrences), items if slo.aging is not None else ())


def _start_of(row: Mapping[str, Any]) -> datetime:
    day: date = row["work_date"] if pd.notna(row.get("work_date")) else row["approved_at"].date()
    return _midnight(day)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def slo_inputs(
    engine: Engine, slos: Sequence[Slo], as_of: datetime, ctx: Context
) -> dict[str, SloInputs]:
    """Inputs for every SLO, by SLO name (an SLO on an unknown KPI gets none)."""
    builders: dict[str, Callable[[Slo], SloInputs]] = {
        "setup_latency": lambda s: setup_inputs(engine, s, as_of, ctx),
        "invoice_cycle": lambda s: invoice_inputs(engine, s, as_of, ctx),
        "sync_error_rate": lambda s: sync_inputs(engine, s, as_of),
        "unbilled_wip": lambda s: unbilled_inputs(engine, s, as_of, ctx),
    }
    return {s.name: builders[s.kpi](s) for s in slos if s.kpi in builders}


def freshness(engine: Engine, collectors: Mapping[str, tuple[str, int]]) -> list[SourceFreshness]:
    """Freshness of the configured collectors (name → (source system, interval seconds)), by
    the rule of `metrics.freshness`: a collector not in `collectors` (not configured) and a file
    import never pause an SLO."""
    last = last_successes(engine, collectors)
    return [
        SourceFreshness(name, last.get(name), stale_after(interval))
        for name, (_system, interval) in sorted(collectors.items())
    ]


def feeds(slos: Sequence[Slo], collectors: Mapping[str, tuple[str, int]]) -> dict[str, set[str]]:
    """Collector → the SLOs whose KPI reads its source system."""
    return {
        name: {s.name for s in slos if system in KPI_SOURCES.get(s.kpi, frozenset())}
        for name, (system, _interval) in collectors.items()
    }
