"""The shared filters: drawn in the sidebar (session state), seeded from the URL on a session's
first run and after a drill-down, and mirrored into ``st.query_params`` on every run, so any
view is a shareable link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import streamlit as st

from metrics.kpis.common import Filters
from metrics.views.access import Access
from metrics.views.common import (
    DEFAULT_PRESET,
    PRESETS,
    Dimensions,
    describe,
    dimensions,
    period_bounds,
    period_filters,
)
from throughline.ui import params
from throughline.ui.data import as_of, db_url, engine_for
from throughline.ui.links import not_understood
from throughline.ui.visitor import access

FILTER_KEYS = {
    "period": "f_period",
    "entity": "f_entity",
    "practice": "f_practice",
    "customer": "f_customer",
}


@st.cache_data(ttl=timedelta(minutes=5), show_spinner=False)
def _dimensions(url: str, who: Access) -> Dimensions:
    return dimensions(who, engine_for(url))


def _valid(values: Sequence[str], options: Sequence[str]) -> list[str]:
    allowed = set(options)
    return [v for v in values if v in allowed]


def _parse_day(name: str) -> date | None:
    value = st.query_params.get(name)
    try:
        return params.day(value) if value else None
    except ValueError:
        not_understood(name)
        return None


def _restore_from_url(dims: Dimensions, practices: Sequence[str]) -> None:
    """Seed the filter widgets from the URL on a session's first run (a shared link opens as
    sent) and after a drill-down (`st.switch_page` drops widget state; the URL carries it)."""
    arrived = st.session_state.pop("_restore_filters", False)
    if st.session_state.get("_filters_restored") and not arrived:
        return
    st.session_state["_filters_restored"] = True
    url = st.query_params
    preset = url.get("period", DEFAULT_PRESET)
    start, end = _parse_day("from"), _parse_day("to")
    if start and end:
        preset = "custom"
        st.session_state["f_range"] = (min(start, end), max(start, end))
    st.session_state["f_period"] = preset if preset in PRESETS else DEFAULT_PRESET
    for name, options in (
        ("entity", dims.legal_entities),
        ("practice", practices),
        ("customer", dims.customers),
    ):
        st.session_state[FILTER_KEYS[name]] = _valid(url.get_all(name), options)


def sidebar_filters() -> Filters:
    """Draw the shared filters in the sidebar, mirror them in the URL and return them."""
    who = access()
    dims = _dimensions(db_url(), who)
    now = as_of()
    allowed = list(dims.practices)
    _restore_from_url(dims, allowed)
    sb = st.sidebar
    sb.subheader("Filters")
    preset = sb.selectbox("Period", list(PRESETS), format_func=PRESETS.__getitem__, key="f_period")
    start = end = None
    if preset == "custom":
        st.session_state.setdefault("f_range", period_bounds(DEFAULT_PRESET, now))
        picked = sb.date_input("From – to", key="f_range", format="YYYY-MM-DD")
        if isinstance(picked, Sequence) and len(picked) == 2:
            start, end = picked[0], picked[1]
    first, last = period_bounds(preset, now, start, end)
    entities = sb.multiselect("Legal entity", dims.legal_entities, key="f_entity")
    practices = sb.multiselect("Practice", allowed, key="f_practice")
    customers = sb.multiselect(
        "Customer", dims.customers, key="f_customer", placeholder="All customers"
    )
    filters = who.scope(
        period_filters(first, last, tuple(entities), tuple(practices), tuple(customers))
    )
    st.session_state["_filters"] = filters
    st.session_state["_filter_params"] = _params(
        preset, first, last, entities, practices, customers
    )
    _mirror(st.session_state["_filter_params"])
    sb.caption(f"Showing {describe(filters)}.")
    return filters


def _params(
    preset: str,
    first: date,
    last: date,
    entities: Sequence[str],
    practices: Sequence[str],
    customers: Sequence[str],
) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    if preset == "custom":
        out["from"], out["to"] = first.isoformat(), last.isoformat()
    elif preset != DEFAULT_PRESET:
        out["period"] = preset
    for name, values in (("entity", entities), ("practice", practices), ("customer", customers)):
        if values:
            out[name] = list(values)
    return out


def _mirror(params: Mapping[str, str | list[str]]) -> None:
    """Write the filter parameters into the URL, leaving page parameters alone."""
    for name in ("period", "from", "to", "entity", "practice", "customer"):
        wanted = params.get(name)
        if wanted is None:
            if name in st.query_params:
                del st.query_params[name]
        elif (
            st.query_params.get_all(name) if isinstance(wanted, list) else st.query_params.get(name)
        ) != wanted:
            st.query_params[name] = wanted


def filters() -> Filters:
    """The filters the sidebar set on this run."""
    found = st.session_state.get("_filters")
    return found if isinstance(found, Filters) else Filters()


def filter_params() -> dict[str, str | list[str]]:
    """The current filters as URL parameters."""
    return dict(st.session_state.get("_filter_params", {}))
