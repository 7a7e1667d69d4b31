"""Shared Streamlit plumbing for the pages: engine, filters in the URL, drill-downs, tables with
exports, formatting, freshness and auto-refresh, and errors written for people. No KPI logic.

Filters live in the sidebar widgets (session state) and are mirrored into ``st.query_params``
on every run, so any view is a shareable link; a drill-down navigates with the filters and its
own parameters (``st.switch_page(..., query_params=…)``).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from collectors.registry import COLLECTORS, collector_sources
from foundation.settings import get_settings, mask_url_password
from metrics.kpis.common import Filters
from metrics.views import audit
from metrics.views.access import ANONYMOUS, Access, access_from_claims, session_end
from metrics.views.common import (
    DEFAULT_PRESET,
    PRESETS,
    Dimensions,
    ViewConfig,
    describe,
    dimensions,
    freshness,
    period_bounds,
    period_filters,
)
from metrics.views.export import csv_bytes, excel_bytes
from metrics.views.guard import AccessDenied
from store.clock import data_version, reporting_time
from store.db import make_engine
from store.migrate import current_revision, head_revision
from throughline import params

if TYPE_CHECKING:
    from metrics.slo.service import SloViews

log = logging.getLogger("throughline.ui")
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
TTL = timedelta(seconds=60)
AS_OF_TTL = timedelta(seconds=60)
SLO_TTL = timedelta(minutes=5)
REFRESH_SECONDS = 30
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEMO_NOTICE = "🔓 Demo mode: no sign-in; every visitor sees all data."
OPEN_NOTICE = "🔓 Sign-in is off (auth.allow_anonymous): every visitor sees all data."
FILTER_KEYS = {
    "period": "f_period",
    "entity": "f_entity",
    "practice": "f_practice",
    "customer": "f_customer",
}
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


# --- sign-in and access ------------------------------------------------------------------------


def notice() -> str:
    """The line every page shows when nobody signs in."""
    return DEMO_NOTICE if get_settings().demo_mode else OPEN_NOTICE


def _claims() -> dict[str, Any] | None:
    """The signed-in user's ID-token claims (None when nobody is signed in)."""
    if not st.user.is_logged_in:
        return None
    return dict(st.user.to_dict())


def gate() -> Access:
    """Who is visiting. With sign-in configured, a visitor not signed in gets the sign-in page
    and one whose claims map to no role the no-access page (the run stops there); without it,
    the demo (or `auth.allow_anonymous`) lets everyone in and any other set-up refuses."""
    settings = get_settings()
    if not settings.auth.configured:
        if not (settings.demo_mode or settings.auth.allow_anonymous):
            st.error(
                "Sign-in is not configured. Set THROUGHLINE_AUTH__SERVER_METADATA_URL and "
                "THROUGHLINE_AUTH__CLIENT_ID (and the OIDC secrets), or allow anonymous access "
                "explicitly with THROUGHLINE_AUTH__ALLOW_ANONYMOUS=true.",
                icon="🔒",
            )
            st.stop()
        return _remember(ANONYMOUS)
    claims = _claims()
    if claims is None:
        st.title("Throughline")
        st.write("Sign in with your company account to see where quote-to-cash handoffs stall.")
        st.button("Sign in", on_click=st.login, type="primary", icon="🔑")
        st.stop()
    ended = session_end(claims, time.time(), settings.auth.max_session_hours)
    if ended is not None:
        _session_ended(claims, ended)
    who = access_from_claims(claims, settings.auth)
    if who is None:
        _audit_once(claims, "sign_in_refused", "no Throughline role in the token's claims")
        st.title("No access yet")
        st.warning(
            f"You are signed in as {safe(claims.get('email') or claims.get('sub'))}, but your "
            "account has no Throughline role. Ask an administrator to give you one "
            "(cfo, pmo, support or admin).",
            icon="⛔",
        )
        st.button("Sign out", on_click=st.logout, icon="🚪")
        st.stop()
    _audit_sign_in(who, claims)
    return _remember(who)


def _session_ended(claims: Mapping[str, Any], why: str) -> None:
    """Stop the run on the "session ended" page: nothing is served until a new sign-in, whose
    token brings the roles and practices the provider gives now."""
    _audit_once(claims, "session_ended", why)
    st.session_state.pop("_access", None)
    st.title("Your session has ended")
    hours = get_settings().auth.max_session_hours
    st.info(
        f"A sign-in lasts until its token expires or {hours:g} hours, whichever comes first "
        f"({why}). Sign in again to go on.",
        icon="⏰",
    )
    st.button("Sign in again", on_click=st.login, type="primary", icon="🔑")
    st.stop()


def _audit_once(claims: Mapping[str, Any], action: audit.AuditAction, detail: str) -> None:
    """One audit entry per ID token for a refused or ended sign-in (not one per rerun)."""
    subject = str(claims.get("sub") or "")
    detail = f"{detail} (token issued at {claims.get('iat')})"
    marker = f"_audited_{action}"
    if st.session_state.get(marker) == detail:
        return
    if not audit.logged(engine(), subject, action, detail):
        user = str(claims.get("email") or claims.get("name") or subject)
        audit.record(engine(), user, "", action, detail, subject=subject)
    st.session_state[marker] = detail


def _remember(who: Access) -> Access:
    st.session_state["_access"] = who
    return who


def access() -> Access:
    """The visitor's access on this run (`gate` decides it once per run)."""
    found = st.session_state.get("_access")
    return found if isinstance(found, Access) else gate()


def _audit_sign_in(who: Access, claims: Mapping[str, Any]) -> None:
    """One audit entry per sign-in (per ID token), not per page view or browser tab."""
    token = f"{claims.get('sub', '')}@{claims.get('iat', '')}"
    if st.session_state.get("_signed_in") == token:
        return
    detail = f"signed in (token issued at {claims.get('iat')})"
    if not audit.logged(engine(), who.subject, "sign_in", detail):
        before = audit.last_role(engine(), who.subject)
        if before is not None and before != who.role:
            audit.record_for(engine(), who, "role_change", f"role {before} → {who.role}")
        audit.record_for(engine(), who, "sign_in", detail)
    st.session_state["_signed_in"] = token


# --- the store -------------------------------------------------------------------------------


@st.cache_resource
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def db_url() -> str:
    """The configured database URL (cache keys include it)."""
    return get_settings().database_url


def engine() -> Engine:
    """The engine of the configured database, one per URL (sessions are never cached)."""
    return _engine_for(db_url())


@st.cache_resource
def _config_for(url: str) -> ViewConfig:
    settings = get_settings()
    try:
        collectors = collector_sources(settings)
    except ValueError:
        log.exception("a collector is misconfigured; the dashboard lists none")
        collectors = {}
    urls = {}
    for name, (system, _every) in collectors.items():
        base = COLLECTORS[name].source_url(settings)
        if base:
            urls[system] = base
    return ViewConfig(settings=settings, collectors=collectors, source_urls=urls)


def config() -> ViewConfig:
    """What the views need from the settings (collectors, source URLs, currency, calendars)."""
    return _config_for(db_url())


@st.cache_data(ttl=timedelta(seconds=30), show_spinner=False)
def _schema_problem(url: str) -> str | None:
    target = _engine_for(url)
    try:
        current, head = current_revision(target), head_revision(target)
    except (OperationalError, ProgrammingError, DBAPIError):
        return f"Throughline cannot open its database at {mask_url_password(url)}."
    if current is None:
        return "The database is empty: run `throughline db upgrade` (or `throughline demo`)."
    if current != head:
        return (
            "The database is older than this version of Throughline: run `throughline db upgrade`."
        )
    return None


@st.cache_data(ttl=AS_OF_TTL, show_spinner=False)
def _as_of(url: str) -> datetime:
    return reporting_time(_engine_for(url))


def as_of() -> datetime:
    """The instant every page reports at (the sources' clock), held for a minute so that live
    data is recomputed at most once a minute however often collectors write."""
    return _as_of(db_url())


@st.cache_data(ttl=timedelta(minutes=5), show_spinner=False)
def _dimensions(url: str, who: Access) -> Dimensions:
    return dimensions(who, _engine_for(url))


@st.cache_data(ttl=SLO_TTL, show_spinner="Evaluating the SLOs…")
def _slo_views(url: str, who: Access) -> SloViews:
    """The SLO board and weekly histories of `url` at the reporting clock, in `who`'s scope:
    those the worker stored (up to `BOARD_MAX_AGE` old), else evaluated now (and stored)."""
    from metrics.slo.stored_board import BOARD_MAX_AGE
    from metrics.views.slos import slo_views

    cfg = _config_for(url)
    return slo_views(who, _engine_for(url), cfg.settings, as_of(), cfg.collectors, BOARD_MAX_AGE)


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


# --- errors ----------------------------------------------------------------------------------


def check_store() -> None:
    """Stop the page with a sentence when the database is missing or behind the code."""
    problem = _schema_problem(db_url())
    if problem:
        st.error(problem, icon="🛑")
        st.stop()


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


# --- filters and the URL ---------------------------------------------------------------------


def _valid(values: Sequence[str], options: Sequence[str]) -> list[str]:
    allowed = set(options)
    return [v for v in values if v in allowed]


def _parse_day(name: str) -> date | None:
    value = st.query_params.get(name)
    try:
        return params.day(value) if value else None
    except ValueError:
        _not_understood(name)
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


def drill(page: str, **params: str) -> None:
    """Open another page (a key of `PAGES`) with the filters and `params` in its URL (a page
    the visitor's role may not open is not opened: a sentence says so)."""
    if not access().can_open(page):
        st.info(f"Your role ({access().role}) cannot open that page.", icon="⛔")
        return
    st.session_state["_restore_filters"] = True
    st.switch_page(PAGES[page], query_params={**filter_params(), **params})


def param(name: str, parse: Callable[[str], T] = params.text) -> T | None:  # type: ignore[assignment]
    """A page parameter from the URL, checked by `parse` (`throughline.params`). A value that
    does not parse is dropped from the URL and the page says so in one sentence, then goes on
    with its default view."""
    value = st.query_params.get(name)
    if not value:
        return None
    try:
        return parse(value)
    except (ValueError, OverflowError):
        _not_understood(name)
        return None


def _not_understood(name: str) -> None:
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


# --- page chrome -----------------------------------------------------------------------------


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
    if (drawn is not None and drawn != current) or _session_over():
        st.rerun(scope="app")
    fresh = freshness(target)
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
    st.caption(line)


def _session_over() -> bool:
    """Whether the signed-in visitor's session ended since the page was drawn."""
    claims = _claims() if get_settings().auth.configured else None
    hours = get_settings().auth.max_session_hours
    return claims is not None and session_end(claims, time.time(), hours) is not None


def ago(at: datetime, now: datetime | None = None) -> str:
    """``3 min ago`` / ``2 h ago`` / ``4 days ago``."""
    seconds = ((now or datetime.now(UTC)) - at).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def safe(value: object) -> str:
    """Text from the data or the URL, escaped so that Markdown-rendering elements show it as
    typed (no links, images, emphasis, math or icon shortcodes)."""
    return _MARKDOWN.sub(r"\\\1", str(value))


def empty(message: str) -> None:
    """An empty state: what is missing and what to try."""
    st.info(message, icon="🔎")


# --- formatting ------------------------------------------------------------------------------


def compact(value: float) -> str:
    """1234567 → ``1.23M``; 12345 → ``12.3k``; 123 → ``123``."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            return f"{scaled:,.2f}{suffix}" if abs(scaled) < 10 else f"{scaled:,.1f}{suffix}"
    return f"{value:,.0f}"


def fmt(value: float | None, unit: str, currency: str = "") -> str:
    """A KPI value as people read it (``—`` when there is none)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    v = float(value)
    if unit == "business_days":
        return f"{v:,.1f} bd" if abs(v) >= 0.05 or v == 0 else "< 0.1 bd"
    if unit == "hours":
        return f"{v:,.1f} h" if abs(v) < 48 else f"{v / 24:,.1f} days"
    if unit == "days":
        return f"{v:,.1f} days"
    if unit == "share":
        return f"{v:.1%}"
    if unit == "money":
        return f"{currency} {compact(v)}".strip()
    if unit == "money_days":
        return f"{compact(v)} {currency}·days".strip()
    return f"{v:,.0f}"


# --- tables ----------------------------------------------------------------------------------


PERCENT_HINTS = ("share", "within_target", "rate", "attainment", "budget_remaining", "consumed")
MONEY_HINTS = ("amount", "0-30", "31-60", "61-90", "91-120", "120+")


def when(label: str) -> Any:
    """A timestamp column shown to the minute (times are UTC)."""
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")


def money(label: str) -> Any:
    """An amount column with thousands separators (shown rounded to whole units)."""
    return st.column_config.NumberColumn(label, format="localized")


def _is_money(name: str) -> bool:
    return any(h == name or name.startswith(h) for h in MONEY_HINTS)


def _column(name: str, dtype: Any) -> Any:
    """A readable default column: spaces for underscores, UTC times, rounded numbers."""
    label = name.replace("_", " ")
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return when(f"{label} (UTC)")
    if pd.api.types.is_float_dtype(dtype):
        if any(h in name for h in PERCENT_HINTS):
            return st.column_config.NumberColumn(label, format="percent")
        if _is_money(name):
            return money(label)
        return st.column_config.NumberColumn(label, format="%.1f")
    return st.column_config.Column(label)


def table(
    frame: pd.DataFrame,
    key: str,
    *,
    name: str,
    columns: Mapping[str, Any] | None = None,
    select: bool = False,
    hide: Sequence[str] = (),
) -> int | None:
    """A table with CSV and Excel downloads; with `select`, the clicked row's index (or None)."""
    shown = frame.drop(columns=[c for c in hide if c in frame.columns])
    amounts = [c for c in shown.columns if _is_money(str(c))]
    if amounts:  # whole units on screen (Decimals too); the downloads keep every decimal
        shown = shown.assign(
            **{str(c): pd.to_numeric(shown[c], errors="coerce").round(0) for c in amounts}
        )
    config: dict[str, Any] = {str(c): _column(str(c), shown[c].dtype) for c in shown.columns}
    config.update(columns or {})
    options: dict[str, Any] = {
        "hide_index": True,
        "width": "stretch",
        "column_config": config,
        "key": key,
    }
    if select:
        event = st.dataframe(shown, on_select="rerun", selection_mode="single-row", **options)
        rows = list(_selection(event).get("rows") or [])
    else:
        st.dataframe(shown, **options)
        rows = []
    downloads(frame, key, name)
    return int(rows[0]) if rows else None


def downloads(frame: pd.DataFrame, key: str, name: str) -> None:
    """CSV and Excel download buttons for a table (files are made, and the export audited,
    when clicked)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "table"
    who, target = access(), engine()

    def exported(kind: str, make: Callable[[], bytes]) -> Callable[[], bytes]:
        def build() -> bytes:
            audit.record_for(target, who, "export", f"{kind} export of {name} ({len(frame)} rows)")
            return make()

        return build

    formats: tuple[tuple[str, str, str, Callable[[], bytes]], ...] = (
        ("CSV", "csv", "text/csv", lambda: csv_bytes(frame)),
        ("Excel", "xlsx", XLSX_MIME, lambda: excel_bytes(frame, name)),
    )
    with st.container(horizontal=True):
        for label, ext, mime, make in formats:
            st.download_button(
                label,
                data=exported(label, make),
                file_name=f"{name}.{ext}",
                mime=mime,
                key=f"{key}_{ext}",
                on_click="ignore",
                icon="⬇️",
                type="tertiary",
            )


def layout(fig: Any, height: int = 300, **options: Any) -> Any:
    """The house style of a Plotly figure: tight margins, the legend above the plot."""
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        **options,
    )
    return fig


def _selection(event: Any) -> Mapping[str, Any]:
    """The ``selection`` of a chart or table event (a dict in tests, attribute-dict live)."""
    found = event.get("selection") if isinstance(event, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def chart_pick(event: Any, field: str = "x") -> Any:
    """The `field` of the first point clicked in a Plotly chart (None when nothing is)."""
    points = list(_selection(event).get("points") or [])
    if not points or not isinstance(points[0], Mapping):
        return None
    return points[0].get(field)


def actor() -> str:
    """Who is acting: the signed-in user, else the demo visitor."""
    return access().user
