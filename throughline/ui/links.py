"""Page parameters in the URL: a drill-down choice or a shared link's value, checked by a parser
(`throughline.ui.params`); a value that does not parse is dropped with one sentence, never a
traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from throughline.ui import params
from throughline.ui.text import safe

T = TypeVar("T")


def param(name: str, parse: Callable[[str], T] = params.text) -> T | None:  # type: ignore[assignment]
    """A page parameter from the URL, checked by `parse` (`throughline.ui.params`). A value that
    does not parse is dropped from the URL and the page says so in one sentence, then goes on
    with its default view."""
    value = st.query_params.get(name)
    if not value:
        return None
    try:
        return parse(value)
    except (ValueError, OverflowError):
        not_understood(name)
        return None


def not_understood(name: str) -> None:
    """Drop the URL parameter `name` and say in one sentence that its value was not understood."""
    if name in st.query_params:
        del st.query_params[name]
    st.info(
        f"The link's “{safe(name)}” value was not understood, so the default view is shown.",
        icon="🔗",
    )


def pick(
    name: str,
    selected: str | None,
    source: str = "",
    parse: Callable[[str], T] = params.text,  # type: ignore[assignment]
) -> T | None:
    """A drill-down choice mirrored in the URL parameter `name`, checked by `parse`.

    A new selection from `source` (a chart or table) sets the parameter; clearing that
    selection removes it again if it still holds that source's value; otherwise the URL's
    value (e.g. from a shared link) stands. Several sources may share one parameter.
    """
    memory = f"_pick_{name}_{source}"
    before = st.session_state.get(memory)
    if selected is not None and selected != before:
        st.query_params[name] = selected
    elif selected is None and before is not None and st.query_params.get(name) == before:
        del st.query_params[name]
    st.session_state[memory] = selected
    return param(name, parse)


def hold(name: str, source: str = "") -> None:
    """Keep the URL parameter `name` when `source`'s selection is about to reset (its table's
    data changed, e.g. after saving an action), instead of treating that as "cleared"."""
    st.session_state[f"_pick_{name}_{source}"] = None


def clear_param(*names: str) -> None:
    """Remove page parameters (a "clear" button)."""
    for name in names:
        if name in st.query_params:
            del st.query_params[name]
