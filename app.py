"""Throughline's dashboard: page config, navigation by audience, the shared filters, the page."""

from __future__ import annotations

import streamlit as st

from throughline import ui

st.set_page_config(page_title="Throughline", page_icon="🔁", layout="wide")
# People see sentences about their data (see `ui.load`), never a stack trace or developer menus.
st.set_option("client.showErrorDetails", "none")
st.set_option("client.toolbarMode", "viewer")

navigation = ui.navigation(ui.gate())
ui.chrome()
with ui.entrypoint():
    navigation.run()
