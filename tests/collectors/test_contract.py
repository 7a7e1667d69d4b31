"""The contract every registered collector passes, each against its own source.

The suite is parametrized over the registry's specs and knows no connector by name: a demo
connector runs against the live demo estate on loopback; a connector whose fixtures describe an
API against the generic fake API serving them (`tests/collectors/fixture_api.py`); any other
against a copy of its fixture files (`tests/collectors/sources.py`). What a property needs of a
connector's paging is declared in the `contract` section of its `fixtures.yaml`. A second run
adds nothing; the cursor never moves back; a
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
    contract,
    demo_source,
    is_http,
    saas_settings,
    saas_source,
    source_for,
)
from tests.collectors.store_truth import store_summary
from tests.resilience.store_rows import compare, snapshot

NAMES = sorted(COLLECTORS)
HTTP_NAMES = [name for name in NAMES if is_http(name)]
PAGING_FIELDS = (
    "result",  # a JSON-RPC page (its rows; a keyset walk asks on from the last)
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
    the same walk (what a walk is, the contract's `walk` says: a SuiteQL walk is its query, as
    NetSuite's id lookups are walks of their own; a JSON-RPC walk one model's `search_read`)."""

    def __init__(self, inner: httpx.BaseTransport, prefix: str, walk: dict[str, Any]) -> None:
        self.inner = inner
        self.prefix = prefix
        self.walk_spec = walk
        self.first: dict[str, Any] | None = None
        self.walk: str | None = None
        self.pages = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        upstream = self.inner.handle_request(request)
        body = upstream.read()
        upstream.close()
        walk = _walk(request, self.walk_spec)
        if walk is not None:
            self.walk = walk if self.walk is None else self.walk
        if (
            request.url.path.startswith(self.prefix)
            and upstream.status_code == 200
            and walk is not None
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


def _walk(request: httpx.Request, spec: dict[str, Any]) -> str | None:
    """Which walk a request belongs to, as the contract's `walk` says (a body member, matched
    against a pattern; None: the request is not one of a walk's); without one, the SuiteQL
    query a request sends ("" for any other request)."""
    if request.headers.get("content-type") != "application/json":
        return "" if not spec else None
    sent = json.loads(request.content)
    member = str(sent.get(spec.get("body", "q"), "")) if isinstance(sent, dict) else ""
    if "pattern" in spec and not re.search(spec["pattern"], member):
        return None
    return member


@pytest.fixture
def source(request: pytest.FixtureRequest, name: str, tmp_path: Path) -> Source:
    """The source `name` is tested against."""
    return source_for(request, name, tmp_path)


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
    for name in NAMES:
        spec = COLLECTORS[name]
        assert spec.kind == "demo" or contract(name), (
            f"{name}: give its spec a fixture directory with a fixtures.yaml `contract` section"
        )


@pytest.mark.parametrize("name", NAMES)
def test_a_spec_declares_the_streams_its_collector_reads(source: Source, name: str) -> None:
    declared = COLLECTORS[name].streams
    built = [s.name for s in source.build().streams]
    assert built and (not declared or set(built) <= set(declared)), (built, declared)


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


@pytest.mark.parametrize("name", HTTP_NAMES)
def test_a_repeated_page_token_raises(store: Engine, source: Source, name: str) -> None:
    walk = source.contract.get("walk") or {}

    def _repeat(inner: httpx.BaseTransport, prefix: str) -> httpx.BaseTransport:
        return RepeatFirstPageTransport(inner, prefix, walk)

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
    walk (the fakes' recorded streams hold three records; the contract's `small_pages` options
    ask for pages of one), wrapped by a transport if given."""
    if COLLECTORS[name].kind == "demo":
        source = demo_source(request, name)
        return lambda wrap: source.build(wrap)
    spec = SAAS[name]
    _, fake = saas_source(name)
    fake.page_size = 1
    options = {**spec["options"], **(spec.get("small_pages") or {})}

    def build(wrap: Callable[[httpx.BaseTransport, str], httpx.BaseTransport] | None) -> Collector:
        transport: httpx.BaseTransport = fake.transport()
        if wrap is not None:
            transport = wrap(transport, spec["paged"])
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
    skip = (contract(name).get("skip") or {}).get("empty_page_mid_walk")
    if skip:
        pytest.skip(skip)
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
