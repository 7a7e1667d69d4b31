"""Sync errors (integration support): error rate per integration and flow with spikes marked,
error classes, top signatures, open exceptions, time to resolve, and the failed attempts behind
any point with their (masked) payload and retry lineage."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.common import Filters
from metrics.views.sync import (
    AttemptQuery,
    SyncView,
    attempt_lineage,
    failed_attempts,
    sync_view,
)
from metrics.views.trace import case_of_object
from throughline import ui
from throughline.ui import params

ui.ensure_entrypoint("sync")


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, filters: Filters, as_of: datetime) -> SyncView:
    return sync_view(who, ui.engine(), ui.config(), filters, as_of)


def focus_query(focus: str) -> tuple[AttemptQuery, str]:
    """The attempts a focus parameter stands for, and a title for them (ValueError when it
    stands for none)."""
    kind, rest = params.pair("|", ("point", "class", "sig", "trace"))(focus)
    if kind == "point":
        day, flow = params.pair("|")(rest)
        return AttemptQuery(day=params.day(day), flow=flow), f"{flow} on {day}"
    if not rest:
        raise ValueError("nothing chosen")
    if kind == "class":
        return AttemptQuery(error_class=rest), f"error class {rest}"
    if kind == "sig":
        return AttemptQuery(error_signature=rest), f"signature “{rest}”"
    return AttemptQuery(trace_key=rest), f"record trace {rest}"


ui.header(
    "Sync errors",
    "First-attempt error rate of every integration flow per day, with "
    "spikes against the trailing 28-day baseline; click any point, bar or row to see "
    "the failed attempts behind it.",
)
filters = ui.filters()
view = ui.load(load, ui.db_url(), ui.access(), filters, ui.as_of())
kpi = view.kpi
if view.empty:
    ui.empty("No sync attempt was recorded in this period for these filters.")
    st.stop()

t = kpi.totals
cols = st.columns(6)
cols[0].metric("First-attempt error rate", ui.fmt(t.first_attempt_error_rate, "share"))
cols[1].metric("Failed first attempts", ui.fmt(t.failed_first_attempts, "count"))
cols[2].metric("Retries", ui.fmt(t.retries, "count"))
cols[3].metric("Failing records", ui.fmt(t.failing_records, "count"))
cols[4].metric("Open exceptions", ui.fmt(len(kpi.open_exceptions), "count"))
cols[5].metric("p50 time to resolve", ui.fmt(kpi.time_to_resolve.p50_hours, "hours"))

st.subheader(
    "Error rate per flow",
    help="Daily failed first attempts ÷ first attempts; ✖ marks "
    "a spike. Click a point to list that day's failed attempts.",
)
daily = kpi.daily
fig = go.Figure()
for flow, group in daily.groupby("flow"):
    fig.add_trace(
        go.Scatter(
            x=group["day"],
            y=group["first_attempt_error_rate"],
            name=str(flow),
            mode="lines+markers",
            customdata=group["flow"],
            marker={"size": 5},
        )
    )
spikes = kpi.spikes
if len(spikes):
    fig.add_trace(
        go.Scatter(
            x=spikes["day"],
            y=spikes["first_attempt_error_rate"],
            name="spike",
            mode="markers",
            customdata=spikes["flow"],
            marker={"symbol": "x", "size": 13, "color": "#d62728"},
        )
    )
ui.layout(fig, 320, yaxis={"tickformat": ".0%"})
event = st.plotly_chart(fig, key="rate", on_select="rerun", selection_mode="points")
day, flow = ui.chart_pick(event, "x"), ui.chart_pick(event, "customdata")
point = f"point|{str(day)[:10]}|{flow}" if day and flow else None
focus = ui.pick("focus", point, "rate", parse=focus_query)

left, right = st.columns(2)
with left:
    st.subheader("Error classes", help="Click a bar to list failed attempts of that class.")
    classes = kpi.error_classes
    fig = go.Figure(
        go.Bar(
            x=classes["error_class"],
            y=classes["failed_attempts"],
            text=[ui.fmt(s, "share") for s in classes["share"]],
        )
    )
    ui.layout(fig, 260, yaxis_title="failed attempts")
    event = st.plotly_chart(fig, key="classes", on_select="rerun", selection_mode="points")
    picked = ui.chart_pick(event, "x")
    focus = ui.pick("focus", f"class|{picked}" if picked else None, "classes", parse=focus_query)
with right:
    st.subheader("Time to resolve", help="First failure → first later success of a record.")
    ttr = kpi.time_to_resolve
    a, b, c = st.columns(3)
    a.metric("p50", ui.fmt(ttr.p50_hours, "hours"))
    b.metric("p90", ui.fmt(ttr.p90_hours, "hours"))
    c.metric("Resolved", ui.fmt(ttr.resolved, "count"))
    if len(spikes):
        st.caption(
            "Spikes: "
            + ", ".join(
                f"{d} {ui.safe(f)}" for d, f in zip(spikes["day"], spikes["flow"], strict=True)
            )
        )

st.subheader(
    "Top signatures",
    help="Messages with ids and numbers normalised away. Click a row to list its failed attempts.",
)
signatures = kpi.top_signatures
row = ui.table(signatures, "signatures", name="sync-top-signatures", select=True)
picked = None if row is None else f"sig|{signatures.iloc[row]['error_signature']}"
focus = ui.pick("focus", picked, "signatures", parse=focus_query)

st.subheader("Open exceptions", help="Records whose latest attempt failed, oldest first.")
open_ = kpi.open_exceptions
if open_.empty:
    ui.empty("No open exception: every failing record has since succeeded.")
else:
    shown = open_[
        [
            "integration",
            "flow",
            "trace_key",
            "customer",
            "legal_entity",
            "attempts",
            "first_failed_at",
            "latest_error_class",
            "latest_error_signature",
            "age_hours",
        ]
    ]
    row = ui.table(
        shown,
        "open",
        name="sync-open-exceptions",
        select=True,
        columns={"age_hours": st.column_config.NumberColumn("open (h)", format="%.1f")},
    )
    picked = None if row is None else f"trace|{shown.iloc[row]['trace_key']}"
    focus = ui.pick("focus", picked, "open", parse=focus_query)

if focus is not None:
    query, title = focus
    st.subheader(f"Failed attempts: {ui.safe(title)}")
    if st.button("Clear", key="clear_focus"):
        ui.clear_param("focus", "attempt")
        st.rerun()
    attempts = ui.load(failed_attempts, ui.access(), ui.engine(), filters, query)
    if attempts.empty:
        ui.empty("No failed attempt matches this point within the filters.")
    row = ui.table(
        attempts,
        "attempts",
        name="sync-failed-attempts",
        select=True,
        hide=("id", "retry_of_id", "object_id"),
    )
    attempt_id = ui.pick(
        "attempt",
        None if row is None else str(attempts.iloc[row]["id"]),
        "attempts",
        parse=params.record_id,
    )
    lineage = (
        None
        if attempt_id is None
        else ui.load(attempt_lineage, ui.access(), ui.engine(), attempt_id)
    )
    if lineage is not None:
        left, right = st.columns([2, 3])
        with left:
            st.markdown("**Payload** (sensitive fields masked)")
            st.json(lineage.payload or {}, expanded=True)
        with right:
            st.markdown("**Retry lineage**: every attempt for this record, in order")
            ui.table(lineage.attempts, "lineage", name="sync-retry-lineage")
            object_id = lineage.attempt.get("object_id")
            case = (
                ui.load(case_of_object, ui.access(), ui.engine(), int(object_id))
                if object_id
                else None
            )
            if case and st.button(
                f"🧭 Open the case trace of {case[0]} {case[1]}", key="attempt_trace"
            ):
                ui.drill("trace", case=f"{case[0]}:{case[1]}")
