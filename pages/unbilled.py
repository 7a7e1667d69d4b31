"""Unbilled aging: approved billable work not yet on a posted invoice, in age buckets by
customer, project or practice (reporting currency), and WIP over time."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.common import Filters
from metrics.views.unbilled import GROUPINGS, LABELS, UnbilledView, items_behind, unbilled_view
from throughline import ui
from throughline.ui import params

ui.ensure_entrypoint("unbilled")

BUCKET_COLOURS = dict(
    zip(LABELS, ["#2ca02c", "#bcbd22", "#ff7f0e", "#d62728", "#7f0000"], strict=True)
)
TOP = 15


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, filters: Filters, as_of: datetime, group_by: str) -> UnbilledView:
    return unbilled_view(who, ui.engine(), ui.config(), filters, as_of, group_by)


ui.header(
    "Unbilled aging",
    "Approved, billable work not on a posted invoice, aged from the work "
    "date, in the reporting currency. Write-offs and holds are shown apart.",
)
group_by = ui.param("by", params.one_of(GROUPINGS)) or "customer"
chosen = st.segmented_control(
    "Group by", list(GROUPINGS), format_func=GROUPINGS.__getitem__, default=group_by, key="group_by"
)
group_by = chosen or group_by
if group_by != "customer":
    st.query_params["by"] = group_by
elif "by" in st.query_params:
    del st.query_params["by"]
view = ui.load(load, ui.db_url(), ui.access(), ui.filters(), ui.as_of(), group_by)
kpi = view.kpi
currency = kpi.reporting_currency
if view.empty:
    ui.empty("No approved, billable work is waiting to be invoiced for these filters.")
    st.stop()

cols = st.columns(5)
cols[0].metric("Unbilled work", ui.fmt(kpi.total.amount_rc, "money", currency))
cols[1].metric("Items", ui.fmt(kpi.total.items, "count"))
cols[2].metric(
    "Written off",
    ui.fmt(kpi.write_offs.amount_rc, "money", currency),
    help="Approved work written off from the start of the period to its end.",
)
cols[3].metric("On hold", ui.fmt(kpi.holds.amount_rc, "money", currency))
cols[4].metric("Without an FX rate", ui.fmt(kpi.unconverted, "count"))
if kpi.fx_issues:
    st.warning(
        f"{len(kpi.fx_issues)} exchange rate(s) are missing or old; e.g. "
        f"{ui.safe(kpi.fx_issues[0])}.",
        icon="💱",
    )

label = GROUPINGS[group_by]
st.subheader(
    f"By {label.lower()} and age",
    help=f"The {TOP} largest; click a bar segment to list the work items behind it.",
)
top = view.groups.head(TOP)
names = top[group_by].fillna("(none)").astype(str)
fig = go.Figure(
    [
        go.Bar(
            name=bucket,
            y=names,
            x=top[bucket],
            orientation="h",
            marker_color=BUCKET_COLOURS[bucket],
            customdata=[bucket] * len(top),
        )
        for bucket in LABELS
    ]
)
ui.layout(
    fig,
    max(260, 26 * len(top) + 80),
    barmode="stack",
    xaxis_title=currency,
    yaxis={"autorange": "reversed"},
)
picked = st.plotly_chart(fig, key="groups", on_select="rerun", selection_mode="points")
point = ui.chart_pick(picked, "y")
bucket = ui.chart_pick(picked, "customdata")
focus = ui.pick(
    "focus", f"{point}|{bucket}" if point is not None else None, "groups", parse=params.pair("|")
)
money = {b: ui.money(f"{b} days") for b in LABELS} | {"amount_rc": ui.money(f"total ({currency})")}
ui.table(view.groups, "groups_table", name=f"unbilled-by-{group_by}", columns=money)

if focus:
    group, bucket_name = focus
    items = items_behind(view, group, bucket_name or None)
    st.subheader(
        f"Work items: {label.lower()} {ui.safe(group)}, {ui.safe(bucket_name or 'all ages')} days"
    )
    if st.button("Clear", key="clear_focus"):
        ui.clear_param("focus")
        st.rerun()
else:
    items = view.items
    st.subheader("Work items, oldest first", help="Click a row to open its project's trace.")
row = ui.table(items, "items", name="unbilled-work-items", select=True)
if row is not None and items.iloc[row]["project_key"]:
    ui.drill("trace", case=f"project:{items.iloc[row]['project_key']}")

st.subheader("WIP over time", help="Unbilled work at 00:00 UTC of each date, by age bucket.")
over = view.over_time
fig = go.Figure(
    [
        go.Scatter(
            name=b,
            x=over["as_of"],
            y=over[b],
            stackgroup="wip",
            mode="lines",
            line={"color": BUCKET_COLOURS[b]},
        )
        for b in LABELS
    ]
)
ui.layout(fig, 300, yaxis_title=currency)
st.plotly_chart(fig, key="over_time")
ui.table(over, "over_time_table", name="wip-over-time", columns=money)
