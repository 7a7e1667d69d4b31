"""Collectors (admin): the latest run of each collector, its rows, errors and quarantine."""

import streamlit as st

from metrics.overview import collector_status
from throughline.ui import engine, freshness_caption

st.title("Collectors")
freshness_caption()
status = collector_status(engine())
if status.empty:
    st.info("No collector has run yet.")
else:
    st.dataframe(status, hide_index=True, width="stretch")
