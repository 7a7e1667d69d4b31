"""The dashboard's pages and how a visitor moves between them: the navigation by audience (the
pages their role may open), the entry point that draws the shared chrome, a page's own refusal
of a role, and drill-downs that carry the filters along (``st.switch_page(..., query_params=…)``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from metrics.views.access import Access
from throughline.ui.data import check_store
from throughline.ui.sidebar import filter_params, sidebar_filters
from throughline.ui.text import safe
from throughline.ui.visitor import access, gate, notice

PAGES = {
    "overview": "pages/overview.py",
    "invoices": "pages/invoice_cycle.py",
    "handoffs": "pages/handoffs.py",
    "unbilled": "pages/unbilled.py",
    "sync": "pages/sync_errors.py",
    "trace": "pages/case_trace.py",
    "slos": "pages/slos.py",
    "collectors": "pages/collectors.py",
    "audit": "pages/audit.py",
}
#: The navigation: audience → (page key, title, icon); each visitor sees the pages their role
#: may open (`metrics.views.access.PAGES_BY_ROLE`).
NAVIGATION: dict[str, list[tuple[str, str, str]]] = {
    "Finance (CFO)": [
        ("overview", "Overview", "📊"),
        ("invoices", "Invoice cycle", "🧾"),
        ("unbilled", "Unbilled aging", "⏳"),
        ("slos", "SLOs", "🎯"),
    ],
    "Delivery (PMO)": [("handoffs", "Project setup & stuck handoffs", "🤝")],
    "Integration support": [("sync", "Sync errors", "🔌"), ("trace", "Case trace", "🧭")],
    "Admin": [("collectors", "Collectors", "🛠️"), ("audit", "Audit log", "📜")],
}


# --- the entry point ---------------------------------------------------------------------------

_ENTRY = threading.local()


@contextmanager
def entrypoint() -> Iterator[None]:
    """Mark the page as run by `app.py` (the filters and chrome are drawn)."""
    _ENTRY.active = True
    try:
        yield
    finally:
        _ENTRY.active = False


def navigation(who: Access) -> Any:
    """`st.navigation` over the pages `who` may open, grouped by audience."""
    sections = {
        section: [
            st.Page(PAGES[key], title=title, icon=icon, default=key == "overview")
            for key, title, icon in pages
            if who.can_open(key)
        ]
        for section, pages in NAVIGATION.items()
    }
    return st.navigation({name: pages for name, pages in sections.items() if pages})


def chrome() -> None:
    """What every page shares, drawn by the entry point: who is signed in (or the notice that
    nobody needs to), the store check and the filters."""
    who = gate()
    if who.signed_in:
        st.sidebar.caption(f"Signed in as {safe(who.user)} · role: {who.role}")
        st.sidebar.button("Sign out", on_click=st.logout, type="tertiary", icon="🚪")
    else:
        st.sidebar.caption(notice())
    check_store()
    sidebar_filters()


def ensure_entrypoint(page: str) -> None:
    """Make sure the shared chrome is drawn around this page, and that the visitor's role may
    open it (a page refuses by itself, whatever the navigation showed).

    With a ``pages/`` folder next to the entry point, Streamlit starts in its old multipage
    mode, which runs a page file alone (no `app.py`) until some run calls ``st.navigation`` —
    e.g. a shared deep link opened right after the server started. Such a run switches
    Streamlit to `st.navigation` mode for the runs that follow and draws the chrome itself
    (without a rerun, so a click that triggered it is not lost).
    """
    if not getattr(_ENTRY, "active", False):
        st.navigation([st.Page(path) for path in PAGES.values()], position="hidden")
        chrome()
    who = access()
    if not who.can_open(page):
        st.error(
            f"Your role ({who.role}) cannot open this page. Pick one of the pages in the "
            "sidebar, or ask an administrator for another role.",
            icon="⛔",
        )
        st.stop()


def drill(page: str, **params: str) -> None:
    """Open another page (a key of `PAGES`) with the filters and `params` in its URL (a page
    the visitor's role may not open is not opened: a sentence says so)."""
    if not access().can_open(page):
        st.info(f"Your role ({access().role}) cannot open that page.", icon="⛔")
        return
    st.session_state["_restore_filters"] = True
    st.switch_page(PAGES[page], query_params={**filter_params(), **params})
