"""Audit log (admin): sign-ins, exports and work-queue actions, newest first."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.views.access import Access
from metrics.views.audit import audit_log
from throughline import ui

ui.ensure_entrypoint("audit")


@st.cache_data(ttl=ui.TTL, show_spinner=False)
def load(url: str, who: Access, version: str) -> pd.DataFrame:
    return audit_log(who, ui.engine())


ui.header("Audit log", "Who signed in, exported a table or changed the work queue, and when.")
log = ui.load(load, ui.db_url(), ui.access(), ui.version())
if log.empty:
    ui.empty("Nothing audited yet: sign-ins, exports and work-queue actions appear here.")
    st.stop()
actions = st.segmented_control(
    "Show",
    ["sign_in", "export", "work_queue"],
    selection_mode="multi",
    key="audit_actions",
    format_func=lambda a: a.replace("_", " "),
)
shown = log[log["action"].isin(actions)] if actions else log
ui.table(shown, "audit", name="audit-log", columns={"at": ui.when("At")})
