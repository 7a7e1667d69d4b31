"""Case trace: one deal, project or invoice end to end across systems — events and sync attempts
on one timeline, the failed run that delayed it, deep links to the source records."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import streamlit as st

from metrics.views.access import Access
from metrics.views.trace import CaseTrace, case_trace, find_cases, parse_case_ref
from throughline import ui

ui.ensure_entrypoint("trace")

SYMBOLS = {"event": "circle", "sync": "diamond"}
COLOURS = {"success": "#2ca02c", "failed": "#d62728", "running": "#7f7f7f", "": "#1f77b4"}


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, case_type: str, case_key: str, as_of: datetime) -> CaseTrace | None:
    return case_trace(who, ui.engine(), ui.config(), case_type, case_key, as_of)


ui.header(
    "Case trace",
    "One deal, project or invoice across the CRM, PSA, ERP and integration "
    "platform: what happened, when, and which failed sync held it up.",
)
text = st.text_input(
    "Find a deal, project or invoice", placeholder="key or customer name", key="trace_search"
)
if text:
    hits = ui.load(find_cases, ui.access(), ui.engine(), text)
    if hits.empty:
        ui.empty(
            f"Nothing matches “{ui.safe(text)}”. Try part of a key (e.g. PRJ-003) or a customer."
        )
    else:
        row = ui.table(hits, "hits", name="case-search", select=True)
        if row is not None:
            st.query_params["case"] = f"{hits.iloc[row]['type']}:{hits.iloc[row]['source_key']}"

parsed = ui.param("case", parse_case_ref)
if parsed is None:
    ui.empty(
        "Pick a case: search above, or click a row on another page (stuck deals, slow "
        "invoices, unbilled work, failed sync attempts) to open its trace here."
    )
    st.stop()

trace = ui.load(load, ui.db_url(), ui.access(), parsed[0], parsed[1], ui.as_of())
if trace is None:
    ui.empty(
        f"There is no {parsed[0]} {ui.safe(parsed[1])} in the store. It may not have been "
        "collected yet, or the link is mistyped."
    )
    st.stop()

case = trace.case
st.subheader(f"{trace.case_type.capitalize()} {ui.safe(trace.case_key)}")
facts = [str(case.get(k)) for k in ("customer", "legal_entity", "practice") if case.get(k)]
amount = case.get("amount")
if amount is not None:
    facts.append(f"{case.get('currency') or ''} {float(str(amount)):,.2f}".strip())
st.caption(" · ".join(ui.safe(f) for f in facts))
if case.get("link"):
    st.link_button(f"Open in {case.get('source_system')}", str(case["link"]), icon="🔗")

delay = trace.delay
if delay is not None:
    resolved = (
        f"resolved {delay.resolved_at:%Y-%m-%d %H:%M} UTC after {ui.fmt(delay.hours, 'hours')}"
        if delay.resolved_at
        else f"still failing after {ui.fmt(delay.hours, 'hours')}"
    )
    st.warning(
        f"Held up by {ui.safe(delay.flow)} for {ui.safe(delay.object_key)}: first failed "
        f"{delay.first_failed_at:%Y-%m-%d %H:%M} UTC, {resolved}, {delay.attempts} attempt(s). "
        f"Error: {ui.safe(delay.error)}",
        icon="🐢",
    )
    if ui.access().can_open("sync") and st.button("Show its failed attempts", key="delay_attempts"):
        ui.drill("sync", focus=f"trace|{delay.trace_key}")

timeline = trace.timeline
st.subheader(
    "Timeline",
    help="Events (●) and sync attempts (◆, red when failed), one lane per "
    "record. Click a point to see it in the table below.",
)
if timeline.empty:
    ui.empty("No event or sync attempt is stored for this case yet.")
else:
    fig = go.Figure()
    # failed attempts last, so they are drawn on top of the successes around them
    order = {"": 0, "success": 1, "running": 2, "failed": 3}
    groups = sorted(timeline.groupby(["kind", "status"]), key=lambda g: order.get(g[0][1], 0))
    for (kind, status), group in groups:
        fig.add_trace(
            go.Scatter(
                x=group["at"],
                y=group["lane"],
                mode="markers",
                name=f"{kind} {status}".strip(),
                marker={
                    "symbol": SYMBOLS.get(str(kind), "circle"),
                    "size": 10,
                    "color": COLOURS.get(str(status), "#1f77b4"),
                },
                customdata=group.index,
                text=group["what"],
                hovertemplate="%{text}<br>%{x}<extra></extra>",
            )
        )
    lanes = timeline["lane"].nunique()
    ui.layout(fig, max(240, 34 * lanes + 90))
    event = st.plotly_chart(fig, key="timeline", on_select="rerun", selection_mode="points")
    at = ui.chart_pick(event, "customdata")
    shown = timeline.loc[[int(at)]] if at is not None and int(at) in timeline.index else timeline
    ui.table(
        shown,
        "timeline_table",
        name=f"trace-{trace.case_type}-{trace.case_key}",
        columns={
            "link": st.column_config.LinkColumn("source record", display_text="open"),
            "at": ui.when("when (UTC)"),
        },
    )

st.subheader("Records in this case", help="Click a row to trace that record instead.")
objects = trace.objects
row = ui.table(
    objects,
    "objects",
    name=f"records-{trace.case_type}-{trace.case_key}",
    select=True,
    hide=("id",),
    columns={"link": st.column_config.LinkColumn("source record", display_text="open")},
)
if row is not None:
    chosen = objects.iloc[row]
    if (chosen["type"], chosen["source_key"]) != (trace.case_type, trace.case_key):
        ui.drill("trace", case=f"{chosen['type']}:{chosen['source_key']}")
