"""Shared Streamlit plumbing: the cached engine and the "data as of" line. No KPI logic here."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from metrics.db import make_engine
from metrics.overview import data_as_of
from throughline.settings import get_settings


@st.cache_resource
def engine() -> Engine:
    """The process-wide engine (sessions are never cached)."""
    return make_engine(get_settings().database_url)


def freshness_caption() -> None:
    """Show when the data was last collected."""
    as_of = data_as_of(engine())
    if as_of is None:
        st.caption("No collector has finished a run yet: run `throughline collect`.")
    else:
        st.caption(f"Data as of {as_of:%Y-%m-%d %H:%M} UTC")
