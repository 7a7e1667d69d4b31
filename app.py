"""Throughline's dashboard: page config, navigation by audience, the shared filters, the page."""

from __future__ import annotations

import streamlit as st

from throughline import ui

st.set_page_config(page_title="Throughline", page_icon="🔁", layout="wide")
# People see sentences about their data (see `ui.load`), never a stack trace or developer menus.
st.set_option("client.showErrorDetails", "none")
st.set_option("client.toolbarMode", "viewer")

navigation = st.navigation(
    {
        "Finance (CFO)": [
            st.Page(ui.PAGES["overview"], title="Overview", icon="📊", default=True),
            st.Page(ui.PAGES["invoices"], title="Invoice cycle", icon="🧾"),
            st.Page(ui.PAGES["unbilled"], title="Unbilled aging", icon="⏳"),
            st.Page(ui.PAGES["slos"], title="SLOs", icon="🎯"),
        ],
        "Delivery (PMO)": [
            st.Page(ui.PAGES["handoffs"], title="Project setup & stuck handoffs", icon="🤝"),
        ],
        "Integration support": [
            st.Page(ui.PAGES["sync"], title="Sync errors", icon="🔌"),
            st.Page(ui.PAGES["trace"], title="Case trace", icon="🧭"),
        ],
        "Admin": [st.Page(ui.PAGES["collectors"], title="Collectors", icon="🛠️")],
    }
)
ui.chrome()
with ui.entrypoint():
    navigation.run()
