"""Throughline's dashboard entry point: page config, navigation, shared chrome."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Throughline", page_icon="🔁", layout="wide")

navigation = st.navigation(
    {
        "Overview": [st.Page("pages/overview.py", title="Store overview", icon="📊", default=True)],
        "Admin": [st.Page("pages/collectors.py", title="Collectors", icon="🛠️")],
    }
)
st.sidebar.caption("Demo mode: no sign-in; every visitor sees all data.")
navigation.run()
