"""A page's reads: a (cached) loader called so that a failure becomes a sentence, not a
traceback, and the SLO board, looked up at most every five minutes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from metrics.views.access import Access
from metrics.views.guard import AccessDenied
from throughline.ui.data import as_of, config_for, db_url, engine_for
from throughline.ui.visitor import access

if TYPE_CHECKING:
    from metrics.slo.service import SloViews

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
SLO_TTL = timedelta(minutes=5)


def load(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a (cached) page loader — which reads through the views of `metrics.views`, scoped
    and masked for the visitor — and turn a failure into a sentence, not a traceback."""
    try:
        return fn(*args, **kwargs)
    except AccessDenied:
        st.error(f"Your role ({access().role}) cannot see this.", icon="⛔")
    except (OperationalError, ProgrammingError, DBAPIError):
        log.exception("database error while drawing a page")
        st.error(
            "Throughline could not read its database just now. Try again in a moment; "
            "if it persists, check that the database is reachable.",
            icon="🛑",
        )
    except Exception:
        log.exception("error while drawing a page")
        st.error(
            "This part of the page could not be computed from the stored data. "
            "The details are in the dashboard's log.",
            icon="⚠️",
        )
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover


@st.cache_data(ttl=SLO_TTL, show_spinner="Evaluating the SLOs…")
def _slo_views(url: str, who: Access) -> SloViews:
    """The SLO board and weekly histories of `url` at the reporting clock, in `who`'s scope:
    those the worker stored (up to `BOARD_MAX_AGE` old), else evaluated now (and stored)."""
    from metrics.slo.stored_board import BOARD_MAX_AGE
    from metrics.views.slos import slo_views

    cfg = config_for(url)
    return slo_views(who, engine_for(url), cfg.settings, as_of(), cfg.collectors, BOARD_MAX_AGE)


def slo_board() -> tuple[pd.DataFrame, str | None]:
    """The SLO board (looked up at most every five minutes) and, when the SLOs cannot be
    evaluated, a sentence saying why."""
    from metrics.slo.spec import SloConfigError

    try:
        return _slo_views(db_url(), access()).board, None
    except SloConfigError as exc:
        return pd.DataFrame(), f"The SLO configuration cannot be used: {exc}"


def slo_history(slo: str) -> pd.DataFrame:
    """The weekly attainment and budget consumed of one SLO (the board's companion)."""
    return _slo_views(db_url(), access()).histories[slo]
