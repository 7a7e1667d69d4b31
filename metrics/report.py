"""Every KPI of the registry as one machine-readable report: `throughline kpis --as-of DATE`.

`kpi_report` runs each KPI's loader and pure function over the whole history up to `as_of` (or
a `Filters` period) and keeps the headline figures, keyed by the registry's KPI names: counts,
p50 / p90, shares, money in the reporting currency. Missing values (no cases, no FX rate) are
``None``, never NaN, so the report is plain JSON. `differences` compares two reports figure by
figure (the benchmark checks Throughline against DuckDB with it) and lists every mismatch as a
readable line instead of stopping at the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics.fx import load_fx
from metrics.kpis.cash_impact import CashImpact, cash_impact
from metrics.kpis.common import ALL, Countries, DurationStats, Filters, percentile
from metrics.kpis.invoice_cycle import InvoiceCycle, invoice_cycle, load_invoices
from metrics.kpis.setup_latency import SetupLatency, load_handoffs, setup_latency
from metrics.kpis.sync_trends import SyncErrorTrends, load_sync, sync_error_trends
from metrics.kpis.unbilled import LABELS, Bucketed, UnbilledAging, load_work_items, unbilled_aging
from metrics.registry import KPIS

Figures = dict[str, Any]
REL_TOL, ABS_TOL = 1e-9, 1e-6


def number(value: Any) -> float | int | None:
    """A JSON-safe number: ints stay ints, NaN and None become None."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    out = float(value)
    return None if math.isnan(out) else out


def _durations(stats: DurationStats) -> Figures:
    return {
        "cases": stats.cases,
        "p50_business_days": number(stats.p50_days),
        "p90_business_days": number(stats.p90_days),
        "within_target": number(stats.within_target),
        "p50_hours": number(stats.p50_hours),
        "p90_hours": number(stats.p90_hours),
    }


def _max(values: pd.Series) -> float | None:
    finite = pd.to_numeric(values, errors="coerce").dropna()
    return number(finite.max()) if len(finite) else None


def _bucketed(b: Bucketed) -> Figures:
    return {"items": b.items, "amount_rc": number(b.amount_rc)}


def figures(
    setup: SetupLatency,
    cycle: InvoiceCycle,
    wip: UnbilledAging,
    sync: SyncErrorTrends,
    cash: CashImpact,
) -> dict[str, Figures]:
    """The headline figures of every registry KPI from the KPI results."""
    stuck = setup.stuck
    buckets = wip.buckets.set_index(wip.buckets["bucket"].astype(str))
    totals = sync.totals
    ttr = sync.time_to_resolve
    out: dict[str, Figures] = {
        "setup_latency": {**_durations(setup.stats), "target_days": setup.target_days},
        "stuck_handoffs": {
            "deals": len(stuck),
            "p50_age_business_days": number(percentile(stuck["age_business_days"], 50)),
            "max_age_business_days": _max(stuck["age_business_days"]),
            "excluded_no_project": setup.excluded.get("no_project_required", 0),
            "excluded_reopened_lost": setup.excluded.get("reopened_lost", 0),
        },
        "touchless_share": {
            "touchless": setup.touchless,
            "handoffs": setup.stats.cases,
            "share": number(setup.touchless_share),
        },
        "invoice_cycle": {**_durations(cycle.stats), "target_days": cycle.target_days},
        "invoice_correction_rate": {
            "corrections": cycle.corrections,
            "invoices": cycle.stats.cases,
            "rate": number(cycle.correction_rate),
            "voided": cycle.voided,
            "credit_notes": cycle.credit_notes,
        },
        "days_to_pay": {
            "paid": cycle.days_to_pay.paid,
            "unpaid": cycle.days_to_pay.unpaid,
            "p50_days": number(cycle.days_to_pay.p50_days),
            "p90_days": number(cycle.days_to_pay.p90_days),
        },
        "unbilled_wip": {
            **_bucketed(wip.total),
            "buckets": {
                label: {
                    "items": int(buckets.loc[label, "items"]) if label in buckets.index else 0,
                    "amount_rc": number(buckets.loc[label, "amount_rc"])
                    if label in buckets.index
                    else 0.0,
                }
                for label in LABELS
            },
            "write_offs": _bucketed(wip.write_offs),
            "holds": _bucketed(wip.holds),
            "unconverted": wip.unconverted,
        },
        "sync_error_rate": {
            "attempts": totals.attempts,
            "first_attempts": totals.first_attempts,
            "failed_first_attempts": totals.failed_first_attempts,
            "rate": number(totals.first_attempt_error_rate),
            "retries": totals.retries,
            "failed_retries": totals.failed_retries,
        },
        "sync_failing_records": {"records": totals.failing_records},
        "sync_spikes": {"flow_days": len(sync.spikes)},
        "sync_open_exceptions": {
            "records": len(sync.open_exceptions),
            "max_hours_open": _max(sync.open_exceptions["age_hours"]),
        },
        "sync_time_to_resolve": {
            "resolved": ttr.resolved,
            "p50_hours": number(ttr.p50_hours),
            "p90_hours": number(ttr.p90_hours),
        },
        "cash_impact": {
            "total_money_days": number(cash.total_money_days),
            **{part: number(value) for part, value in cash.parts.items()},
            "unconverted": cash.unconverted,
        },
    }
    missing = {k.name for k in KPIS} - set(out)
    if missing:  # a KPI added to the registry must be added here too
        raise KeyError(f"the KPI report lacks {', '.join(sorted(missing))}")
    return out


def kpi_report(
    engine: Engine,
    as_of: datetime,
    *,
    reporting_currency: str = "USD",
    countries: Countries | None = None,
    filters: Filters = ALL,
) -> dict[str, Any]:
    """Every registry KPI as of `as_of` from the case facts: ``{"as_of", "kpis": {name: …}}``."""
    at = min(as_of, filters.end_at) if filters.end_at is not None else as_of
    fx = load_fx(engine, reporting_currency)
    setup = setup_latency(
        load_handoffs(engine, filters), at, filters=filters, countries=countries, fx=fx
    )
    cycle = invoice_cycle(
        load_invoices(engine, filters), at, filters=filters, countries=countries, fx=fx
    )
    work = load_work_items(engine, filters, until=at, since=filters.start_at)
    wip = unbilled_aging(work, at, fx=fx)
    sync = sync_error_trends(load_sync(engine, filters), at, filters=filters, countries=countries)
    kpis = figures(setup, cycle, wip, sync, cash_impact(setup, cycle, wip))
    return {
        "as_of": at.isoformat(),
        "reporting_currency": fx.reporting,
        "period": {
            "start": filters.start.isoformat() if filters.start else None,
            "end": filters.end.isoformat() if filters.end else None,
        },
        "kpis": {k.name: {"title": k.title, "unit": k.unit, "figures": kpis[k.name]} for k in KPIS},
    }


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as ``{"a.b.c": value}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def kpi_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """KPI name → figures, from a report (``{"kpis": {name: {"figures": …}}}``) or figures."""
    kpis = report.get("kpis", report)
    return {
        name: value["figures"] if isinstance(value, Mapping) and "figures" in value else value
        for name, value in kpis.items()
    }


def differences(
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    *,
    rel: float = REL_TOL,
    abs_: float = ABS_TOL,
) -> list[str]:
    """Every figure that differs between two reports' ``kpis`` (or two figure mappings)."""
    a, b = flatten(kpi_figures(mine)), flatten(kpi_figures(theirs))
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name, "missing"), b.get(name, "missing")
        if isinstance(x, int | float) and isinstance(y, int | float):
            if math.isclose(x, y, rel_tol=rel, abs_tol=abs_):
                continue
        elif x == y:
            continue
        out.append(f"{name}: {x!r} ≠ {y!r}")
    return out


def text_report(report: Mapping[str, Any]) -> str:
    """The report as lines a person reads: one KPI a line."""
    lines = [f"KPIs as of {report['as_of']} ({report['reporting_currency']})"]
    for name, kpi in report["kpis"].items():
        parts = [f"{key} {_fmt(value)}" for key, value in flatten(kpi["figures"]).items()]
        lines.append(f"{kpi['title']} ({name}): " + "; ".join(parts))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
