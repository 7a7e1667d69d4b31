"""The store behind the dashboard: one engine per database URL, what the views need from the
settings, the reporting clock every page reports at, and the check that stops a page when the
database is missing or behind the code. Engines and settings are cached per URL; sessions never.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from collectors.registry import COLLECTORS, collector_sources
from foundation.settings import get_settings, mask_url_password
from metrics.views.common import ViewConfig
from store.clock import reporting_time
from store.db import make_engine
from store.migrate import current_revision, head_revision

log = logging.getLogger(__name__)
#: How long a page's cached loaders keep their answer.
TTL = timedelta(seconds=60)
AS_OF_TTL = timedelta(seconds=60)


@st.cache_resource
def engine_for(url: str) -> Engine:
    """The engine of `url`, made once per process."""
    return make_engine(url)


def db_url() -> str:
    """The configured database URL (cache keys include it)."""
    return get_settings().database_url


def engine() -> Engine:
    """The engine of the configured database, one per URL (sessions are never cached)."""
    return engine_for(db_url())


@st.cache_resource
def config_for(url: str) -> ViewConfig:
    """`config` for the database at `url` (cached with it)."""
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
    return config_for(db_url())


@st.cache_data(ttl=timedelta(seconds=30), show_spinner=False)
def _schema_problem(url: str) -> str | None:
    target = engine_for(url)
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
    return reporting_time(engine_for(url))


def as_of() -> datetime:
    """The instant every page reports at (the sources' clock), held for a minute so that live
    data is recomputed at most once a minute however often collectors write."""
    return _as_of(db_url())


def check_store() -> None:
    """Stop the page with a sentence when the database is missing or behind the code."""
    problem = _schema_problem(db_url())
    if problem:
        st.error(problem, icon="🛑")
        st.stop()
