"""NetSuite dates: SuiteQL answers plain date columns in the user's date preference, so the
queries name their columns and TO_CHAR the date ones; the wall-clock times are read in the
account's configured time zone (across daylight-saving changes); a query that forgets TO_CHAR
stores nothing and quarantines every record with the value it could not read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collectors.base import HttpCollector
from collectors.demo_estate.apis.suiteql import Cond, parse_suiteql, to_char
from collectors.erp_netsuite import NetSuiteConfig, SuiteQLStream, wall_clock
from collectors.registry import build_collector
from collectors.runner import run_collector
from metrics.facts import refresh_pending
from store.tables import Quarantine
from tests.collectors.fixture_api import FixtureApi
from tests.collectors.sources import SAAS, saas_settings

NOW = datetime(2026, 5, 1, tzinfo=UTC)
TIMESTAMP = "'YYYY-MM-DD\"T\"HH24:MI:SS'"


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from store.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


def queries(fake: FixtureApi) -> list[str]:
    """The SuiteQL queries the fake account was sent."""
    return [sent["q"] for sent in fake.sent("suiteql")]


def netsuite(fake: FixtureApi, **options: Any) -> HttpCollector:
    every = {**SAAS["netsuite"]["options"], "limit": 1000, **options}
    built = build_collector(
        "netsuite",
        saas_settings("netsuite"),
        transport=fake.transport(),
        options={"netsuite": every},
    )
    assert isinstance(built, HttpCollector)
    return built


def times(engine: Engine, sql: str) -> dict[str, str]:
    with engine.connect() as conn:
        return {str(k): str(v)[:19] for k, v in conn.execute(text(sql))}


def test_queries_name_their_columns_and_format_dates_with_to_char(store: Engine) -> None:
    fake = FixtureApi("netsuite")
    assert (
        run_collector(store, netsuite(fake), now=NOW, refresh=refresh_pending).status == "success"
    )
    assert not any("SELECT *" in q for q in queries(fake))
    assert queries(fake)[0] == (
        "SELECT id, entityid, companyname, subsidiary, currency, custentity_tax_id,"
        f" TO_CHAR(lastmodifieddate, {TIMESTAMP}) AS lastmodifieddate FROM customer"
        " ORDER BY lastmodifieddate, id"
    )
    # then the currency and subsidiary lists the customers' ids are looked up in, once a run
    assert queries(fake)[1:3] == [
        "SELECT id, symbol FROM currency ORDER BY id",
        "SELECT id, name, country FROM subsidiary ORDER BY id",
    ]
    invoices = queries(fake)[3]
    assert "TO_CHAR(trandate, 'YYYY-MM-DD') AS trandate" in invoices
    assert f"TO_CHAR(custbody_tl_posted_at, {TIMESTAMP}) AS custbody_tl_posted_at" in invoices
    assert "WHERE type = 'CustInvc' ORDER BY lastmodifieddate, id" in invoices
    seen = len(queries(fake))
    assert run_collector(store, netsuite(fake), now=NOW, refresh=refresh_pending).rows_written == 0
    # the customers' cursor is 2026-02-04 10:30 UTC; minus the 5-minute look-back, in New York
    # (EST, UTC-5) that is 05:25 on the wall clock
    assert queries(fake)[seen].endswith(
        " FROM customer WHERE lastmodifieddate >= TO_DATE('2026-02-04 05:25:00',"
        " 'YYYY-MM-DD HH24:MI:SS') ORDER BY lastmodifieddate, id"
    )


def test_date_times_are_read_in_the_account_time_zone_across_daylight_saving(
    store: Engine,
) -> None:
    report = run_collector(
        store, netsuite(FixtureApi("netsuite")), now=NOW, refresh=refresh_pending
    )
    assert report.status == "success" and report.quarantined == 0
    customers = times(
        store, "SELECT source_key, source_updated_at FROM objects WHERE type = 'account'"
    )
    assert customers["2101"] == "2026-02-02 08:00:00"  # 03:00 EST (UTC-5)
    events = times(store, "SELECT source_key || ' ' || activity, occurred_at FROM events")
    assert events["5501 invoice.posted"] == "2026-04-02 10:00:00"  # 06:00 EDT (UTC-4)
    assert events["5501 invoice.sent"] == "2026-04-02 10:05:00"
    assert events["88001 work.approved"] == "2026-03-13 16:00:00"  # after the March 8 change
    assert events["7701 project.created"] == "2026-03-04 13:00:00"  # before it: EST
    with store.connect() as conn:
        trandate, period_end = conn.execute(
            text(
                "SELECT json_extract(attributes, '$.trandate'), json_extract(attributes, '$.period_end')"
                " FROM objects WHERE source_key = '5501'"
            )
        ).one()
        (day,) = conn.execute(text("SELECT day FROM fx_rates LIMIT 1")).one()
    assert (trandate, period_end, str(day)) == ("2026-03-31", "2026-03-31", "2026-04-01")


def test_the_time_zone_defaults_to_utc_and_an_unknown_one_is_refused(store: Engine) -> None:
    assert NetSuiteConfig("https://x.suitetalk.api.netsuite.com").timezone == "UTC"
    run_collector(
        store, netsuite(FixtureApi("netsuite"), timezone="UTC"), now=NOW, refresh=refresh_pending
    )
    customers = times(
        store, "SELECT source_key, source_updated_at FROM objects WHERE type = 'account'"
    )
    assert customers["2101"] == "2026-02-02 03:00:00"  # the wall clock taken as UTC
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone name"):
        netsuite(FixtureApi("netsuite"), timezone="Mars/Olympus")


def test_a_query_that_forgets_to_char_quarantines_every_record(store: Engine) -> None:
    fake = FixtureApi("netsuite")
    real = netsuite(fake)
    customers = real.streams[0]
    assert isinstance(customers, SuiteQLStream)
    forgetful = dataclasses.replace(
        customers, columns=(*customers.columns, "lastmodifieddate"), datetimes=()
    )
    report = run_collector(
        store, dataclasses.replace(real, streams=[forgetful]), now=NOW, refresh=refresh_pending
    )
    assert report.rows_written == 0 and report.quarantined == 3
    with Session(store) as s:
        reasons = sorted(q.reason for q in s.scalars(select(Quarantine)))
    assert reasons[0] == "lastmodifieddate is not a valid timestamp: '2/2/2026 3:00 am'"


def test_the_cursor_filter_starts_an_hour_early_in_the_repeated_hour() -> None:
    zone = ZoneInfo(SAAS["netsuite"]["options"]["timezone"])
    assert wall_clock(datetime(2026, 7, 1, 12, 0, 59, 999, tzinfo=UTC), zone) == (
        "2026-07-01 08:00:59"
    )
    # 05:30 UTC on 1 November 2026 is 01:30 EDT, a wall-clock time that comes twice
    assert wall_clock(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), zone) == "2026-11-01 00:30:00"


def test_the_demo_erp_understands_to_char_and_to_date() -> None:
    q = parse_suiteql(
        "SELECT id, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS lastmodifieddate,"
        " TO_CHAR(trandate, 'YYYY-MM-DD') AS trandate FROM transaction WHERE type = 'CustInvc'"
        " AND lastmodifieddate >= TO_DATE('2026-01-01 08:00:00', 'YYYY-MM-DD HH24:MI:SS')"
        " ORDER BY lastmodifieddate, id"
    )
    assert q.columns == ("id", "lastmodifieddate", "trandate")
    assert q.to_char == (
        ("lastmodifieddate", "lastmodifieddate", 'YYYY-MM-DD"T"HH24:MI:SS'),
        ("trandate", "trandate", "YYYY-MM-DD"),
    )
    assert q.where[1] == Cond("lastmodifieddate", ">=", "2026-01-01T08:00:00Z")
    at = datetime(2026, 1, 5, 14, 3, tzinfo=ZoneInfo("Europe/Berlin"))
    assert to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS') == "2026-01-05T13:03:00"  # written in UTC
