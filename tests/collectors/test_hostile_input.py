"""Hostile text through the collectors' text fields: stored verbatim, never interpreted.

Script tags, HTML, Markdown and SQL fragments go in through names (CRM accounts and deals, ERP
customers, PSA projects), an integration error message and a sync payload; every one comes out
of the store byte for byte, nothing is quarantined, and the next run adds nothing. How the
dashboard shows such text (as text) is tested in tests/pages/test_hostile_display.py and in
the browser (tests/browser/test_signin_browser.py).
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from collectors.demo_estate.server import DemoEstateServer
from tests.collectors.test_demo_collection import collect_all

HOSTILE = (
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned=1"><b>bold</b>',
    "**bold** _it_ [pay here](http://evil.example) :material/home: $x^2$ <!-- c -->",
    "'; DROP TABLE objects; --",
    'Robert"); DELETE FROM events WHERE 1=1; --',
    "{{7*7}} ${7*7} %(x)s %s \\N \u202etxet\u202c ' OR '1'='1",
)


def test_hostile_text_is_stored_verbatim_and_nothing_is_quarantined(
    engine: Engine, demo_server: DemoEstateServer
) -> None:
    estate = demo_server.estate
    account = estate.records["Account"][3].id
    deal = estate.records["Opportunity"][7].id
    customer = estate.records["customer"][2].id
    project = estate.records["project"][4].id
    job = next(r.id for r in estate.records["job"] if r.versions[-1].state.get("status") == "error")
    payload = {"note": HOSTILE[5], "nested": {"html": HOSTILE[0]}, "sql": HOSTILE[3]}
    corruptions = [
        ("Account", account, "Name", HOSTILE[0]),
        ("Opportunity", deal, "Name", HOSTILE[1]),
        ("customer", customer, "companyname", HOSTILE[2]),
        ("project", project, "name", HOSTILE[3]),
        ("job", job, "error", {"code": "VALIDATION", "http_status": 400, "message": HOSTILE[4]}),
        ("job", job, "payload", payload),
    ]
    for kind, record, field, value in corruptions:
        estate.corrupt(kind, record, field, value)
    try:
        reports = collect_all(engine, demo_server)
        again = collect_all(engine, demo_server)
    finally:
        estate.clear_corruptions()
    assert [r.status for r in reports] == ["success"] * len(reports)
    assert sum(r.quarantined for r in reports + again) == 0
    assert sum(r.rows_written for r in again) == 0

    def one(query: str, **params: str) -> object:
        with engine.connect() as conn:
            return conn.execute(text(query), params).scalar_one()

    attributes = "SELECT attributes FROM objects WHERE source_key = :k AND type = :t"
    assert one("SELECT customer FROM objects WHERE source_key = :k", k=account) == HOSTILE[0]
    assert _json(one(attributes, k=deal, t="deal"))["name"] == HOSTILE[1]
    assert one("SELECT customer FROM objects WHERE source_key = :k", k=customer) == HOSTILE[2]
    assert _json(one(attributes, k=project, t="project"))["name"] == HOSTILE[3]
    attempt = "SELECT {} FROM sync_attempts WHERE source_key = :k"
    assert one(attempt.format("error_message"), k=job) == HOSTILE[4]
    assert _json(one(attempt.format("payload"), k=job)) == payload
    assert (
        one("SELECT count(*) FROM objects WHERE type = 'deal'")
        == (demo_server.truth().objects["deal"])
    )  # the SQL fragments ran nowhere


def _json(value: object) -> dict[str, object]:
    loaded = json.loads(value) if isinstance(value, str) else value
    assert isinstance(loaded, dict)
    return loaded
