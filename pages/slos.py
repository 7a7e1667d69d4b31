"""SLOs: every SLO and scope sorted by worst budget, burn rates and weekly history of one SLO,
and the alert history."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.slos import alert_history
from throughline import ui

ui.ensure_entrypoint("slos")

#: The board's columns in the order the page shows them (budgets first).
COLUMNS = [
    "status",
    "display_name",
    "scope",
    "budget_remaining",
    "budget_left",
    "budget_unit",
    "attainment",
    "target",
    "burn_long",
    "burn_short",
    "cases",
    "window",
    "paused_by",
    "slo",
    "kpi",
]
STATUS_ICON = {
    "ok": "✅ ok",
    "burning": "🔥 burning",
    "breached": "🔴 breached",
    "paused": "⏸️ paused",
    "no_data": "⚪ no data",
}


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def alerts(url: str, who: Access, version: str) -> pd.DataFrame:
    return alert_history(who, ui.engine())


ui.header(
    "SLOs",
    "Every service-level objective and scope, worst error budget first. Budgets "
    "are evaluated at the data's clock; the sidebar filters do not apply to SLOs.",
)
board, problem = ui.slo_board()
if problem:
    st.error(problem, icon="🛑")
    st.stop()
if board.empty:
    ui.empty("No SLO is configured, or there is no data to evaluate them on yet.")
    st.stop()

board = board.reset_index(drop=True)
shown = board.assign(status=board["status"].map(STATUS_ICON).fillna(board["status"]))
shown = shown[[c for c in COLUMNS if c in shown.columns]]
row = ui.table(
    shown,
    "board",
    name="slo-board",
    select=True,
    hide=("slo", "kpi"),
    columns={
        "display_name": st.column_config.TextColumn("SLO", width="large"),
        "target": st.column_config.NumberColumn("target", format="percent"),
        "attainment": st.column_config.NumberColumn("attainment", format="percent"),
        "budget_remaining": st.column_config.NumberColumn("budget left", format="percent"),
        "budget_left": st.column_config.NumberColumn("left", format="%.1f"),
        "burn_long": st.column_config.NumberColumn("burn (long)", format="%.1f×"),
        "burn_short": st.column_config.NumberColumn("burn (short)", format="%.1f×"),
    },
)
names = list(dict.fromkeys(board["slo"]))
titles = dict(zip(board["slo"], board["display_name"], strict=False))
selected = ui.pick("slo", None if row is None else str(board.iloc[row]["slo"]), "board")
current = selected if selected in names else names[0]
slo = st.selectbox(
    "SLO",
    names,
    index=names.index(current),
    format_func=titles.__getitem__,
    key=f"slo_choice_{current}",
)
if slo != current:
    st.query_params["slo"] = slo
scopes = board[board["slo"] == slo]

left, right = st.columns(2)
with left:
    st.subheader(
        "Burn rate by scope",
        help="1× spends the budget exactly over the window; the "
        "long and short windows of the fastest alert rule.",
    )
    fig = go.Figure(
        [
            go.Bar(name="long window", x=scopes["scope"], y=scopes["burn_long"]),
            go.Bar(name="short window", x=scopes["scope"], y=scopes["burn_short"]),
        ]
    )
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="1×")
    ui.layout(fig, 300, yaxis_title="burn rate")
    st.plotly_chart(fig, key="burn")
with right:
    st.subheader(
        "Weekly attainment",
        help="Share of good cases per week (red: the week alone "
        "missed the target); the table below has each week's budget consumed.",
    )
    weekly = ui.load(ui.slo_history, slo)
    target = float(scopes["target"].iloc[0])
    met = weekly["met"].map({True: "#2ca02c", False: "#d62728"}).fillna("#c7c7c7")
    fig = go.Figure(
        go.Bar(x=weekly["period"], y=weekly["attainment"], marker_color=met, name="attainment")
    )
    fig.add_hline(y=target, line_dash="dot", annotation_text="target")
    low = min([target - 0.05, *weekly["attainment"].dropna()])
    ui.layout(fig, 300, yaxis={"tickformat": ".0%", "range": [max(0.0, low - 0.02), 1.0]})
    st.plotly_chart(fig, key="history")
ui.table(weekly, "weekly", name=f"slo-history-{slo}")

st.subheader("Alert history", help="Alert episodes, newest first.")
episodes = ui.load(alerts, ui.db_url(), ui.access(), ui.version())
if episodes.empty:
    ui.empty("No alert has fired yet.")
else:
    ui.table(episodes, "alerts", name="alert-history")
