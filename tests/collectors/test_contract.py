"""The contract every registered collector passes, each against its own source.

The demo collectors run against the live demo estate on loopback; the SaaS connectors against a
fake vendor API serving recorded fixtures (`tests/collectors/fake_apis.py`); the log-file
collector against a log file on disk. A second run adds nothing; the cursor never moves back; a
repeated page token (or a page served again) raises; a 429 with Retry-After is retried; a 401
fails cleanly without moving the cursor or storing anything; an empty page mid-walk fails the
stream, keeps its cursor and quarantines nothing, and the next run completes the data (Tryton's
keyset walk cannot point past an empty page: an empty page ends it); a first run's counters are
the rows it stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collectors.base import Collector
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import RunReport, run_collector
from metrics.facts import refresh_pending
from store.db import make_engine
from store.migrate import upgrade
from store.tables import CollectorRun, CollectorState, Quarantine
from tests.collectors.sources import (
    SAAS,
    Source,
    demo_source,
    logfile_source,
    saas_settings,
    saas_source,
)
from tests.collectors.store_truth import store_summary
from tests.resilience.store_rows import compare, snapshot

# Tryton's contract properties run against a real trytond server in tests/tryton.
NAMES = sorted(name for name in COLLECTORS if name != "tryton")
HTTP_NAMES = [name for name in NAMES if name != "logfiles"]
PAGING_FIELDS = (
    "nextRecordsUrl",
    "done",
    "next_page_token",
    "next_cursor",
    "items",
    "hasMore",
    "paging",
    "nextCursor",
    "count",
    "offset",
    "totalResults",
    "totalSize",
    "total",
)


class RepeatFirstPageTransport(httpx.BaseTransport):
    """Serves the paging members of the first page under `prefix` again on the second page of
    the same walk (a SuiteQL walk is its query: NetSuite's id lookups are walks of their own)."""

    def __init__(self, inner: httpx.BaseTransport, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix
        self.first: dict[str, Any] | None = None
        self.walk: str | None = None
        self.pages = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        upstream = self.inner.handle_request(request)
        body = upstream.read()
        upstream.close()
        walk = _suiteql(request)
        self.walk = walk if self.walk is None else self.walk
        if (
            request.url.path.startswith(self.prefix)
            and upstream.status_code == 200
            and walk == self.walk
        ):
            self.pages += 1
            if self.pages == 2 and self.first is not None:
                payload = json.loads(body)
                payload.update({k: self.first[k] for k in PAGING_FIELDS if k in self.first})
                return httpx.Response(200, json=payload, request=request)
            if self.pages == 1:
                self.first = json.loads(body)
        return httpx.Response(
            upstream.status_code, headers=upstream.headers, content=body, request=request
        )

    def close(self) -> None:
        self.inner.close()


def _suiteql(request: httpx.Request) -> str:
    """The SuiteQL query a request sends ("" for any other request)."""
    if request.headers.get("content-type") != "application/json":
        return ""
    sent = json.loads(request.content)
    return str(sent.get("q", "")) if isinstance(sent, dict) else ""


@pytest.fixture
def source(request: pytest.FixtureRequest, name: str, tmp_path: Path) -> Source:
    """The source `name` is tested against."""
    if name.startswith("demo_"):
        return demo_source(request, name)
    if name == "logfiles":
        return logfile_source(tmp_path)
    assert name in SAAS, f"{name} has no contract source: add one to tests/collectors/sources.py"
    return saas_source(name)[0]


def run(engine: Engine, source: Source, **kw: Any) -> RunReport:
    collector = source.build(kw.pop("transport_wrapper", None), kw.pop("bad", False))
    return run_collector(engine, collector, **kw, refresh=refresh_pending)


def cursors(engine: Engine, name: str) -> dict[str, dict[str, Any]]:
    with Session(engine) as s:
        rows = s.execute(
            select(CollectorState.stream, CollectorState.cursor).where(
                CollectorState.collector == name
            )
        ).all()
    return {stream: c for stream, c in rows}


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    upgrade(sqlite_engine)
    return sqlite_engine


def test_every_registered_collector_has_a_contract_source() -> None:
    assert {n for n in NAMES if not n.startswith("demo_")} == {*SAAS, "logfiles"}


@pytest.mark.parametrize("name", NAMES)
def test_a_second_run_adds_nothing(store: Engine, source: Source, name: str) -> None:
    first = run(store, source)
    before = store_summary(store)
    second = run(store, source)
    assert first.status == second.status == "success", (first.error, second.error)
    assert first.rows_written > 0 and second.rows_written == 0
    assert first.quarantined == 0
    assert store_summary(store) == before


@pytest.mark.parametrize("name", NAMES)
def test_the_cursor_never_moves_back(store: Engine, source: Source, name: str) -> None:
    run(store, source)
    after_first = cursors(store, name)
    assert set(after_first) == {s.name for s in source.build().streams}
    run(store, source, since=source.backfill_since)  # a backfill from the start
    after_backfill = cursors(store, name)
    for stream, cursor in after_first.items():
        if cursor.get("since"):
            later = datetime.fromisoformat(after_backfill[stream]["since"])
            assert later >= datetime.fromisoformat(cursor["since"])
    assert after_backfill == after_first


def _repeat(inner: httpx.BaseTransport, prefix: str) -> httpx.BaseTransport:
    return RepeatFirstPageTransport(inner, prefix)


@pytest.mark.parametrize("name", HTTP_NAMES)
def test_a_repeated_page_token_raises(store: Engine, source: Source, name: str) -> None:
    report = run(store, source, transport_wrapper=_repeat)
    first_stream = report.streams[0]
    assert first_stream.error is not None
    refused = (f"{first_stream.name}: paging loops", f"{first_stream.name}: page 2 ")
    assert first_stream.error.startswith(refused), first_stream.error  # the loop or the stale page
    assert report.status in {"partial", "failed"}
    assert all(s.error is None for s in report.streams[1:])


@pytest.mark.parametrize("name", HTTP_NAMES)
def test_a_429_with_retry_after_is_retried(store: Engine, source: Source, name: str) -> None:
    source.inject_429()
    started = time.monotonic()
    report = run(store, source)
    assert report.status == "success", report.error
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert source.statuses()[:2] == [429, 200]


@pytest.mark.parametrize("name", HTTP_NAMES)
def test_a_401_fails_cleanly_without_moving_the_cursor(
    store: Engine, source: Source, name: str
) -> None:
    report = run(store, source, bad=True)
    assert report.status == "failed"
    assert all(s.error and "401" in s.error for s in report.streams), report.error
    assert not any(secret in (report.error or "") for secret in source.secrets)
    assert cursors(store, name) == {}
    assert store_summary(store)["objects"] == {}
    assert store_summary(store)["sync_attempts"] == 0
    with Session(store) as s:
        logged = s.scalars(select(CollectorRun).where(CollectorRun.collector == name)).one()
    assert logged.status == "failed" and logged.error and "401" in logged.error


# --- an empty page mid-walk -------------------------------------------------------------------

RECORD_LISTS = ("records", "results", "items", "data", "jobs")
#: Where each SaaS fake serves the pages of its walks.
SAAS_PAGED = {
    "salesforce": "/services/data/",
    "hubspot": "/crm/v3/objects/",
    "netsuite": "/services/rest/",
    "n8n": "/api/v1/executions",
}


def _points_on(page: dict[str, Any]) -> bool:
    paging = page.get("paging")
    return bool(
        page.get("nextRecordsUrl")
        or page.get("hasMore") is True
        or page.get("next_page_token")
        or page.get("next_cursor")
        or page.get("nextCursor")
        or (isinstance(paging, dict) and paging.get("next"))
    )


def _continues(request: httpx.Request) -> bool:
    """Whether ``request`` asks for a page after the first of its walk."""
    params = request.url.params
    body = json.loads(request.content) if request.method == "POST" and request.content else {}
    return (
        re.search(r"/query/\w+-\d+$", request.url.path) is not None  # Salesforce's next URL
        or params.get("offset", "0") != "0"
        or bool(params.get("page_token") or params.get("cursor") or body.get("after"))
    )


class EmptyPageMidWalk(httpx.BaseTransport):
    """Answers the first page under ``prefix`` that continues a walk and points on with its
    records removed (its paging members kept), once; ``dropped`` holds the records removed."""

    def __init__(self, inner: httpx.BaseTransport, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix
        self.dropped: list[dict[str, Any]] = []
        self.done = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        upstream = self.inner.handle_request(request)
        body = upstream.read()
        upstream.close()
        page = json.loads(body) if upstream.status_code == 200 else None
        hit = (
            not self.done
            and request.url.path.startswith(self.prefix)
            and _continues(request)
            and isinstance(page, dict)
            and _points_on(page)
        )
        if hit:
            assert isinstance(page, dict)
            field = next(f for f in RECORD_LISTS if isinstance(page.get(f), list) and page[f])
            self.dropped, page[field], self.done = page[field], [], True
            return httpx.Response(200, json=page, request=request)
        return httpx.Response(
            upstream.status_code, headers=upstream.headers, content=body, request=request
        )

    def close(self) -> None:
        self.inner.close()


Build = Callable[[Callable[[httpx.BaseTransport, str], httpx.BaseTransport] | None], Collector]


def _small_pages(request: pytest.FixtureRequest, name: str) -> Build:
    """How to build ``name`` against its source, with pages small enough for three pages a
    walk (the fakes' recorded streams hold three records), wrapped by a transport if given."""
    if name.startswith("demo_"):
        source = demo_source(request, name)
        return lambda wrap: source.build(wrap)
    spec = SAAS[name]
    _, fake = saas_source(name)
    fake.PAGE = 1  # type: ignore[attr-defined]
    options = {**spec["options"], **({"limit": 1} if "limit" in spec["options"] else {})}

    def build(wrap: Callable[[httpx.BaseTransport, str], httpx.BaseTransport] | None) -> Collector:
        transport: httpx.BaseTransport = fake.transport()
        if wrap is not None:
            transport = wrap(transport, SAAS_PAGED[name])
        return build_collector(
            name, saas_settings(name), transport=transport, options={name: options}
        )

    return build


def quarantine_count(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.scalars(select(Quarantine.id)).all())


@pytest.mark.parametrize("name", HTTP_NAMES)
def test_an_empty_page_mid_walk_fails_the_stream_and_keeps_the_cursor(
    store: Engine, request: pytest.FixtureRequest, name: str, tmp_path: Path
) -> None:
    build = _small_pages(request, name)
    clean = make_engine(f"sqlite:///{tmp_path}/clean.db")
    upgrade(clean)
    assert run_collector(clean, build(None), refresh=refresh_pending).status == "success"
    wrappers: list[EmptyPageMidWalk] = []

    def hole(inner: httpx.BaseTransport, prefix: str) -> httpx.BaseTransport:
        wrappers.append(EmptyPageMidWalk(inner, prefix))
        return wrappers[-1]

    collector = build(hole)
    report = run_collector(store, collector, refresh=refresh_pending)
    assert wrappers[0].dropped, "no walk of three pages to put a hole in"
    failed = [s for s in report.streams if s.error]
    assert report.status in {"failed", "partial"} and len(failed) == 1, report.error
    stream = next(s for s in collector.streams if s.name == failed[0].name)
    assert failed[0].error == (
        f"{stream.name}: page 2 is empty yet points to a next page; following it would skip records"
    )
    assert report.error == failed[0].error  # one sentence, naming the stream once
    # only page 1 was verified, which saves no cursor: the cursor stays where it was (none)
    assert stream.name not in cursors(store, name) and failed[0].cursor_after is None
    assert quarantine_count(store) == 0

    again = run_collector(
        store, collector, refresh=refresh_pending
    )  # the hole is gone: the next run completes the data
    assert again.status == "success", again.error
    diff = compare(snapshot(clean), snapshot(store))
    assert (diff.rows_lost, diff.rows_doubled) == (0, 0), diff.examples
    assert quarantine_count(store) == 0


# --- counters ---------------------------------------------------------------------------------

TABLES = ("objects", "events", "event_objects", "object_links", "sync_attempts", "fx_rates")


def stored_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES)


@pytest.mark.parametrize("name", NAMES)
def test_a_first_run_counts_exactly_the_rows_it_stored(
    store: Engine, source: Source, name: str
) -> None:
    report = run(store, source)
    assert report.status == "success", report.error
    assert report.rows_written == stored_rows(store) > 0
    with Session(store) as s:
        logged = s.scalars(select(CollectorRun).where(CollectorRun.collector == name)).one()
    assert logged.rows_in == report.rows_written
    again = run(store, source)
    assert (again.rows_written, again.quarantined) == (0, 0)
