"""Invoice cycle: billing trigger → posted, its distribution and weekly trend, by practice and
entity, the slowest invoices and those still waiting."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.common import Filters
from metrics.views.invoices import InvoiceView, invoice_view, invoices_in_group, invoices_in_week
from throughline import ui
from throughline.ui import params

ui.ensure_entrypoint("invoices")


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, filters: Filters, as_of: datetime) -> InvoiceView:
    return invoice_view(who, ui.engine(), ui.config(), filters, as_of)


ui.header(
    "Invoice cycle",
    "Business days from the billing trigger (period end or last approval "
    "for time and materials, milestone acceptance for fixed fee) to the posted invoice.",
)
view = ui.load(load, ui.db_url(), ui.access(), ui.filters(), ui.as_of())
kpi = view.kpi
if view.empty:
    ui.empty(
        "No invoice was posted in this period for these filters. Widen the period or clear "
        "the legal entity, practice or customer filters."
    )
    st.stop()

currency = ui.config().reporting_currency
cols = st.columns(6)
cols[0].metric("p50 cycle time", ui.fmt(kpi.stats.p50_days, "business_days"))
cols[1].metric("p90 cycle time", ui.fmt(kpi.stats.p90_days, "business_days"))
cols[2].metric(f"Within {kpi.target_days:g} bd", ui.fmt(kpi.stats.within_target, "share"))
cols[3].metric("Invoices posted", ui.fmt(kpi.stats.cases, "count"))
cols[4].metric("Correction rate", ui.fmt(kpi.correction_rate, "share"))
cols[5].metric("p50 days to pay", ui.fmt(kpi.days_to_pay.p50_days, "days"))

left, right = st.columns(2)
with left:
    st.subheader("Weekly p50 and p90", help="Click a week to list its invoices.")
    weeks = kpi.by_week
    fig = go.Figure(
        [
            go.Scatter(x=weeks["period"], y=weeks["p50_days"], name="p50", mode="lines+markers"),
            go.Scatter(x=weeks["period"], y=weeks["p90_days"], name="p90", mode="lines+markers"),
        ]
    )
    fig.add_hline(y=kpi.target_days, line_dash="dot", annotation_text="target")
    ui.layout(fig, 300, yaxis_title="business days")
    picked = st.plotly_chart(fig, key="weeks", on_select="rerun", selection_mode="points")
with right:
    st.subheader("Distribution")
    fig = go.Figure(go.Histogram(x=view.cases["business_days"], nbinsx=40))
    fig.add_vline(x=kpi.target_days, line_dash="dot", annotation_text="target")
    ui.layout(fig, 300, xaxis_title="business days", yaxis_title="invoices")
    st.plotly_chart(fig, key="histogram")

week = ui.pick("week", str(ui.chart_pick(picked, "x") or "")[:10] or None, parse=params.day)
if week:
    st.subheader(f"Invoices posted in the week of {week:%Y-%m-%d}")
    shown = invoices_in_week(view, week)
    if st.button("Clear the week", key="clear_week"):
        ui.clear_param("week")
        st.rerun()
    row = ui.table(shown, "week_cases", name=f"invoices-week-{week:%Y-%m-%d}", select=True)
    if row is not None:
        ui.drill("trace", case=f"invoice:{shown.iloc[row]['invoice_key']}")

st.subheader("By practice and legal entity", help="Click a bar to list that group's invoices.")
left, right = st.columns(2)
choice = None
for column, frame, field in (
    (left, view.by_practice, "practice"),
    (right, view.by_entity, "legal_entity"),
):
    with column:
        fig = go.Figure(
            [
                go.Bar(x=frame[field].fillna("(none)"), y=frame["p50_days"], name="p50"),
                go.Bar(x=frame[field].fillna("(none)"), y=frame["p90_days"], name="p90"),
            ]
        )
        ui.layout(fig, 260, yaxis_title="business days")
        event = st.plotly_chart(fig, key=f"by_{field}", on_select="rerun", selection_mode="points")
        value = ui.chart_pick(event, "x")
        if value is not None:
            choice = (field, str(value))
        ui.table(frame, f"table_{field}", name=f"invoice-cycle-by-{field}")
group = ui.pick(
    "group",
    f"{choice[0]}={choice[1]}" if choice else None,
    parse=params.pair("=", ("practice", "legal_entity")),
)
if group:
    field, value = group
    st.subheader(f"Invoices of {ui.safe(field.replace('_', ' '))} {ui.safe(value)}")
    shown = invoices_in_group(view, field, value)
    row = ui.table(shown, "group_cases", name=f"invoices-{field}-{value}", select=True)
    if row is not None:
        ui.drill("trace", case=f"invoice:{shown.iloc[row]['invoice_key']}")

st.subheader("Slowest invoices", help="Click a row to open the invoice's case trace.")
row = ui.table(
    view.cases.head(200),
    "slowest",
    name="slowest-invoices",
    select=True,
    columns={
        "amount_rc": ui.money(f"amount ({currency})"),
        "business_days": st.column_config.NumberColumn("business days", format="%.1f"),
    },
)
if row is not None:
    ui.drill("trace", case=f"invoice:{view.cases.iloc[row]['invoice_key']}")

st.subheader("Waiting to be invoiced", help="Triggered but not posted yet, oldest first.")
if view.waiting.empty:
    ui.empty("Nothing is waiting: every triggered invoice has been posted.")
else:
    row = ui.table(view.waiting, "waiting", name="invoices-waiting", select=True)
    if row is not None:
        ui.drill("trace", case=f"invoice:{view.waiting.iloc[row]['invoice_key']}")
