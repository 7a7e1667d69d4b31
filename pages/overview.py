"""Overview (CFO): a tile per KPI, SLO budgets, cash impact, where the money waits, freshness."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.common import Filters
from metrics.views.overview import Board, board
from throughline import ui
from throughline.ui import params

ui.ensure_entrypoint("overview")

STATUS_ICON = {"ok": "✅", "burning": "🔥", "breached": "🔴", "paused": "⏸️", "no_data": "⚪"}
TOP = 10
#: The cases behind each part of the cash impact.
CASE_OF_PART = {"stuck_handoffs": "deal", "invoicing_delay": "invoice", "unbilled_work": "project"}
PART_COLOURS = {
    "stuck_handoffs": "#d62728",
    "invoicing_delay": "#ff7f0e",
    "unbilled_work": "#1f77b4",
}


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, filters: Filters, as_of: datetime, slos: pd.DataFrame) -> Board:
    return board(who, ui.engine(), ui.config(), filters, as_of, slos, top=200)


ui.header(
    "Overview",
    "The quote-to-cash KPIs against their targets, SLO budgets, and the money "
    "waiting on delays. Click a tile's link, a bar or a row to see the records behind it.",
)
slos, slo_problem = ui.slo_board()
view = ui.load(load, ui.db_url(), ui.access(), ui.filters(), ui.as_of(), slos)
if slo_problem:
    st.warning(slo_problem, icon="⚠️")
if view.empty:
    ui.empty(
        "No deals, invoices, unbilled work or sync attempts match these filters. Widen the "
        "period or clear the legal entity, practice or customer filters."
    )
    st.stop()

for row in range(0, len(view.tiles), 4):
    for column, tile in zip(st.columns(4), view.tiles[row : row + 4], strict=False):
        with column.container(border=True):
            money_days = tile.unit == "money_days"
            st.metric(
                f"{tile.title} ({view.currency}·days)" if money_days else tile.title,
                ui.compact(tile.value)
                if money_days and tile.value is not None
                else ui.fmt(tile.value, tile.unit, view.currency),
                chart_data=list(tile.trend) or None,
                chart_type="line",
            )
            facts = " · ".join(
                f"{f.label} {ui.fmt(f.value, f.unit, view.currency)}" for f in tile.facts
            )
            target = f"target {tile.target}" if tile.target else ""
            st.caption(" · ".join(p for p in (facts, target) if p) or " ")
            if tile.slo_status:
                st.caption(
                    f"{STATUS_ICON.get(tile.slo_status, '')} SLO {tile.slo_status}: {tile.slo_name}"
                )
            if tile.page != "overview" and ui.access().can_open(tile.page):
                st.page_link(
                    ui.PAGES[tile.page],
                    label="Details",
                    icon="➡️",
                    query_params=ui.filter_params(),
                )

left, right = st.columns(2)
with left:
    st.subheader(
        "SLO error budgets left",
        help="Share of each SLO's error budget still "
        "unspent in its window (below 0: overspent). Click a bar for its burn history.",
    )
    budgets = view.budgets
    if budgets.empty:
        ui.empty("No SLO has been evaluated.")
    else:
        shown = budgets["budget_remaining"].clip(lower=-1.0, upper=1.0)
        fig = go.Figure(
            go.Bar(
                x=shown,
                y=budgets["display_name"],
                orientation="h",
                customdata=budgets["slo"],
                text=[ui.fmt(v, "share") for v in budgets["budget_remaining"]],
                textposition="auto",
                marker_color=[
                    "#2ca02c" if v > 0.25 else "#ff7f0e" if v > 0 else "#d62728"
                    for v in budgets["budget_remaining"]
                ],
            )
        )
        ui.layout(
            fig,
            260,
            xaxis={"tickformat": ".0%", "range": [-1.05, 1.05]},
            yaxis={"autorange": "reversed"},
        )
        picked = st.plotly_chart(fig, key="budgets", on_select="rerun", selection_mode="points")
        slo = ui.chart_pick(picked, "customdata")
        if slo:
            ui.drill("slos", slo=str(slo))
with right:
    st.subheader(
        "Cash impact",
        help="Money × days of delay in the reporting currency: stuck "
        "handoffs, invoicing delay and unbilled work. Click a bar to list its biggest cases.",
    )
    cash = view.cash_by_entity
    fig = go.Figure(
        [
            go.Bar(
                name=part.replace("_", " "),
                x=group["legal_entity"].fillna("(none)"),
                y=group["money_days"],
                customdata=[part] * len(group),
                marker_color=PART_COLOURS.get(part),
            )
            for part, group in cash.groupby("part")
        ]
    )
    ui.layout(fig, 260, barmode="stack", yaxis_title=f"{view.currency}·days")
    picked = st.plotly_chart(fig, key="cash", on_select="rerun", selection_mode="points")
    bar = ui.chart_pick(picked, "x"), ui.chart_pick(picked, "customdata")
    focus = ui.pick(
        "cash",
        f"{bar[0]}|{bar[1]}" if bar[0] and bar[1] else None,
        "cash",
        parse=params.pair("|"),
    )

st.subheader(
    "Where the money waits",
    help="The cases holding the most money for the longest. Click a row to open its case trace.",
)
delays = view.delays.head(TOP)
if focus:
    entity, part = focus
    delays = view.delays[
        (view.delays["legal_entity"].fillna("(none)") == entity)
        & (view.delays["case"] == CASE_OF_PART.get(part))
    ].reset_index(drop=True)
    st.caption(f"{ui.safe(part.replace('_', ' ').capitalize())} in {ui.safe(entity)} only.")
    if st.button("Show every case", key="cash_clear"):
        ui.clear_param("cash")
        st.rerun()
if delays.empty:
    ui.empty("No delayed case holds money in this selection.")
else:
    row = ui.table(
        delays,
        "delays",
        name="where-the-money-waits",
        select=True,
        columns={
            "amount_rc": ui.money(f"amount ({view.currency})"),
            "days": st.column_config.NumberColumn("days waiting", format="%.1f"),
            "money_days": st.column_config.NumberColumn(f"{view.currency}·days", format="compact"),
        },
    )
    if row is not None:
        case = delays.iloc[row]
        ui.drill("trace", case=f"{case['case']}:{case['key']}")

st.subheader("Data freshness")
ui.table(
    view.collectors,
    "freshness",
    name="collector-freshness",
    columns={
        "last_success": ui.when("last success (UTC)"),
        "source_time": ui.when("newest source record (UTC)"),
    },
)
