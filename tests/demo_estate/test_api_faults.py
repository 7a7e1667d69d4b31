"""Auth, rate limits, injected faults, bad tokens, malformed records, live mode and snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from estate_walk import SOQL, SUITEQL, TOKEN, authed, walk_crm, walk_ipaas

from collectors.demo_estate import REMOVED, DemoEstateServer, Estate, SimClock, ground_truth

MakeServer = Callable[..., DemoEstateServer]
ERP_BODY = {"q": "SELECT * FROM customer ORDER BY lastmodifieddate, id"}


def _request(client: httpx.Client, api: str) -> httpx.Response:
    if api == "crm":
        return client.get(SOQL, params={"q": "SELECT Id FROM Account"})
    if api == "psa":
        return client.get("/psa/api/v1/projects")
    if api == "erp":
        return client.post(SUITEQL, headers={"Prefer": "transient"}, json=ERP_BODY)
    return client.get("/ipaas/api/v1/jobs")


def _error_code(api: str, body: Any) -> str:
    if api == "crm":
        return str(body[0]["errorCode"])
    if api == "psa":
        return str(body["error"]["code"])
    if api == "erp":
        return str(body["o:errorDetails"][0]["o:errorCode"])
    return str(body["error"])


@pytest.mark.parametrize(
    ("api", "code"),
    [
        ("crm", "INVALID_SESSION_ID"),
        ("psa", "unauthorized"),
        ("erp", "INVALID_LOGIN"),
        ("ipaas", "unauthorized"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_requests_without_the_token_get_401_in_the_apis_shape(
    shared_server: DemoEstateServer, api: str, code: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    with httpx.Client(base_url=shared_server.base_url, headers=headers) as anonymous:
        response = _request(anonymous, api)
    assert response.status_code == 401
    assert _error_code(api, response.json()) == code


def test_truth_and_clock_need_the_token_but_health_does_not(
    shared_server: DemoEstateServer, client: httpx.Client, estate: Estate
) -> None:
    assert httpx.get(f"{shared_server.base_url}/_truth").status_code == 401
    assert httpx.get(f"{shared_server.base_url}/_health").json() == {"status": "ok"}
    served = client.get("/_truth", params={"as_of": "2026-06-01T00:00:00Z"}).json()
    expected = ground_truth(estate, estate.history_end.replace(year=2026, month=6)).to_dict()
    assert served == expected
    clock = client.get("/_clock").json()
    assert clock["now"] == "2026-11-01T00:00:00.000Z" and clock["live"] is False


def test_past_the_rate_limit_every_api_answers_429_with_retry_after(
    make_server: MakeServer,
) -> None:
    server = make_server(rate_limit=3)
    apis = ("crm", "psa", "erp", "ipaas")
    with authed(server) as c:
        admitted = [_request(c, api).status_code for api in apis[:3]]
        limited = {api: _request(c, api) for api in apis}
        time.sleep(1.05)
        after = _request(c, "psa").status_code
    assert admitted == [200, 200, 200]
    for api, response in limited.items():
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert _error_code(api, response.json()) in (
            "REQUEST_LIMIT_EXCEEDED",
            "rate_limited",
            "CONCURRENCY_LIMIT_EXCEEDED",
            "too_many_requests",
        )
    assert after == 200


def test_injected_statuses_fail_the_next_matching_requests_in_order(
    make_server: MakeServer,
) -> None:
    server = make_server()
    server.inject("/psa/api/v1/time-entries", statuses=[503, 429], count=3)
    with authed(server) as c:
        other = c.get("/psa/api/v1/projects")
        seen = [c.get("/psa/api/v1/time-entries") for _ in range(4)]
    assert other.status_code == 200
    assert [r.status_code for r in seen] == [503, 429, 503, 200]
    assert seen[1].headers["Retry-After"] == "1"
    assert seen[0].json()["error"]["code"] == "unavailable"
    assert server.requests_log == [
        ("/psa/api/v1/projects", 200),
        *[("/psa/api/v1/time-entries", s) for s in (503, 429, 503, 200)],
    ]


def test_injected_delays_make_clients_time_out_once(make_server: MakeServer) -> None:
    server = make_server()
    server.inject_timeout("/ipaas", seconds=2.0, count=1)
    with authed(server, timeout=0.5) as c, pytest.raises(httpx.ReadTimeout):
        c.get("/ipaas/api/v1/jobs")
    # The delay applied once: the next request is answered (generous timeout for a busy CI).
    with authed(server, timeout=30) as c:
        assert c.get("/ipaas/api/v1/jobs").status_code == 200


@pytest.mark.parametrize(
    ("api", "path", "params"),
    [
        ("crm", "/crm/services/data/v60.0/query/01gAAAAAAAAAAAAAAA-200", {}),
        ("psa", "/psa/api/v1/projects", {"page_token": "not-a-token"}),
        ("ipaas", "/ipaas/api/v1/jobs", {"cursor": "not-a-cursor"}),
    ],
)
def test_a_page_token_the_server_never_issued_gets_400(
    client: httpx.Client, api: str, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert _error_code(api, response.json()) in (
        "INVALID_QUERY_LOCATOR",
        "invalid_page_token",
        "invalid_cursor",
    )


def test_a_psa_token_is_not_valid_for_another_resource(client: httpx.Client) -> None:
    token = client.get("/psa/api/v1/projects", params={"page_size": 5}).json()["next_page_token"]
    response = client.get("/psa/api/v1/milestones", params={"page_token": token})
    assert response.status_code == 400


def test_a_corrupted_record_is_served_malformed_and_the_rest_of_the_page_is_fine(
    make_server: MakeServer, estate: Estate
) -> None:
    server = make_server()
    soql = "SELECT Id, Amount FROM Opportunity ORDER BY CreatedDate, Id LIMIT 300"
    with authed(server) as c:
        clean, _ = walk_crm(c, soql)
        entry = c.get("/psa/api/v1/time-entries", params={"page_size": 50}).json()["data"][7]
        bad_amount, no_id = clean[0]["Id"], clean[250]["Id"]
        estate.corrupt("Opportunity", bad_amount, "Amount", "abc")
        estate.corrupt("Opportunity", no_id, "Id", REMOVED)
        estate.corrupt("time_entry", entry["id"], "hours", None)
        records, pages = walk_crm(c, soql)
        entries = c.get("/psa/api/v1/time-entries", params={"page_size": 50}).json()["data"]
        estate.clear_corruptions()
        repaired, _ = walk_crm(c, soql)
    assert pages == 2 and len(records) == 300
    assert records[0]["Id"] == bad_amount and records[0]["Amount"] == "abc"
    assert "Id" not in records[250] and records[250]["attributes"]["url"].endswith(no_id)
    assert [r for i, r in enumerate(records) if i not in (0, 250)] == [
        r for i, r in enumerate(clean) if i not in (0, 250)
    ]
    assert entries[7] == {**entry, "hours": None}
    assert repaired == clean


def test_live_mode_reveals_new_records_as_the_clock_advances(
    make_server: MakeServer, estate: Estate
) -> None:
    clock = SimClock(estate.history_end)
    server = make_server(clock=clock)
    start = (estate.history_end - timedelta(days=3)).isoformat()
    with authed(server) as c:
        before = walk_ipaas(c, limit=500, updated_after=start)
        cursor = before[-1]["updated_at"]
        assert walk_ipaas(c, updated_after=cursor) == []
        clock.advance(timedelta(days=7))
        newer = walk_ipaas(c, updated_after=cursor, limit=500)
        served_truth = c.get("/_truth").json()
    assert newer and all(j["updated_at"] > cursor for j in newer)
    revealed = {
        r.id
        for r, v in estate.visible("job", clock.now())
        if v.valid_from.isoformat() > estate.history_end.isoformat()
    }
    assert {j["id"] for j in newer} == revealed
    assert served_truth["as_of"].startswith("2026-11-08T00:00:00")
    assert served_truth["sync_attempts"] == ground_truth(estate, clock.now()).sync_attempts


def test_a_running_clock_plays_the_firm_at_speed() -> None:
    now = [100.0]
    from datetime import UTC, datetime

    end = datetime(2026, 11, 1, tzinfo=UTC)
    clock = SimClock(end, live=True, speed=3600, monotonic=lambda: now[0])
    assert clock.now() == end
    now[0] += 2.5
    assert clock.now() == end + timedelta(hours=2.5)
    clock.advance(timedelta(days=1))
    assert clock.now() == end + timedelta(days=1, hours=2.5)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    assert SimClock(end).now() == end


@pytest.mark.parametrize("api", ["crm", "psa", "ipaas", "erp"])
def test_a_paged_walk_continues_its_snapshot_while_the_clock_moves(
    make_server: MakeServer, estate: Estate, api: str
) -> None:
    clock = SimClock(estate.history_end - timedelta(days=30))
    server = make_server(clock=clock)
    expected = ground_truth(estate, clock.now()).source_counts
    with authed(server) as c:
        if api == "crm":
            first = c.get(SOQL, params={"q": "SELECT Id FROM Opportunity"}).json()
            clock.advance(timedelta(days=30))
            rest = c.get("/crm" + first["nextRecordsUrl"]).json()
            while not rest["done"]:
                rest = c.get("/crm" + rest["nextRecordsUrl"]).json()
            assert first["totalSize"] == rest["totalSize"] == expected["crm.Opportunity"]
        elif api == "psa":
            first = c.get("/psa/api/v1/time-entries", params={"page_size": 500}).json()
            clock.advance(timedelta(days=30))
            token, ids = first["next_page_token"], [r["id"] for r in first["data"]]
            while token:
                page = c.get("/psa/api/v1/time-entries", params={"page_token": token}).json()
                ids += [r["id"] for r in page["data"]]
                token = page["next_page_token"]
            assert len(ids) == len(set(ids)) == expected["psa.time_entry"]
        elif api == "ipaas":
            since = (clock.now() - timedelta(days=40)).isoformat()
            params: dict[str, Any] = {"limit": 200, "updated_after": since}
            first = c.get("/ipaas/api/v1/jobs", params=params).json()
            clock.advance(timedelta(days=30))
            cursor, ids = first["next_cursor"], [j["id"] for j in first["jobs"]]
            while cursor:
                page = c.get("/ipaas/api/v1/jobs", params={"cursor": cursor}).json()
                ids += [j["id"] for j in page["jobs"]]
                cursor = page["next_cursor"]
            recent = [v for _, v in estate.visible("job", clock.now() - timedelta(days=30))]
            assert (
                len(ids) == len(set(ids)) == sum(v.valid_from.isoformat() > since for v in recent)
            )
        else:
            q = {"q": "SELECT * FROM transaction ORDER BY lastmodifieddate, id"}
            headers = {"Prefer": "transient"}
            first = c.post(SUITEQL, params={"limit": 1000}, headers=headers, json=q).json()
            clock.advance(timedelta(days=30))
            second = c.post(
                SUITEQL, params={"limit": 1000, "offset": 1000}, headers=headers, json=q
            ).json()
            total = sum(expected[f"erp.{k}"] for k in ("CustInvc", "CustCred", "CustPymt"))
            assert first["totalResults"] == second["totalResults"] == total
            fresh = c.post(SUITEQL, params={"limit": 1000}, headers=headers, json=q).json()
            assert fresh["totalResults"] > total


def test_the_module_runs_standalone() -> None:
    env = {**os.environ, "DEMO_ESTATE_TOKEN": "cli-token"}
    cmd = [
        sys.executable,
        "-m",
        "collectors.demo_estate",
        "--port",
        "0",
        "--months",
        "2",
        "--horizon-months",
        "1",
        "--live",
        "--speed",
        "60",
    ]
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = ""
            while "serving on" not in line:
                line = proc.stdout.readline()
                assert line, "the server exited before serving"
            base = line.split()[2]
            response = httpx.get(f"{base}/_clock", headers={"Authorization": "Bearer cli-token"})
            assert response.status_code == 200 and response.json()["live"] is True
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
