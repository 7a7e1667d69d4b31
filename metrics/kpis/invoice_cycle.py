"""Invoice cycle time: billing trigger → `invoice.posted` (or `invoice.sent`), and days to pay.

Counted: invoices (not credit notes) not voided by `as_of`, whose end event falls in the period
by `as_of`. Invoice-correction rate: the share of counted invoices that re-issue a voided one.
Days to pay: calendar days from `invoice.sent` (`invoice.posted` when never sent) to the last
linked `payment.received`, for counted invoices paid by `as_of`. Amounts are converted into the
reporting currency at the end event's day. Waiting: invoices created and triggered by `as_of`
but not ended, aged from their trigger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, Engine, or_, select

from metrics.fx import FxIssue, FxTable
from metrics.kpis.common import (
    ALL,
    Countries,
    DurationStats,
    Filters,
    business_days,
    duration_stats,
    hours,
    money,
    percentile,
    read_frame,
    trend,
    utc,
)
from metrics.kpis.declaration import (
    Fact,
    Figure,
    Headline,
    Kpi,
    Scope,
    SloCases,
    SloQuery,
    durations,
    latency_cases,
    latency_tile,
    number,
)
from store.tables import CaseInvoice

DEFAULT_TARGET_DAYS = 3.0
EndEvent = Literal["posted", "sent"]
TIMES = ("trigger_at", "created_at", "posted_at", "sent_at", "voided_at", "paid_at")


def load_invoices(
    conn: Connection | Engine, filters: Filters = ALL, end_event: EndEvent = "posted"
) -> pd.DataFrame:
    """Invoice facts that can end, wait or be voided in the period (dimension-filtered)."""
    t = CaseInvoice
    query = select(
        t.invoice_key,
        t.kind,
        t.billing_type,
        t.legal_entity,
        t.practice,
        t.customer,
        t.currency,
        t.amount,
        t.reissue_of,
        t.work_items,
        t.trigger_at,
        t.created_at,
        t.posted_at,
        t.sent_at,
        t.voided_at,
        t.paid_at,
    ).where(*filters.dims(t))
    if filters.end_at is not None:
        query = query.where(or_(t.trigger_at < filters.end_at, t.created_at < filters.end_at))
    if filters.start_at is not None:
        s, end = filters.start_at, t.__table__.c[f"{end_event}_at"]
        query = query.where(or_(end.is_(None), end >= s, t.voided_at >= s))
    return read_frame(conn, query.order_by(t.invoice_key), TIMES)


@dataclass(frozen=True)
class PaymentStats:
    """Days to pay (calendar days) of the counted invoices."""

    paid: int
    unpaid: int
    p50_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class InvoiceCycle:
    """Invoice cycle time as of `as_of` (durations in business days and hours)."""

    as_of: datetime
    target_days: float
    end_event: EndEvent
    stats: DurationStats
    corrections: int
    correction_rate: float | None
    voided: int
    credit_notes: int
    days_to_pay: PaymentStats
    by_week: pd.DataFrame
    by_month: pd.DataFrame
    cases: pd.DataFrame
    waiting: pd.DataFrame
    fx_issues: list[FxIssue] = field(default_factory=list)


def invoice_cycle(
    invoices: pd.DataFrame,
    as_of: datetime,
    *,
    filters: Filters = ALL,
    target_days: float = DEFAULT_TARGET_DAYS,
    end_event: EndEvent = "posted",
    countries: Countries | None = None,
    fx: FxTable | None = None,
) -> InvoiceCycle:
    """The KPI from `load_invoices` rows."""
    f = invoices.copy()
    for name in TIMES:
        f[name] = utc(f[name])
    now = pd.Timestamp(as_of)
    end = f[f"{end_event}_at"]
    live = (f["kind"] != "credit_note") & ~(f["voided_at"] <= now) & f["trigger_at"].notna()
    counted = live & (end <= now) & filters.in_period(end)
    cases = f[counted].copy()
    cases["ended_at"] = end[counted]
    cases["business_days"] = business_days(
        cases["trigger_at"], cases["ended_at"], cases["legal_entity"], countries
    )
    cases["calendar_hours"] = hours(cases["trigger_at"], cases["ended_at"])
    cases["within_target"] = cases["business_days"] <= target_days
    sent = cases["sent_at"].where(cases["sent_at"].notna(), cases["posted_at"])
    paid = cases["paid_at"].notna() & (cases["paid_at"] <= now)
    cases["days_to_pay"] = pd.Series(hours(sent, cases["paid_at"]) / 24, index=cases.index).where(
        paid
    )
    issues: list[FxIssue] = []
    if fx is not None:
        cases["amount_rc"], issues = fx.convert(
            money(cases["amount"]),
            list(cases["currency"]),
            [t.date() for t in cases["ended_at"]],
        )
    exists = f["created_at"].isna() | (f["created_at"] <= now)
    waiting = f[live & exists & (f["trigger_at"] <= now) & ~(end <= now)].copy()
    until = pd.Series(now, index=waiting.index)
    waiting["age_business_days"] = business_days(
        waiting["trigger_at"], until, waiting["legal_entity"], countries
    )
    waiting["age_hours"] = hours(waiting["trigger_at"], until)
    corrections = int(cases["reissue_of"].notna().sum())
    days_to_pay = cases["days_to_pay"][paid]
    return InvoiceCycle(
        as_of=as_of,
        target_days=target_days,
        end_event=end_event,
        stats=duration_stats(cases["business_days"], cases["calendar_hours"], target_days),
        corrections=corrections,
        correction_rate=corrections / len(cases) if len(cases) else None,
        voided=int((filters.in_period(f["voided_at"]) & (f["voided_at"] <= now)).sum()),
        credit_notes=int(
            ((f["kind"] == "credit_note") & filters.in_period(end) & (end <= now)).sum()
        ),
        days_to_pay=PaymentStats(
            paid=int(paid.sum()),
            unpaid=int((~paid).sum()),
            p50_days=percentile(days_to_pay, 50),
            p90_days=percentile(days_to_pay, 90),
        ),
        by_week=trend(cases, "ended_at", "business_days", target_days, "W"),
        by_month=trend(cases, "ended_at", "business_days", target_days, "M"),
        cases=cases.reset_index(drop=True),
        waiting=waiting.sort_values("age_hours", ascending=False, kind="stable").reset_index(
            drop=True
        ),
        fx_issues=issues,
    )


# The declaration (metrics.kpis.declaration): how Throughline reads, reports and shows it.


def _load(engine: Engine, scope: Scope) -> pd.DataFrame:
    return load_invoices(engine, scope.filters)


def _compute(invoices: pd.DataFrame, scope: Scope) -> InvoiceCycle:
    return invoice_cycle(
        invoices, scope.at, filters=scope.filters, countries=scope.countries, fx=scope.fx
    )


def _slo_cases(engine: Engine, query: SloQuery) -> SloCases:
    """Invoices posted in the SLO windows; triggered invoices still waiting, for an aging
    budget."""
    kpi = KPI.measure(engine, query.scope())
    waiting = kpi.waiting
    key = "invoice_key" if "invoice_key" in waiting.columns else str(waiting.columns[0])
    return latency_cases(kpi.cases, waiting, "ended_at", "trigger_at", key)


KPI: Kpi[InvoiceCycle] = Kpi(
    name="invoice_cycle",
    load=_load,
    compute=_compute,
    sources=frozenset({"psa", "erp", "tryton"}),
    figures=(
        Figure(
            "invoice_cycle",
            "Invoice cycle time",
            unit="business days (p50, p90)",
            audience="CFO",
            definition="Billing trigger (T&M: later of period end and last approval; fixed "
            "fee: milestone accepted) → `invoice.posted`; voided invoices and credit notes "
            "excluded.",
            target="≤ 3 business days",
            page="invoices",
            report=lambda r: {**durations(r.stats), "target_days": r.target_days},
            tile=lambda r: latency_tile(r.stats, r.by_week, "invoices"),
            slo=_slo_cases,
        ),
        Figure(
            "invoice_correction_rate",
            "Invoice-correction rate",
            unit="share of invoices",
            audience="CFO",
            definition="Share of counted invoices that re-issue a voided invoice.",
            page="invoices",
            report=lambda r: {
                "corrections": r.corrections,
                "invoices": r.stats.cases,
                "rate": number(r.correction_rate),
                "voided": r.voided,
                "credit_notes": r.credit_notes,
            },
            tile=lambda r: Headline(
                r.correction_rate,
                "share",
                (Fact("re-issues", r.corrections, "count"), Fact("voided", r.voided, "count")),
            ),
        ),
        Figure(
            "days_to_pay",
            "Days to pay",
            unit="calendar days (p50, p90)",
            audience="CFO",
            definition="`invoice.sent` (or posted) → the last linked `payment.received`.",
            page="invoices",
            report=lambda r: {
                "paid": r.days_to_pay.paid,
                "unpaid": r.days_to_pay.unpaid,
                "p50_days": number(r.days_to_pay.p50_days),
                "p90_days": number(r.days_to_pay.p90_days),
            },
            tile=lambda r: Headline(
                r.days_to_pay.p50_days,
                "days",
                (
                    Fact("p90", r.days_to_pay.p90_days, "days"),
                    Fact("paid", r.days_to_pay.paid, "count"),
                ),
            ),
        ),
    ),
)
