"""NetSuite: currency and subsidiary ids become ISO codes and legal entities (so amounts
convert), read once a run; time-bill hours in H:MM. Recorded SuiteQL answers in the documented
shape (`tests/fixtures/http/netsuite/`), stored on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from collectors.erp_netsuite import hours, localize, map_timebill, streams
from collectors.erp_netsuite.lookups import Entity, Lookups
from collectors.errors import MappingError
from collectors.registry import build_collector
from collectors.runner import run_collector
from metrics.facts import refresh_pending
from metrics.fx import load_fx
from tests.collectors.fixture_api import FixtureApi, fixture, manifest
from tests.collectors.sources import saas_settings

NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: The recorded account's integration user's time zone.
NS_TIMEZONE = manifest("netsuite")["contract"]["options"]["timezone"]
OPTIONS = {"account_id": "1234567_SB1", "timezone": NS_TIMEZONE, "limit": 2}
ENTITIES = (
    Entity("US", "Throughline Demo Inc.", "US"),
    Entity("UK", "Throughline Demo Ltd", "GB"),
    Entity("DE", "Throughline Demo GmbH", "DE"),
)


def collect(engine: Engine, fake: FixtureApi, **options: Any) -> None:
    collector = build_collector(
        "netsuite",
        saas_settings("netsuite"),
        transport=fake.transport(),
        options={"netsuite": {**OPTIONS, **options}},
    )
    report = run_collector(engine, collector, now=NOW, refresh=refresh_pending)
    assert report.status == "success" and report.quarantined == 0, report.error


def objects(engine: Engine, kind: str) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_key, currency, legal_entity, amount FROM objects WHERE type = :t"),
            {"t": kind},
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def test_ids_become_iso_codes_and_legal_entities_and_amounts_convert(engine: Engine) -> None:
    fake = FixtureApi("netsuite")
    collect(engine, fake)

    customers = objects(engine, "account")
    assert {k: v[:2] for k, v in customers.items()} == {
        "2101": ("EUR", "DE"),  # subsidiary 3 "Throughline Deutschland GmbH": the entity in DE
        "2102": ("GBP", "UK"),  # subsidiary 2: the entity of the same name
        "2103": ("USD", "US"),
    }
    invoices = objects(engine, "invoice")
    assert invoices["5501"][:2] == ("EUR", "DE") and invoices["5601"][:2] == ("GBP", "UK")
    with engine.connect() as conn:
        rates = sorted(conn.execute(text("SELECT day, base, quote, rate FROM fx_rates")).all())
    assert [(r[1], r[2], Decimal(str(r[3]))) for r in rates] == [
        ("EUR", "USD", Decimal("1.0832")),
        ("GBP", "USD", Decimal("1.2611")),
    ]
    amounts, issues = load_fx(engine, "USD").convert(
        [float(invoices["5501"][2])], [invoices["5501"][0]], [date(2026, 4, 1)]
    )
    assert issues == [] and amounts[0] == pytest.approx(24000 * 1.0832)

    # each list read once for the whole run, whichever streams held ids
    lists = [
        q
        for q in (sent["q"] for sent in fake.sent("suiteql"))
        if q.startswith("SELECT id, symbol") or q.startswith("SELECT id, name, country")
    ]
    assert lists == [
        "SELECT id, symbol FROM currency ORDER BY id",
        "SELECT id, name, country FROM subsidiary ORDER BY id",
    ]


def test_configured_subsidiaries_are_not_looked_up(engine: Engine) -> None:
    fake = FixtureApi("netsuite")
    collect(
        engine,
        fake,
        legal_entities={"1": "US", "2": "UK", "Throughline Deutschland GmbH": "DE", "3": "DE"},
    )
    assert not any("FROM subsidiary" in q for q in (sent["q"] for sent in fake.sent("suiteql")))
    assert objects(engine, "account")["2101"][:2] == ("EUR", "DE")


def test_an_id_missing_from_the_lists_quarantines_its_record_with_the_reason(
    engine: Engine,
) -> None:
    fake = FixtureApi("netsuite")

    def without_the_euro(request: httpx.Request) -> httpx.Response:
        answer = fake.handle(request)
        if b"FROM currency" not in request.content:
            return answer
        page = json.loads(answer.read())
        page["items"] = [i for i in page["items"] if i["id"] != "4"]
        page["count"] = page["totalResults"] = len(page["items"])
        return httpx.Response(200, json=page)

    collector = build_collector(
        "netsuite",
        saas_settings("netsuite"),
        transport=httpx.MockTransport(without_the_euro),
        options={"netsuite": OPTIONS},
    )
    report = run_collector(engine, collector, now=NOW, refresh=refresh_pending)
    with engine.connect() as conn:
        reasons = dict(
            conn.execute(
                text("SELECT source_key, reason FROM quarantine WHERE stream = 'customers'")
            ).all()
        )
    assert reasons == {"2101": "currency 4 not in NetSuite's lists (deleted or hidden?)"}
    assert set(objects(engine, "account")) == {"2102", "2103"}
    assert report.quarantined >= 1


def test_ids_of_a_page_are_all_named_when_unresolved() -> None:
    lookups = Lookups(entities=ENTITIES, currencies={"1": "USD"}, subsidiaries={"1": "US"})
    page = lookups.resolve(
        _no_client(),
        [
            {"id": "1", "currency": "4", "subsidiary": "9"},
            {"id": "2", "currency": "1", "subsidiary": "1"},
        ],
    )
    (customers,) = [s for s in streams(_config()) if s.name == "customers"]
    with pytest.raises(MappingError, match=r"currency 4, subsidiary 9 not in NetSuite's lists"):
        customers.map({**page[0], "lastmodifieddate": "2026-02-02T08:00:00+00:00"})
    (account,) = customers.map({**page[1], "lastmodifieddate": "2026-02-02T08:00:00+00:00"}).objects
    assert (account.currency, account.legal_entity) == ("USD", "US")


def test_codes_the_demo_erp_sends_are_left_as_they_are() -> None:
    lookups = Lookups(entities=ENTITIES)
    page = [{"id": "1", "currency": "EUR", "subsidiary": "DE", "basecurrency": "USD"}]
    assert lookups.resolve(_no_client(), page) == page  # and no list was read
    assert lookups.currencies is None and lookups.subsidiaries is None


@pytest.mark.parametrize(
    ("subsidiary", "entity"),
    [
        ({"id": "7", "name": "Throughline Demo Ltd", "country": "IE"}, "UK"),  # by name
        ({"id": "8", "name": "Throughline Berlin", "country": "de"}, "DE"),  # only one in DE
        ({"id": "9", "name": "Throughline Iberia SL", "country": "ES"}, "Throughline Iberia SL"),
    ],
)
def test_a_subsidiary_is_the_entity_of_its_name_else_its_country_else_itself(
    subsidiary: dict[str, str], entity: str
) -> None:
    assert Lookups(entities=ENTITIES).entity_of(subsidiary) == entity
    assert Lookups({"9": "ES"}, ENTITIES).entity_of({**subsidiary, "id": "9"}) == "ES"


def test_two_entities_in_one_country_do_not_claim_its_subsidiaries() -> None:
    both = (*ENTITIES, Entity("US2", "Throughline Services LLC", "US"))
    assert Lookups(entities=both).entity_of({"id": "4", "name": "Elsewhere", "country": "US"}) == (
        "Elsewhere"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7:30", "7.5"),
        ("0:45", "0.75"),
        ("12:00", "12"),
        ("7.5", "7.5"),
        ("4", "4"),
        (8, "8"),
        ("0:20", "0.333333"),
    ],
)
def test_hours_arrive_as_h_mm_or_as_a_decimal(raw: Any, expected: str) -> None:
    value = hours({"hours": raw})
    assert value is not None and str(value.normalize()) == expected


@pytest.mark.parametrize("raw", ["7:75", "7h30", "1,5", "-2", ":30", {"h": 1}, "7:3"])
def test_hours_in_another_shape_are_refused(raw: Any) -> None:
    with pytest.raises(MappingError, match="hours is neither H:MM nor a number of hours"):
        hours({"hours": raw})


@given(st.integers(0, 9999), st.integers(0, 59))
def test_h_mm_is_the_same_duration_as_its_decimal(h: int, m: int) -> None:
    as_duration = hours({"hours": f"{h}:{m:02d}"})
    assert as_duration is not None and abs(as_duration * 60 - (h * 60 + m)) < Decimal("0.0001")


def test_a_time_bill_stores_h_mm_as_decimal_hours() -> None:
    times = ("datecreated", "lastmodifieddate", "custcol_tl_approved_at")
    raw = fixture("netsuite", "suiteql_timebill.json")["items"][0]
    item = localize({**raw, "subsidiary": "DE"}, times, ZoneInfo(NS_TIMEZONE))
    assert item["hours"] == "7:30"
    (work,) = map_timebill(item, _config().fields).objects
    assert work.attributes["hours"] == "7.5"


def _config() -> Any:
    from collectors.erp_netsuite import NetSuiteConfig

    return NetSuiteConfig("https://1234567-sb1.suitetalk.api.netsuite.com", projects=True)


def _no_client() -> Any:
    """A client that must not be used: every list the test needs is already known."""

    class Refuses:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the lookups asked NetSuite ({name})")

    return Refuses()


@pytest.mark.parametrize(("raw", "text"), [("10:00", "10"), ("100", "100"), ("20.50", "20.5")])
def test_whole_hours_are_stored_as_plain_numbers(raw: str, text: str) -> None:
    times = ("datecreated", "lastmodifieddate", "custcol_tl_approved_at")
    item = localize(
        {
            **fixture("netsuite", "suiteql_timebill.json")["items"][0],
            "hours": raw,
            "subsidiary": "DE",
        },
        times,
        ZoneInfo(NS_TIMEZONE),
    )
    (work,) = map_timebill(item, _config().fields).objects
    assert work.attributes["hours"] == text  # never "1E+1"
