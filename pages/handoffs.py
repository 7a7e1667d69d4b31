"""Project setup & stuck handoffs (PMO): latency trend and the work queue of won deals with no
project — owner, age, the sync error blocking each — with assign / snooze / note actions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.common import Filters
from metrics.views.handoffs import (
    ActionRefused,
    HandoffView,
    action_history,
    closed_in_week,
    handoff_view,
    record_action,
    visible_queue,
)
from throughline import ui
from throughline.ui import params

ui.ensure_entrypoint("handoffs")


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, filters: Filters, as_of: datetime) -> HandoffView:
    return handoff_view(who, ui.engine(), ui.config(), filters, as_of)


ui.header(
    "Project setup & stuck handoffs",
    "Business days from a deal's first win to its first "
    "project, and the won deals still waiting for one: who owns each and what blocks it.",
)
as_of = ui.as_of()
view = ui.load(load, ui.db_url(), ui.access(), ui.filters(), as_of)
kpi = view.kpi
if view.empty:
    ui.empty(
        "No deal was won in this period for these filters, and none is waiting for a "
        "project. Widen the period or clear the filters."
    )
    st.stop()

cols = st.columns(5)
cols[0].metric("p50 setup latency", ui.fmt(kpi.stats.p50_days, "business_days"))
cols[1].metric("p90 setup latency", ui.fmt(kpi.stats.p90_days, "business_days"))
cols[2].metric(f"Within {kpi.target_days:g} bd", ui.fmt(kpi.stats.within_target, "share"))
cols[3].metric("Touchless", ui.fmt(kpi.touchless_share, "share"))
cols[4].metric("Stuck handoffs", ui.fmt(len(view.queue), "count"))

st.subheader(
    "Work queue: won deals with no project",
    help="Oldest first. Select a row to "
    "assign it, snooze it or add a note; open its case trace from there.",
)
show_snoozed = st.toggle("Show snoozed deals", key="show_snoozed")
queue = visible_queue(view.queue, as_of.date(), show_snoozed=show_snoozed)
currency = ui.config().reporting_currency
if queue.empty:
    ui.empty(
        "No won deal is waiting for a project (snoozed ones are hidden)."
        if len(view.queue)
        else "No won deal is waiting for a project."
    )
    row = None
else:
    row = ui.table(
        queue,
        "queue",
        name="stuck-handoffs",
        select=True,
        hide=("deal_id",),
        columns={
            "age_business_days": st.column_config.NumberColumn("age (bd)", format="%.1f"),
            "amount_rc": ui.money(f"amount ({currency})"),
            "blocking_error": st.column_config.TextColumn("blocking sync error", width="large"),
            "won_at": ui.when("won (UTC)"),
            "error_since": ui.when("failing since (UTC)"),
        },
    )
deal = ui.pick("deal", None if row is None else str(queue.iloc[row]["deal_key"]), "queue")
chosen = view.queue[view.queue["deal_key"] == deal] if deal else view.queue.iloc[0:0]
if len(chosen):
    case = chosen.iloc[0]
    deal_id = int(case["deal_id"])
    with st.container(border=True):
        st.markdown(
            f"**Deal {ui.safe(deal)}** · {ui.safe(case['customer'])} · owner "
            f"{ui.safe(case['owner'])}"
        )
        if st.button("🧭 Open its case trace", key="open_trace"):
            ui.drill("trace", case=f"deal:{deal}")
        with st.form("action", clear_on_submit=True):
            action = st.radio(
                "Action", ["assign", "snooze", "note"], horizontal=True, format_func=str.capitalize
            )
            assignee = st.text_input("Assign to", max_chars=200)
            until = st.date_input(
                "Snooze until",
                value=as_of.date() + timedelta(days=7),
                min_value=as_of.date() + timedelta(days=1),
            )
            note = st.text_area("Note", max_chars=2000)
            signed_in = ui.access().signed_in
            who = st.text_input(
                "Your name",
                value=ui.actor(),
                max_chars=200,
                disabled=signed_in,
                help="Your signed-in account" if signed_in else None,
            )
            if st.form_submit_button("Save"):
                try:
                    record_action(
                        ui.access(),
                        ui.engine(),
                        case_type="deal",
                        case_id=deal_id,
                        case_key=deal,
                        action=action,
                        actor=who,
                        assignee=assignee,
                        snoozed_until=until if isinstance(until, date) else None,
                        note=note,
                        today=as_of.date(),
                    )
                except ActionRefused as exc:
                    st.error(str(exc), icon="✋")
                else:
                    load.clear()
                    ui.hold("deal", "queue")
                    st.toast(f"Saved: {action} on deal {ui.safe(deal)}.", icon="✅")
                    st.rerun()
        history = ui.load(action_history, ui.access(), ui.engine(), "deal", deal_id)
        if history.empty:
            st.caption("No action taken on this deal yet.")
        else:
            ui.table(history, "history", name=f"actions-{deal}")

st.subheader("Setup latency by week", help="Click a week to list the handoffs closed in it.")
weeks = kpi.by_week
fig = go.Figure(
    [
        go.Scatter(x=weeks["period"], y=weeks["p50_days"], name="p50", mode="lines+markers"),
        go.Scatter(x=weeks["period"], y=weeks["p90_days"], name="p90", mode="lines+markers"),
    ]
)
fig.add_hline(y=kpi.target_days, line_dash="dot", annotation_text="target")
ui.layout(fig, 280, yaxis_title="business days")
picked = st.plotly_chart(fig, key="weeks", on_select="rerun", selection_mode="points")
week = ui.pick("week", str(ui.chart_pick(picked, "x") or "")[:10] or None, parse=params.day)
if week:
    closed = closed_in_week(view, week)
    st.caption(f"Handoffs closed in the week of {week:%Y-%m-%d}.")
    if st.button("Clear the week", key="clear_week"):
        ui.clear_param("week")
        st.rerun()
else:
    closed = view.closed
    st.caption("Handoffs closed in the period, newest first.")
row = ui.table(closed, "closed", name="handoffs-closed", select=True)
if row is not None:
    ui.drill("trace", case=f"deal:{closed.iloc[row]['deal_key']}")
