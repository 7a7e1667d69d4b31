"""The contract every registered collector passes, against the live demo estate on loopback.

A second run adds nothing; the cursor never moves back; a repeated page token (or a page served
again) raises; a 429 with Retry-After is retried; a 401 fails cleanly without moving the cursor.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collectors.demo_estate.server import DemoEstateServer
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import RunReport, run_collector
from metrics.models import CollectorRun, CollectorState
from tests.collectors.conftest import settings_for
from tests.collectors.store_truth import store_summary

NAMES = sorted(COLLECTORS)
PAGING_FIELDS = ("nextRecordsUrl", "done", "next_page_token", "next_cursor", "items", "hasMore")


class RepeatFirstPageTransport(httpx.BaseTransport):
    """Serves the paging members of the first page again on the second (a looping source)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.first: dict[str, Any] | None = None
        self.pages = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        upstream = self.inner.handle_request(request)
        body = upstream.read()
        upstream.close()
        self.pages += 1
        if self.pages == 2 and upstream.status_code == 200 and self.first is not None:
            payload = json.loads(body)
            payload.update({k: self.first[k] for k in PAGING_FIELDS if k in self.first})
            return httpx.Response(200, json=payload, request=request)
        if self.pages == 1 and upstream.status_code == 200:
            self.first = json.loads(body)
        return httpx.Response(upstream.status_code, headers=upstream.headers, content=body,
                              request=request)  # fmt: skip

    def close(self) -> None:
        self.inner.close()


def run(engine: Engine, server: DemoEstateServer, name: str, **kw: Any) -> RunReport:
    transport = kw.pop("transport", None)
    settings = settings_for(server, **({"token": kw.pop("token")} if "token" in kw else {}))
    return run_collector(engine, build_collector(name, settings, transport=transport), **kw)


def cursors(engine: Engine, name: str) -> dict[str, datetime]:
    with Session(engine) as s:
        rows = s.execute(
            select(CollectorState.stream, CollectorState.cursor).where(
                CollectorState.collector == name
            )
        ).all()
    return {stream: datetime.fromisoformat(c["since"]) for stream, c in rows}


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from metrics.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


@pytest.mark.parametrize("name", NAMES)
def test_a_second_run_adds_nothing(store: Engine, demo_server: DemoEstateServer, name: str) -> None:
    first = run(store, demo_server, name)
    before = store_summary(store)
    second = run(store, demo_server, name)
    assert first.status == second.status == "success"
    assert first.rows_written > 0 and second.rows_written == 0
    assert store_summary(store) == before


@pytest.mark.parametrize("name", NAMES)
def test_the_cursor_never_moves_back(
    store: Engine, demo_server: DemoEstateServer, name: str
) -> None:
    run(store, demo_server, name)
    after_first = cursors(store, name)
    assert set(after_first) == {
        s.name for s in build_collector(name, settings_for(demo_server)).streams
    }
    run(store, demo_server, name, since=demo_server.estate.start)  # a backfill from the start
    after_backfill = cursors(store, name)
    assert all(after_backfill[s] >= at for s, at in after_first.items())
    assert after_backfill == after_first


@pytest.mark.parametrize("name", NAMES)
def test_a_repeated_page_token_raises(
    store: Engine, demo_server: DemoEstateServer, name: str
) -> None:
    report = run(store, demo_server, name, transport=RepeatFirstPageTransport())
    first_stream = report.streams[0]
    assert first_stream.error is not None and "paging loops" in first_stream.error
    assert report.status in {"partial", "failed"}
    assert all(s.error is None for s in report.streams[1:])


@pytest.mark.parametrize("name", NAMES)
def test_a_429_with_retry_after_is_retried(
    store: Engine, demo_server: DemoEstateServer, name: str
) -> None:
    prefix = "/" + COLLECTORS[name].path
    demo_server.inject(prefix, statuses=[429], count=1)
    started = time.monotonic()
    report = run(store, demo_server, name)
    assert report.status == "success"
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    statuses = [status for path, status in demo_server.requests_log if path.startswith(prefix)]
    assert statuses[:2] == [429, 200]


@pytest.mark.parametrize("name", NAMES)
def test_a_401_fails_cleanly_without_moving_the_cursor(
    store: Engine, demo_server: DemoEstateServer, name: str
) -> None:
    report = run(store, demo_server, name, token="wrong-token")
    assert report.status == "failed"
    assert all(s.error and "401" in s.error for s in report.streams)
    assert "wrong-token" not in (report.error or "")
    assert cursors(store, name) == {}
    assert store_summary(store)["objects"] == {}
    with Session(store) as s:
        logged = s.scalars(select(CollectorRun).where(CollectorRun.collector == name)).one()
    assert logged.status == "failed" and logged.error and "401" in logged.error
