"""Collectors (admin): status, last run, lag, rows, last error, quarantined records, run now,
and what the store holds."""

from __future__ import annotations

import streamlit as st

from metrics.views.access import Access
from metrics.views.admin import CollectorsView, collectors_view, request_run, runnable
from throughline import ui

ui.ensure_entrypoint("collectors")

HEALTH_ICON = {
    "ok": "✅ ok",
    "stale": "🕰️ stale",
    "failing": "🔴 failing",
    "running": "🔄 running",
    "never run": "⚪ never run",
    "imported": "📥 imported",
    "import failed": "🔴 import failed",
}


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, version: str) -> CollectorsView:
    return collectors_view(who, ui.engine(), ui.config())


ui.header(
    "Collectors",
    "Each source's collector: how it last ran, how far behind it is, what it "
    "stored and what it could not map. Runs happen in the worker, never in this page.",
)
view = ui.load(load, ui.db_url(), ui.access(), ui.version())
health = view.health.assign(
    health=view.health["health"].map(HEALTH_ICON).fillna(view.health["health"])
)

st.subheader("Health")
ui.table(
    health,
    "health",
    name="collector-health",
    columns={
        "last_run": ui.when("last run (UTC)"),
        "last_success": ui.when("last success (UTC)"),
        "source_time": ui.when("newest source record (UTC)"),
        "lag_minutes": st.column_config.NumberColumn("minutes since success", format="%.0f"),
        "last_error": st.column_config.TextColumn("last error", width="large"),
    },
)
if view.empty:
    ui.empty(
        "No collector has run yet. Start the worker with `throughline worker`, or ask for a "
        "run below once it is up."
    )

st.subheader("Run now", help="Queues a run; the worker picks it up within a few seconds.")
names = runnable(view.health)
with st.form("run_now"):
    chosen = st.selectbox("Collector", names, disabled=not names)
    if st.form_submit_button("▶️ Run now", disabled=not names) and chosen:
        request_id = ui.load(request_run, ui.access(), ui.engine(), str(chosen))
        load.clear()
        st.toast(
            f"Run of {chosen} requested (request {request_id}); the worker will start it.",
            icon="✅",
        )
        st.rerun()
if view.requests.empty:
    st.caption("No run has been requested from here yet.")
else:
    last = view.requests.iloc[0]
    outcome = f" ({ui.safe(last['outcome'])})" if last["outcome"] else ""
    st.caption(f"Latest request: {ui.safe(last['collector'])} — {last['status']}{outcome}")
    ui.table(
        view.requests,
        "requests",
        name="run-requests",
        columns={"outcome": st.column_config.TextColumn("outcome", width="large")},
    )

st.subheader(
    "Quarantined records",
    help="Input a collector could not map, with the reason; the "
    "raw record is stored with secrets and sensitive fields masked. Click a row.",
)
quarantine = view.quarantine
if quarantine.empty:
    st.success("Nothing is in quarantine: every record read so far could be mapped.", icon="✅")
else:
    row = ui.table(quarantine, "quarantine", name="quarantine", select=True, hide=("raw",))
    if row is not None:
        st.code(str(quarantine.iloc[row]["raw"]), language="json", wrap_lines=True)

with st.expander("What the store holds"):
    st.metric("Sync attempts", ui.fmt(view.sync_attempts, "count"))
    left, right = st.columns(2)
    with left:
        ui.table(view.objects, "objects", name="objects-by-type")
    with right:
        ui.table(view.activities, "activities", name="events-by-activity")
