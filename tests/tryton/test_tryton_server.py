"""The Tryton connector against a real trytond 8.2 server on loopback (see conftest.py).

The KPIs Throughline computes from what it collected must equal the ones computed directly from
Tryton's records by `truth.py`; the contract properties that make sense for a live source hold.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collectors import erp_tryton
from collectors.base import HttpCollector
from collectors.erp_tryton.client import TrytonError, rpc
from collectors.errors import AuthFailed
from collectors.runner import RunReport, run_collector
from metrics.facts import refresh_pending
from metrics.fx import FxTable
from metrics.kpis.invoice_cycle import invoice_cycle, load_invoices
from metrics.kpis.setup_latency import load_handoffs, setup_latency
from metrics.kpis.unbilled import load_work_items, unbilled_aging
from store.migrate import upgrade
from store.tables import CollectorState, ObjectLink, Quarantine
from tests.collectors.store_truth import store_summary
from tests.tryton.conftest import COMPANY, TrytonServer
from tests.tryton.truth import Rpc, Truth, compute

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
ENTITIES = {COMPANY: "US"}
ALL_STREAMS = ["opportunities", "projects", "timesheet_lines", "invoices"]


def make(
    server: TrytonServer,
    *,
    login: str | None = None,
    password: str | None = None,
    transport: httpx.BaseTransport | None = None,
    **config: Any,
) -> tuple[HttpCollector, erp_tryton.TrytonSession]:
    settings = erp_tryton.TrytonConfig(server.base_url, legal_entities=ENTITIES, **config)
    session = erp_tryton.TrytonSession(
        settings.url, login or server.login, password or server.password, transport=transport
    )
    return erp_tryton.collector("tryton", settings, session, transport=transport), session


def collect(engine: Engine, server: TrytonServer, **kw: Any) -> RunReport:
    collector, _ = make(server, **kw)
    return run_collector(engine, collector, refresh=refresh_pending)


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    upgrade(sqlite_engine)
    return sqlite_engine


@pytest.fixture(scope="module")
def truth(tryton_server: TrytonServer) -> Truth:
    return compute(Rpc(tryton_server.base_url, tryton_server.login, tryton_server.password), AS_OF)


def cursors(engine: Engine) -> dict[str, datetime]:
    with Session(engine) as s:
        rows = s.execute(select(CollectorState.stream, CollectorState.cursor)).all()
    return {stream: datetime.fromisoformat(c["since"]) for stream, c in rows}


def close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


def test_collected_kpis_equal_the_ones_computed_from_tryton_records(
    engine: Engine, tryton_server: TrytonServer, truth: Truth
) -> None:
    report = collect(engine, tryton_server)
    assert report.status == "success", report.error
    assert report.quarantined == 0

    setup = setup_latency(load_handoffs(engine), AS_OF)
    got = {r.deal_key: (r.business_days, r.calendar_hours) for r in setup.cases.itertuples()}
    assert got.keys() == truth.setup.keys() and len(got) == 3
    for deal, (days, hrs) in truth.setup.items():
        assert close(got[deal][0], days) and close(got[deal][1], hrs), deal
    assert close(
        setup.stats.p50_days or 0, float(np.percentile([d for d, _ in truth.setup.values()], 50))
    )
    assert set(setup.stuck["deal_key"]) == truth.stuck == {"3"}
    assert setup.excluded == {}

    cycle = invoice_cycle(load_invoices(engine), AS_OF)
    got = {r.invoice_key: (r.business_days, r.calendar_hours) for r in cycle.cases.itertuples()}
    assert got.keys() == truth.cycle.keys() and len(got) == 2
    for invoice, (days, hrs) in truth.cycle.items():
        assert close(got[invoice][0], days) and close(got[invoice][1], hrs), invoice
    paid = {r.invoice_key: r.days_to_pay for r in cycle.cases.itertuples()}
    for invoice, days in truth.days_to_pay.items():
        assert close(paid[invoice], days), invoice
    waiting = {r.invoice_key: r.age_hours for r in cycle.waiting.itertuples()}
    assert waiting.keys() == truth.waiting.keys() == {"3"}  # the draft invoice
    assert close(waiting["3"], truth.waiting["3"])

    wip = unbilled_aging(load_work_items(engine), AS_OF, fx=FxTable([], "USD"))
    got_items = {
        r.work_item_key: (int(r.age_days), Decimal(str(r.amount)).quantize(Decimal("0.01")))
        for r in wip.items.itertuples()
    }
    assert got_items == truth.unbilled and len(got_items) == 7
    assert wip.total.items == len(truth.unbilled)
    assert close(wip.total.amount_rc, float(sum(v for _, v in truth.unbilled.values())))
    print(
        f"\n{engine.dialect.name}: setup p50 {setup.stats.p50_days:.2f} bd, invoice cycle p50 "
        f"{cycle.stats.p50_days:.2f} bd, WIP {wip.total.items} items {wip.total.amount_rc:.2f} USD"
    )


def test_a_second_run_adds_nothing_and_cursors_never_move_back(
    store: Engine, tryton_server: TrytonServer
) -> None:
    first = collect(store, tryton_server)
    assert first.status == "success"
    before, moved = store_summary(store), cursors(store)
    assert sorted(moved) == sorted(ALL_STREAMS)
    again = collect(store, tryton_server)
    assert again.status == "success"
    assert [s.rows_written for s in again.streams] == [0, 0, 0, 0]
    assert store_summary(store) == before
    assert all(cursors(store)[s] >= moved[s] for s in ALL_STREAMS)


def test_small_pages_store_exactly_what_one_big_page_stores(
    store: Engine, sqlite_engine: Engine, tryton_server: TrytonServer, tmp_path: Any
) -> None:
    from store.db import make_engine

    collect(store, tryton_server, page_size=200)
    other = make_engine(f"sqlite:///{tmp_path}/pages.db")
    upgrade(other)
    report = collect(other, tryton_server, page_size=2)
    assert report.status == "success"
    assert min(s.pages for s in report.streams) >= 2
    assert store_summary(other) == store_summary(store)


def test_the_field_rule_links_each_project_to_the_same_deal_as_the_party_rule(
    store: Engine, tryton_server: TrytonServer, tmp_path: Any
) -> None:
    from store.db import make_engine

    collect(store, tryton_server)
    by_field = make_engine(f"sqlite:///{tmp_path}/field.db")
    upgrade(by_field)
    rule = erp_tryton.DealLink("field", "comment", r"Deal (?P<number>\S+)")
    assert collect(by_field, tryton_server, deal_link=rule).status == "success"

    def provisions(engine: Engine) -> set[tuple[int, int]]:
        with Session(engine) as s:
            rows = s.execute(
                select(ObjectLink.from_object_id, ObjectLink.to_object_id).where(
                    ObjectLink.qualifier == "provisions"
                )
            ).all()
        return {(a, b) for a, b in rows}

    assert provisions(by_field) == provisions(store) and len(provisions(store)) == 3


def test_the_field_rule_is_chosen_in_the_connectors_file(
    store: Engine, tryton_server: TrytonServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    from collectors.registry import build_collector
    from foundation.settings import CollectorSettings, Settings
    from store.db import make_engine

    collect(store, tryton_server)  # the party rule, in code
    file = tmp_path / "connectors.yaml"
    file.write_text(
        "tryton:\n"
        "  deal_link: {rule: field, field: comment, pattern: 'Deal (?P<number>\\S+)'}\n"
        f"  legal_entities: {{{COMPANY}: US}}\n"
        "  integration_users: [admin]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("THROUGHLINE_CONNECTORS_FILE", str(file))
    settings = Settings(
        database_url="sqlite://",
        collectors={"tryton": CollectorSettings(base_url=tryton_server.base_url)},
        secrets={
            "tryton_login": SecretStr(tryton_server.login),
            "tryton_password": SecretStr(tryton_server.password),
        },
    )
    by_file = make_engine(f"sqlite:///{tmp_path}/file.db")
    upgrade(by_file)
    assert (
        run_collector(by_file, build_collector("tryton", settings), refresh=refresh_pending).status
        == "success"
    )

    def projects(engine: Engine) -> dict[str, tuple[Any, ...]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT source_key, legal_entity, attributes FROM objects WHERE type = 'project'"
                )
            ).all()
        out = {}
        for key, entity, attributes in rows:
            a = json.loads(attributes) if isinstance(attributes, str) else attributes
            out[key] = (entity, a["deal_id"], a["deal_rule"], a["touchless"])
        return out

    party, field = projects(store), projects(by_file)
    assert {k: v[2] for k, v in field.items()} == dict.fromkeys(party, "field:comment")
    assert {k: v[1] for k, v in field.items()} == {k: v[1] for k, v in party.items()}
    assert sum(v[1] is not None for v in field.values()) == 3
    assert {v[0] for v in field.values()} == {"US"}  # the company mapped in the file
    assert all(v[3] for v in field.values())  # created by admin, an integration user here


class LogoutMidRun(httpx.BaseTransport):
    """Ends the collector's session on the server (`common.db.logout`) before request `at`."""

    def __init__(self, at: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.at, self.seen, self.statuses = at, 0, []  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen == self.at and "Authorization" in request.headers:
            logout = httpx.Request(
                "POST",
                request.url,
                headers={"Authorization": request.headers["Authorization"]},
                json={"id": 0, "method": "common.db.logout", "params": []},
            )
            self.inner.handle_request(logout).read()
        response = self.inner.handle_request(request)
        self.statuses.append(response.status_code)
        return response

    def close(self) -> None:
        self.inner.close()


def test_an_expired_session_is_renewed_by_logging_in_again(
    store: Engine, tryton_server: TrytonServer
) -> None:
    transport = LogoutMidRun(at=6)
    collector, session = make(tryton_server, transport=transport)
    report = run_collector(store, collector, refresh=refresh_pending)
    assert report.status == "success", report.error
    assert 401 in transport.statuses  # the server really refused the ended session
    assert session.logins == 2
    reference = collect(store, tryton_server)
    assert reference.rows_written == 0  # the renewed run had stored everything


def test_a_refused_login_fails_cleanly_without_a_cursor(
    store: Engine, tryton_server: TrytonServer
) -> None:
    # Another login than the other tests': Tryton slows down the logins of a login that failed.
    collector, session = make(tryton_server, login="intruder", password="wrong")
    report = run_collector(store, collector, refresh=refresh_pending)
    assert report.status == "failed"
    assert all("refused the login of 'intruder'" in (s.error or "") for s in report.streams)
    assert session.logins == 0 and cursors(store) == {}
    with pytest.raises(AuthFailed, match="check the login, the password"):
        session.token()


def test_an_application_error_is_a_clear_collector_error(
    store: Engine, tryton_server: TrytonServer
) -> None:
    collector, _ = make(tryton_server)
    with collector.open_client() as client, pytest.raises(TrytonError) as caught:
        rpc(client, "model.sale.opportunity.delete", [[1], {}])
    assert str(caught.value) == (
        'Tryton refused model.sale.opportunity.delete: UserError: To delete opportunity "1", '
        "you must cancel it."
    )
    broken = dataclasses.replace(collector.streams[0], fields=("id", "no_such_field.rec_name"))
    streams = [broken, *collector.streams[1:]]
    report = run_collector(
        store, dataclasses.replace(collector, streams=streams), refresh=refresh_pending
    )
    assert report.status == "partial"
    assert report.streams[0].error == (
        "Tryton has no 'no_such_field' for model.sale.opportunity.search_read (KeyError): is the"
        " module that provides it activated, and is the field name right?"
    )
    assert [s.error for s in report.streams[1:]] == [None, None, None]
    assert "opportunities" not in cursors(store)


def test_work_logged_after_a_run_is_collected_by_the_next(
    store: Engine, tryton_server: TrytonServer
) -> None:
    first = collect(store, tryton_server)
    assert first.status == "success"
    truth = Rpc(tryton_server.base_url, tryton_server.login, tryton_server.password)
    (work,) = truth.rows("project.work", [("name", "=", "Acme phase 2: delivery")], ["id"])
    (task,) = truth.rows("timesheet.work", [("origin", "=", f"project.work,{work['id']}")], ["id"])
    (employee,) = truth.rows("company.employee", [("party.name", "=", "Bob Builder")], ["id"])
    (line_id,) = truth.call(
        "model.timesheet.line.create",
        [
            {
                "work": task["id"],
                "employee": employee["id"],
                "company": 1,
                "date": {"__class__": "date", "year": 2026, "month": 11, "day": 2},
                "duration": {"__class__": "timedelta", "seconds": 7200},
            }
        ],
        {"company": 1},
    )
    try:
        later = collect(store, tryton_server)
        lines = next(s for s in later.streams if s.name == "timesheet_lines")
        assert lines.rows_written > 0 and later.status == "success"
        wip = unbilled_aging(
            load_work_items(store),
            datetime.now(UTC) + timedelta(minutes=1),
            fx=FxTable([], "USD"),
        )
        item = wip.items[wip.items["work_item_key"] == str(line_id)].iloc[0]
        assert item["amount"] == 300.0 and item["work_date"] == date(2026, 11, 2)
        assert collect(store, tryton_server).rows_written == 0
    finally:
        truth.call("model.timesheet.line.delete", [line_id], {})
    with Session(store) as s:
        assert s.scalars(select(Quarantine)).all() == []
    assert json.dumps(cursors(store), default=str)
