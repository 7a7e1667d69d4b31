"""The Tryton connector on a recorded collection (fast, no server) and its pure parts."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collectors import erp_tryton
from collectors.base import FetchWindow
from collectors.erp_tryton.billing import invoice_times, map_timesheet_line
from collectors.erp_tryton.client import decode, encode
from collectors.erp_tryton.mapping import deal_for_project, stage_changes
from collectors.erp_tryton.values import TrytonMapping
from collectors.errors import MappingError, PaginationLoop
from collectors.http import make_client
from collectors.runner import RunReport, run_collector
from metrics.facts import refresh_pending
from store.canonical import Activity, object_id
from store.migrate import upgrade
from store.tables import Event, Quarantine
from tests.collectors.store_truth import store_summary

RECORDING = Path(__file__).parents[1] / "fixtures" / "http" / "tryton" / "collection.json"
URL = "http://tryton.test/throughline/"


def key(method: str, params: Any) -> str:
    return json.dumps([method, params], sort_keys=True)


class Replay(httpx.BaseTransport):
    """Answers each JSON-RPC call with the recorded answer to the same method and params."""

    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self.answers = {}
        for call in calls:
            params = call["params"]
            if call["method"] == "common.db.login":
                params = params[:1]
            self.answers[key(call["method"], params)] = call["answer"]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        params = sent["params"][:1] if sent["method"] == "common.db.login" else sent["params"]
        answer = self.answers.get(key(sent["method"], params))
        if answer is None:
            return httpx.Response(500, json={"id": sent["id"], "error": ["not recorded", ""]})
        return httpx.Response(200, json={**answer, "id": sent["id"]})


@pytest.fixture
def calls() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(RECORDING.read_text())
    return loaded


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    upgrade(sqlite_engine)
    return sqlite_engine


def run(engine: Engine, calls: list[dict[str, Any]]) -> RunReport:
    transport = Replay(calls)
    config = erp_tryton.TrytonConfig(URL, legal_entities={"Throughline Tryton Inc.": "US"})
    session = erp_tryton.TrytonSession(config.url, "admin", "secret", transport=transport)
    collector = erp_tryton.collector("tryton", config, session, transport=transport)
    return run_collector(
        engine, collector, now=datetime(2026, 11, 24, tzinfo=UTC), refresh=refresh_pending
    )


def answer_of(calls: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = next(c for c in calls if c["method"] == method)["answer"][
        "result"
    ]
    return result


def test_a_recorded_collection_maps_every_record(store: Engine, calls: list[Any]) -> None:
    report = run(store, calls)
    assert report.status == "success", report.error
    summary = store_summary(store)
    assert summary["objects"] == {
        "deal": 6,
        "project": 4,
        "work_item": 16,
        "invoice": 3,
        "payment": 2,
    }
    assert summary["events"] == {
        "deal.won": 4,
        "deal.lost": 1,
        "project.created": 4,
        "work.logged": 16,
        "work.approved": 16,
        "invoice.created": 3,
        "invoice.posted": 2,
        "payment.received": 2,
    }
    assert summary["links"] == {
        "provisions": 3,
        "part_of": 16,
        "billed_on": 10,
        "bills": 3,
        "settled_by": 2,
    }
    with Session(store) as s:
        won = s.scalars(
            select(Event.occurred_at)
            .where(Event.activity == "deal.won")
            .order_by(Event.occurred_at)
        ).all()
    assert [w.replace(tzinfo=None) for w in won][:2] == [
        datetime(2026, 6, 5, 15, 30),
        datetime(2026, 6, 15, 16, 0),
    ]


def test_a_malformed_record_is_quarantined_and_the_rest_of_its_page_stored(
    store: Engine, calls: list[Any]
) -> None:
    broken = copy.deepcopy(calls)
    lines = answer_of(broken, "model.timesheet.line.search_read")
    lines[3]["duration"] = "three hours"
    report = run(store, broken)
    assert report.status == "success" and report.quarantined == 1
    with Session(store) as s:
        (row,) = s.scalars(select(Quarantine)).all()
    assert (row.stream, row.source_key) == ("timesheet_lines", str(lines[3]["id"]))
    assert row.reason == "duration is not a time span: 'three hours'"
    assert store_summary(store)["objects"]["work_item"] == 15


def test_an_error_answer_fails_only_its_stream(store: Engine, calls: list[Any]) -> None:
    broken = copy.deepcopy(calls)
    call = next(c for c in broken if c["method"] == "model.account.invoice.search_read")
    call["answer"] = {"error": ["AccessError", ["You are not allowed to read invoices.", ""]]}
    report = run(store, broken)
    assert report.status == "partial"
    assert report.streams[-1].error == (
        "Tryton refused model.account.invoice.search_read: AccessError: You are not allowed to"
        " read invoices."
    )
    assert [s.error for s in report.streams[:-1]] == [None, None, None]


def test_typed_values_are_decoded_and_encoded_as_tryton_does() -> None:
    text = json.dumps(
        [
            {
                "__class__": "datetime",
                "year": 2026,
                "month": 6,
                "day": 5,
                "hour": 15,
                "minute": 30,
                "second": 0,
                "microsecond": 7,
            },
            {"__class__": "date", "year": 2026, "month": 6, "day": 5},
            {"__class__": "timedelta", "seconds": 5400.0},
            {"__class__": "Decimal", "decimal": "150.00"},
        ]
    )
    values = decode(text)
    assert values == [
        datetime(2026, 6, 5, 15, 30, 0, 7, tzinfo=UTC),
        date(2026, 6, 5),
        timedelta(minutes=90),
        Decimal("150.00"),
    ]
    assert encode(values) == json.loads(text)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 6, day, hour, tzinfo=UTC)


def sale(ident: int, created: datetime, *steps: tuple[datetime, str]) -> dict[str, Any]:
    return {
        "id": ident,
        "create_date": created,
        "transitions": [
            {"id": 100 * ident + i, "at": t, "state": s} for i, (t, s) in enumerate(steps)
        ],
    }


def test_won_lost_and_reopened_are_replayed_from_the_sales_history() -> None:
    reopened_then_lost = {
        "state": "lost",
        "_sales": [
            sale(1, at(1), (at(2), "quotation"), (at(3), "confirmed")),
            sale(2, at(5), (at(8), "cancelled")),  # a second quotation reopens the deal
        ],
        "_log": [],
    }
    changes = [(c.activity, c.at) for c in stage_changes(reopened_then_lost)]
    assert changes == [
        (Activity.DEAL_WON, at(3)),
        (Activity.DEAL_REOPENED, at(5)),
        (Activity.DEAL_WON, at(8)),
    ]
    all_cancelled = {"_sales": [sale(1, at(1), (at(4), "cancelled"))], "_log": []}
    assert [(c.activity, c.at) for c in stage_changes(all_cancelled)] == [
        (Activity.DEAL_LOST, at(4))
    ]
    marked_lost = {
        "_sales": [],
        "_log": [{"id": 1, "at": at(9), "event": "button", "target": "lost"}],
    }
    assert [c.activity for c in stage_changes(marked_lost)] == [Activity.DEAL_LOST]
    no_history = {"state": "won", "end_date": date(2026, 6, 5), "_sales": [], "_log": []}
    (fallback,) = stage_changes(no_history)
    assert (fallback.activity, fallback.at, fallback.source) == (
        Activity.DEAL_WON,
        datetime(2026, 6, 5, tzinfo=UTC),
        "end_date",
    )


def test_the_party_rule_picks_the_deal_won_last_before_the_project() -> None:
    project = {"create_date": at(20), "party.": {"id": 4}, "company.": {"id": 1}}
    wins = [(1, 4, 1, at(1)), (4, 4, 1, at(15)), (9, 4, 1, at(25)), (7, 5, 1, at(18))]
    assert deal_for_project(project, wins) == 4
    assert deal_for_project({**project, "create_date": at(1, 0)}, wins) is None
    assert deal_for_project({**project, "party.": None}, wins) is None


def test_a_posted_then_cancelled_invoice_is_posted_and_voided() -> None:
    invoice = {
        "create_date": at(1),
        "last_modified_at": at(9),
        "state": "cancelled",
        "move.": {"id": 3, "create_date": at(2)},
        "cancel_move.": {"id": 4, "create_date": at(7)},
    }
    assert invoice_times(invoice) == {
        Activity.INVOICE_CREATED: at(1),
        Activity.INVOICE_POSTED: at(2),
        Activity.INVOICE_VOIDED: at(7),
    }
    draft_cancelled = {"create_date": at(1), "last_modified_at": at(3), "state": "cancelled"}
    assert invoice_times(draft_cancelled)[Activity.INVOICE_VOIDED] == at(3)


def test_time_on_a_timesheet_project_is_billable_work_at_its_list_price() -> None:
    line = {
        "id": 7,
        "date": date(2026, 6, 10),
        "duration": timedelta(hours=2, minutes=20),
        "create_date": at(10, 17),
        "last_modified_at": at(10, 17),
        "company.": {"id": 1, "rec_name": "Throughline Tryton Inc."},
        "invoice_line.": {"id": 2, "invoice": 5},
        "_project": {
            "id": 1,
            "invoice_method": "timesheet",
            "list_price": Decimal("150.0000"),
            "currency": "USD",
        },
    }
    batch = map_timesheet_line(line, TrytonMapping({"Throughline Tryton Inc.": "US"}))
    (item,) = batch.objects
    assert (item.amount, item.currency, item.legal_entity) == (Decimal("350.00"), "USD", "US")
    assert item.attributes["billable"] is True and item.attributes["project_id"] == "1"
    targets = {(lk.qualifier, lk.to_id) for lk in batch.links}
    assert ("billed_on", object_id("tryton", "invoice", "5")) in targets
    assert {e.activity for e in batch.events} == {Activity.WORK_LOGGED, Activity.WORK_APPROVED}
    manual = {**line, "_project": {**line["_project"], "invoice_method": "manual"}}
    assert map_timesheet_line(manual, TrytonMapping({})).objects[0].amount is None
    with pytest.raises(MappingError, match="duration is not a time span"):
        map_timesheet_line({**line, "duration": 3.5}, TrytonMapping({}))
    for duration, hours in (
        (timedelta(hours=10), "10"),
        (timedelta(hours=2, minutes=20), "2.333333333333333333333333333"),
        (timedelta(hours=100), "100"),
    ):
        (item,) = map_timesheet_line({**line, "duration": duration}, TrytonMapping({})).objects
        assert item.attributes["hours"] == hours  # plain numbers, never "1E+1"


def test_a_deal_link_pattern_must_name_its_group() -> None:
    with pytest.raises(ValueError, match=r"needs a group named id .* or number"):
        erp_tryton.DealLink("field", "comment", r"Deal (\S+)")


def test_a_server_ignoring_the_keyset_condition_raises_a_pagination_loop() -> None:
    rows = [
        {
            "id": i,
            "last_modified_at": {
                "__class__": "datetime",
                "year": 2026,
                "month": 6,
                "day": 1,
                "hour": 9,
                "minute": 0,
                "second": 0,
                "microsecond": 0,
            },
        }
        for i in (1, 2)
    ]

    def same_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 0, "result": rows})

    stream = erp_tryton.streams_for(erp_tryton.TrytonConfig(URL, page_size=2))[2]
    stream = dataclasses.replace(stream, enrich=None)
    client = make_client(URL, None, transport=httpx.MockTransport(same_page))
    pages = stream.fetch(client, FetchWindow(None, datetime(2026, 11, 24, tzinfo=UTC)))
    assert len(next(pages)) == 2
    with pytest.raises(PaginationLoop, match="page 2 repeats record 1 already read on page 1"):
        next(pages)


def test_settings_give_the_url_credentials_and_entities(monkeypatch: pytest.MonkeyPatch) -> None:
    from foundation.settings import Settings

    monkeypatch.setenv("THROUGHLINE_COLLECTORS__TRYTON__BASE_URL", URL)
    monkeypatch.setenv("THROUGHLINE_SECRETS__TRYTON_PASSWORD", "secret")
    monkeypatch.setenv("THROUGHLINE_SECRETS__TRYTON_LOGIN", "throughline")
    collector = erp_tryton.from_settings("tryton", Settings())
    assert collector.base_url == URL and collector.source_system == "tryton"
    assert [s.name for s in collector.streams] == [
        "opportunities",
        "projects",
        "timesheet_lines",
        "invoices",
    ]
    monkeypatch.delenv("THROUGHLINE_SECRETS__TRYTON_PASSWORD")
    with pytest.raises(ValueError, match="THROUGHLINE_SECRETS__TRYTON_PASSWORD"):
        erp_tryton.from_settings("tryton", Settings())


class TooManyOnce(Replay):
    """Answers the first `search_read` with 429 and `Retry-After: 0`, then replays."""

    def __init__(self, calls: list[dict[str, Any]]) -> None:
        super().__init__(calls)
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refused == 0 and b"search_read" in request.content:
            self.refused += 1
            return httpx.Response(429, headers={"Retry-After": "0"}, text="Too Many Requests")
        return super().handle_request(request)


def test_a_429_with_retry_after_is_retried(store: Engine, calls: list[Any]) -> None:
    transport = TooManyOnce(calls)
    config = erp_tryton.TrytonConfig(URL)
    session = erp_tryton.TrytonSession(config.url, "admin", "secret", transport=transport)
    report = run_collector(
        store,
        erp_tryton.collector("tryton", config, session, transport=transport),
        refresh=refresh_pending,
    )
    assert report.status == "success" and transport.refused == 1
    assert store_summary(store)["objects"]["deal"] == 6
