"""HubSpot deal owners: ``hubspot_owner_id`` resolved to the owner's name (else email) through
the owners API — every page, once a run — and kept as the id when the owner is not listed
(deactivated or unknown) or the token may not read owners."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from collectors.registry import build_collector
from collectors.runner import run_collector
from metrics.facts import refresh_pending
from tests.collectors.fixture_api import FixtureApi
from tests.collectors.sources import SAAS, saas_settings


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from store.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


def run(engine: Engine, fake: FixtureApi, day: int = 6) -> Any:
    collector = build_collector(
        "hubspot",
        saas_settings("hubspot"),
        transport=fake.transport(),
        options={"hubspot": SAAS["hubspot"]["options"]},
    )
    return run_collector(
        engine, collector, now=datetime(2026, 3, day, tzinfo=UTC), refresh=refresh_pending
    )


def deal_owners(engine: Engine) -> dict[str, tuple[str, str]]:
    """Deal id → (owner as stored, the owner id kept in its attributes)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_key, owner, attributes FROM objects WHERE type = 'deal'")
        ).all()
    return {
        key: (owner, (json.loads(a) if isinstance(a, str) else a)["owner_id"])
        for key, owner, a in rows
    }


def test_deal_owners_are_names_and_an_owner_not_listed_stays_its_id(store: Engine) -> None:
    report = run(store, FixtureApi("hubspot"))
    assert report.status == "success" and report.quarantined == 0
    assert deal_owners(store) == {
        "18233210761": ("Jana Roth", "75321009"),
        "18233210762": ("Jana Roth", "75321009"),
        "18233210763": ("75321010", "75321010"),  # deactivated: not in the owners list
    }


def test_an_owner_without_a_name_is_shown_by_email(store: Engine) -> None:
    fake = FixtureApi("hubspot")
    third = fake.tables["deals"][2]
    fake.tables["deals"][2] = {
        **third,
        "properties": {**third["properties"], "hubspot_owner_id": "75321011"},
    }
    run(store, fake)
    assert deal_owners(store)["18233210763"] == ("sales-ops@example.com", "75321011")


def test_owners_are_read_through_every_page_once_a_run(store: Engine) -> None:
    fake = FixtureApi("hubspot")  # three owners in pages of two; three deals in pages of two
    run(store, fake)
    assert fake.served("owners") == 2  # not once per deals page
    second = run(store, fake, day=7)  # the look-back re-reads the newest deal
    assert second.records_read > 0
    assert fake.served("owners") == 4  # read again in the next run, not kept across runs


def test_a_token_without_the_owners_scope_keeps_owner_ids(
    store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FixtureApi("hubspot")
    fake.refuse("owners", "owners_forbidden")
    report = run(store, fake)
    assert report.status == "success", report.error
    assert deal_owners(store)["18233210761"] == ("75321009", "75321009")
    assert "crm.objects.owners.read" in caplog.text
    assert fake.auth.token not in caplog.text
