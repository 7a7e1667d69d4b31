"""Throughline's dashboard: page config, navigation by audience, the shared filters, the page."""

from __future__ import annotations

import streamlit as st

from throughline import ui

st.set_page_config(page_title="Throughline", page_icon="🔁", layout="wide")
# People see sentences about their data (see `ui.load`), never developer menus. Error details
# are off in Streamlit's configuration (.streamlit/config.toml, and the flags `throughline serve`
# passes), so they are off before any page code runs.
st.set_option("client.toolbarMode", "viewer")

navigation = ui.navigation(ui.gate())
ui.chrome()
with ui.entrypoint():
    navigation.run()
