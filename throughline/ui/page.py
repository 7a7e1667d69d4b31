"""What every page draws under its title: the lead line, the notice when nobody signs in, and
the live "data as of" line that redraws the page when new data arrives; an empty state."""

from __future__ import annotations

import streamlit as st

from metrics.views.common import freshness
from store.clock import data_version
from throughline.ui.data import as_of, config, engine
from throughline.ui.text import ago
from throughline.ui.visitor import access, notice, session_over

REFRESH_SECONDS = 30


def header(title: str, lead: str) -> None:
    """Title, one line on what the page is for, the demo notice and the live "data as of"."""
    st.title(title)
    who = access()
    st.caption(lead if who.signed_in else f"{lead}  \n{notice()}")
    st.session_state["_drawn"] = (as_of(), data_version(engine()))
    _freshness()


def version() -> str:
    """The data version this page was drawn with (a cache key for small, fast-moving tables)."""
    drawn = st.session_state.get("_drawn")
    return str(drawn[1]) if drawn else ""


@st.fragment(run_every=REFRESH_SECONDS)
def _freshness() -> None:
    """The "data as of" line. Every half minute it checks for new data; when the reporting
    clock moved or a collector run ended, the page redraws itself (a rerun, not a reload)."""
    target = engine()
    drawn = st.session_state.get("_drawn")
    current = (as_of(), data_version(target))
    if (drawn is not None and drawn != current) or session_over():
        st.rerun(scope="app")
    fresh = freshness(target, collectors=config().collectors)
    if not fresh.collected:
        st.info(
            "Nothing has been collected yet. Start the worker (`throughline worker`) or run "
            "`throughline collect`; this page fills in as data arrives.",
            icon="⏳",
        )
        return
    collected = (
        f"collected {ago(fresh.last_success)}" if fresh.last_success else "no successful run yet"
    )
    line = f"🕒 Data as of {current[0]:%Y-%m-%d %H:%M} UTC · {collected}"
    if fresh.failing:
        line += f" · ⚠️ failing: {', '.join(fresh.failing)}"
    if fresh.stale:
        line += f" · 🕰️ stale: {', '.join(fresh.stale)}"
    st.caption(line)


def empty(message: str) -> None:
    """An empty state: what is missing and what to try."""
    st.info(message, icon="🔎")
