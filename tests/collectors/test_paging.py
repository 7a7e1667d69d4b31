"""Paginators walking fake multi-page APIs, and the guards that stop a walk that never ends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from collectors.errors import AuthFailed, PageRejected, PaginationLoop, SchemaDrift
from collectors.http import make_client
from collectors.page_checks import PageContract, PageWalk, instant
from collectors.paging import (
    NextUrlPaginator,
    OffsetPaginator,
    PageTokenPaginator,
    Paginator,
    iter_pages,
    iter_records,
    lookup,
)
from metrics.facts import refresh_pending

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Wraps a fake API handler and keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, base_url: str = "https://api.example.test") -> httpx.Client:
        return make_client(
            base_url, None, transport=httpx.MockTransport(self), sleep=lambda _: None
        )


def walk(
    api: Recorder,
    paginator: Paginator,
    method: str,
    url: str,
    base_url: str = "https://api.example.test",
    **kwargs: Any,
) -> list[tuple[Any, int]]:
    with api.client(base_url) as client:
        return list(iter_pages(client, paginator, method, url, **kwargs))


def records(
    api: Recorder,
    paginator: Paginator,
    contract: PageContract,
    method: str,
    url: str,
    **kwargs: Any,
) -> list[list[Any]]:
    """The pages a contracted walk hands on (collected until it raises, if it does)."""
    handed: list[list[Any]] = []
    with api.client() as client:
        for page in iter_records(client, paginator, method, url, contract, **kwargs):
            handed.append(page)
    return handed


def test_next_url_paginator_walks_salesforce_query_pages_joining_relative_urls() -> None:
    base = "https://acme.my.salesforce.com/services/data/v62.0/"
    pages = {
        "/services/data/v62.0/query": {
            "totalSize": 5,
            "done": False,
            "nextRecordsUrl": "/services/data/v62.0/query/01gRO0000016PIAYA2-2",
            "records": [{"Id": "a"}, {"Id": "b"}],
        },
        "/services/data/v62.0/query/01gRO0000016PIAYA2-2": {
            "totalSize": 5,
            "done": False,
            "nextRecordsUrl": "/services/data/v62.0/query/01gRO0000016PIAYA2-4",
            "records": [{"Id": "c"}, {"Id": "d"}],
        },
        "/services/data/v62.0/query/01gRO0000016PIAYA2-4": {
            "totalSize": 5,
            "done": True,
            "records": [{"Id": "e"}],
        },
    }
    api = Recorder(lambda request: httpx.Response(200, json=pages[request.url.path]))
    result = walk(api, NextUrlPaginator(), "GET", "query", base, params={"q": "SELECT Id FROM X"})

    assert [r["Id"] for page, _ in result for r in page["records"]] == list("abcde")
    assert [index for _, index in result] == [0, 1, 2]
    assert [r.url.path for r in api.requests] == list(pages)
    assert api.requests[0].url.params["q"] == "SELECT Id FROM X"
    assert "q" not in api.requests[1].url.params


def test_next_url_relative_to_base_is_appended_to_an_instance_url_with_a_path() -> None:
    pages = {
        "/crm/services/data/v60.0/query": {
            "done": False,
            "nextRecordsUrl": "/services/data/v60.0/query/01gAB-200",
            "records": [1],
        },
        "/crm/services/data/v60.0/query/01gAB-200": {"done": True, "records": [2]},
    }
    api = Recorder(lambda request: httpx.Response(200, json=pages[request.url.path]))
    paginator = NextUrlPaginator(relative_to_base=True)
    base = "http://127.0.0.1:8080/crm"
    result = walk(api, paginator, "GET", "services/data/v60.0/query", base, params={"q": "SELECT"})

    assert [page["records"] for page, _ in result] == [[1], [2]]
    assert [r.url.path for r in api.requests] == list(pages)


def test_next_url_on_another_host_is_refused() -> None:
    payload = {"done": False, "nextRecordsUrl": "https://evil.example/steal", "records": []}
    api = Recorder(lambda request: httpx.Response(200, json=payload))
    with pytest.raises(SchemaDrift, match="another host"):
        walk(api, NextUrlPaginator(), "GET", "/services/data/v62.0/query")
    assert len(api.requests) == 1


def test_next_url_missing_while_not_done_is_schema_drift() -> None:
    api = Recorder(lambda request: httpx.Response(200, json={"done": False, "records": []}))
    with pytest.raises(SchemaDrift, match="nextRecordsUrl"):
        walk(api, NextUrlPaginator(), "GET", "/query")


def _set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        payload = payload.setdefault(name, {})
    payload[leaf] = value


def token_api(token_path: str, param: str, in_body: bool) -> Recorder:
    """A fake API with five items in pages of two, cursor-paged the way a source declares."""
    pages: dict[str | None, tuple[list[int], str | None]] = {
        None: ([1, 2], "t-2"),
        "t-2": ([3, 4], "t-3"),
        "t-3": ([5], None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        source = json.loads(request.content) if in_body else request.url.params
        token = source.get(param)
        items, next_token = pages[token]
        payload: dict[str, Any] = {"results": items}
        if next_token is not None:
            _set_path(payload, token_path, next_token)
        return httpx.Response(200, json=payload)

    return Recorder(handler)


@pytest.mark.parametrize(
    ("source", "token_path", "param", "in_body", "method"),
    [
        ("psa", "next_page_token", "page_token", False, "GET"),
        ("hubspot search", "paging.next.after", "after", True, "POST"),
        ("hubspot list", "paging.next.after", "after", False, "GET"),
        ("n8n", "nextCursor", "cursor", False, "GET"),
        ("ipaas", "next_cursor", "cursor", False, "GET"),
    ],
)
def test_page_token_paginator_walks_every_page_of_each_source(
    source: str, token_path: str, param: str, in_body: bool, method: str
) -> None:
    api = token_api(token_path, param, in_body)
    paginator = PageTokenPaginator(token_path, param, in_body=in_body)
    body = {"filterGroups": [], "limit": 2} if in_body else None
    result = walk(api, paginator, method, "/items", params={"limit": 2}, json=body)

    assert [item for page, _ in result for item in page["results"]] == [1, 2, 3, 4, 5]
    assert [index for _, index in result] == [0, 1, 2]
    assert all(r.method == method for r in api.requests)
    assert all(r.url.params["limit"] == "2" for r in api.requests)
    if in_body:
        bodies = [json.loads(r.content) for r in api.requests]
        assert [b.get(param) for b in bodies] == [None, "t-2", "t-3"]
        assert all(b["filterGroups"] == [] for b in bodies)


def test_offset_paginator_walks_netsuite_suiteql_keeping_the_post_body() -> None:
    rows = [{"id": str(n)} for n in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        items = rows[offset : offset + limit]
        return httpx.Response(
            200,
            json={
                "items": items,
                "count": len(items),
                "offset": offset,
                "hasMore": offset + limit < len(rows),
                "totalResults": len(rows),
            },
        )

    api = Recorder(handler)
    query = {"q": "SELECT id FROM transaction ORDER BY id"}
    result = walk(
        api, OffsetPaginator(limit=2), "POST", "/services/rest/query/v1/suiteql", json=query
    )

    assert [row["id"] for page, _ in result for row in page["items"]] == ["0", "1", "2", "3", "4"]
    assert [r.url.params["offset"] for r in api.requests] == ["0", "2", "4"]
    assert all(r.method == "POST" and json.loads(r.content) == query for r in api.requests)


def test_a_short_offset_page_that_claims_more_is_refused_rather_than_skip_rows() -> None:
    payload = {"items": [{"id": "1"}], "hasMore": True}
    api = Recorder(lambda request: httpx.Response(200, json=payload))
    contract = PageContract("invoices", "items", key="id", limit=1000, full_pages=True)
    with pytest.raises(PageRejected) as caught:
        records(api, OffsetPaginator(limit=1000), contract, "POST", "/suiteql", json={"q": "1"})
    assert str(caught.value) == (
        "invoices: page 1 holds 1 record, fewer than the 1000 asked for, yet points to a next page"
    )


def test_offset_paginator_needs_has_more() -> None:
    api = Recorder(lambda request: httpx.Response(200, json={"items": []}))
    with pytest.raises(SchemaDrift, match="hasMore"):
        walk(api, OffsetPaginator(limit=10), "GET", "/records")


def test_a_repeated_page_token_raises_pagination_loop_before_the_page_is_handed_on() -> None:
    api = Recorder(lambda request: httpx.Response(200, json={"data": [1], "nextCursor": "same"}))
    pages: list[int] = []
    with api.client() as client, pytest.raises(PaginationLoop, match="page 3 would repeat page 2"):
        for _, index in iter_pages(client, PageTokenPaginator("nextCursor", "cursor"), "GET", "/x"):
            pages.append(index)
    assert pages == [0]  # page 2 points back at itself: it is not trusted either
    assert len(api.requests) == 2


def test_a_next_url_pointing_back_to_an_earlier_page_raises_pagination_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        next_url = "/query/2" if request.url.path == "/query" else "/query"
        return httpx.Response(200, json={"done": False, "nextRecordsUrl": next_url})

    api = Recorder(handler)
    with pytest.raises(PaginationLoop, match="page 3 would repeat page 1"):
        walk(api, NextUrlPaginator(), "GET", "/query")


def test_exceeding_the_page_cap_raises_pagination_loop() -> None:
    counter = iter(range(1_000))
    api = Recorder(lambda request: httpx.Response(200, json={"next_cursor": f"c{next(counter)}"}))
    with pytest.raises(PaginationLoop, match="after 3 pages"):
        walk(api, PageTokenPaginator("next_cursor", "cursor", max_pages=3), "GET", "/events")
    assert len(api.requests) == 3


def test_a_non_json_page_raises_schema_drift() -> None:
    api = Recorder(lambda request: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(SchemaDrift, match="did not return JSON"):
        walk(api, PageTokenPaginator(), "GET", "/items")


def test_an_error_status_mid_walk_raises_the_collector_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "page_token" in request.url.params:
            return httpx.Response(401)
        return httpx.Response(200, json={"next_page_token": "p2"})

    api = Recorder(handler)
    with pytest.raises(AuthFailed):
        walk(api, PageTokenPaginator(), "GET", "/items")


def test_a_transient_failure_mid_walk_is_retried_and_the_walk_completes() -> None:
    failures = iter([httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "c2":
            failure = next(failures, None)
            return failure or httpx.Response(200, json={"data": [2]})
        return httpx.Response(200, json={"data": [1], "nextCursor": "c2"})

    api = Recorder(handler)
    result = walk(api, PageTokenPaginator("nextCursor", "cursor"), "GET", "/executions")
    assert [page["data"] for page, _ in result] == [[1], [2]]
    assert len(api.requests) == 3


def test_a_paginator_can_be_reused_for_a_second_walk() -> None:
    api = token_api("nextCursor", "cursor", in_body=False)
    paginator = PageTokenPaginator("nextCursor", "cursor")
    assert len(walk(api, paginator, "GET", "/items")) == 3
    assert len(walk(api, paginator, "GET", "/items")) == 3


def test_next_request_before_first_request_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        PageTokenPaginator().next_request({"next_page_token": "x"})


def test_lookup_follows_dotted_paths_and_flags_wrong_shapes() -> None:
    assert lookup({"paging": {"next": {"after": "42"}}}, "paging.next.after") == "42"
    assert lookup({"results": []}, "paging.next.after") is None
    with pytest.raises(SchemaDrift):
        lookup([1, 2], "nextCursor")


def test_an_offset_source_serving_the_same_page_again_is_a_loop() -> None:
    page = {"hasMore": True, "items": [{"id": "1"}, {"id": "2"}]}
    api = Recorder(lambda request: httpx.Response(200, json=page))
    contract = PageContract("customers", "items", key="id")
    with pytest.raises(PaginationLoop) as caught:
        records(api, OffsetPaginator(2), contract, "POST", "/suiteql", json={"q": "1"})
    assert str(caught.value) == (
        "customers: page 2 repeats record 1 already read on page 1: a stale page, or a source"
        " that restarted its paging"
    )


# --- the page checks every contracted walk gets (collectors.page_checks) ----------------------

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def at(hours: int) -> str:
    """A cursor value ``hours`` after T0, the way Salesforce writes it."""
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def rec(key: str, hours: int = 1, **more: Any) -> dict[str, Any]:
    return {"Id": key, "SystemModstamp": at(hours), **more}


def served(*bodies: dict[str, Any]) -> Recorder:
    """Serves ``bodies`` in turn, each linked to the next by a ``nextCursor`` token ``p<n>``."""

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("cursor")
        index = 0 if token is None else int(token[1:]) - 1
        body = dict(bodies[index])
        if index + 1 < len(bodies):
            body.setdefault("nextCursor", f"p{index + 2}")
        return httpx.Response(200, json=body)

    return Recorder(handler)


def outcome(api: Recorder, contract: PageContract) -> tuple[list[list[Any]], str]:
    """The pages a token walk handed on before it was refused, and the sentence it was refused
    with (empty when it was not)."""
    handed: list[list[Any]] = []
    with api.client() as client:
        try:
            for page in iter_records(
                client, PageTokenPaginator("nextCursor", "cursor"), "GET", "/records", contract
            ):
                handed.append(page)
        except PageRejected as exc:
            return handed, str(exc)
    return handed, ""


ACCOUNTS = PageContract("accounts", "records", key="Id", version="SystemModstamp")
EMPTY_MID_WALK = (
    "accounts: page 2 is empty yet points to a next page; following it would skip records"
)


def _empty_mid_walk(kind: str) -> tuple[Recorder, Paginator, str, dict[str, Any]]:
    """A source of ``kind`` whose page 2 of 3 is empty yet points to page 3."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        if kind == "next_url":
            n = int(request.url.path.rsplit("/", 1)[-1]) if "/query/" in request.url.path else 1
            more = {"done": n == 3, **({"nextRecordsUrl": f"/query/{n + 1}"} if n < 3 else {})}
        elif kind == "token":
            n = int(request.url.params.get("cursor", "1"))
            more = {"nextCursor": str(n + 1)} if n < 3 else {}
        elif kind == "token_in_body":
            n = int(body.get("after", "1"))
            more = {"paging": {"next": {"after": str(n + 1)}}} if n < 3 else {}
        else:  # offset
            n = int(request.url.params["offset"]) // 2 + 1
            more = {"hasMore": n < 3}
        page = [] if n == 2 else [rec(f"{n}a", n), rec(f"{n}b", n)]
        return httpx.Response(200, json={"records": page, **more})

    paginators: dict[str, tuple[Paginator, str, dict[str, Any]]] = {
        "next_url": (NextUrlPaginator(), "/query", {}),
        "token": (PageTokenPaginator("nextCursor", "cursor"), "/records", {}),
        "token_in_body": (
            PageTokenPaginator("paging.next.after", "after", in_body=True),
            "/search",
            {"json": {"limit": 2}},
        ),
        "offset": (OffsetPaginator(2), "/suiteql", {"json": {"q": "SELECT"}}),
    }
    paginator, url, kwargs = paginators[kind]
    return Recorder(handler), paginator, url, kwargs


@pytest.mark.parametrize("kind", ["next_url", "token", "token_in_body", "offset"])
def test_an_empty_page_mid_walk_fails_the_walk_before_anything_after_it(kind: str) -> None:
    api, paginator, url, kwargs = _empty_mid_walk(kind)
    method = "POST" if kwargs else "GET"
    handed: list[list[Any]] = []
    with api.client() as client, pytest.raises(PageRejected) as caught:
        for page in iter_records(client, paginator, method, url, ACCOUNTS, **kwargs):
            handed.append(page)
    assert str(caught.value) == EMPTY_MID_WALK
    assert (caught.value.stream, caught.value.page) == ("accounts", 2)
    assert [[r["Id"] for r in page] for page in handed] == [["1a", "1b"]]
    assert len(api.requests) == 2  # page 3, past the hole, is never asked for


def test_an_empty_last_page_ends_the_walk() -> None:
    handed, error = outcome(served({"records": [rec("a")]}, {"records": []}), ACCOUNTS)
    assert (handed, error) == ([[rec("a")], []], "")


def test_a_page_with_more_records_than_the_limit_answers_another_query() -> None:
    contract = PageContract("jobs", "records", key="Id", limit=2)
    handed, error = outcome(served({"records": [rec("a"), rec("b"), rec("c")]}), contract)
    assert (handed, error) == ([], "jobs: page 1 holds 3 records, more than the 2 asked for")


def test_a_short_page_pointing_on_is_refused_where_every_page_but_the_last_is_full() -> None:
    contract = PageContract("invoices", "records", key="Id", limit=2, full_pages=True)
    pages = served({"records": [rec("a"), rec("b")]}, {"records": [rec("c")]}, {"records": []})
    handed, error = outcome(pages, contract)
    assert handed == [[rec("a"), rec("b")]]
    assert error == (
        "invoices: page 2 holds 1 record, fewer than the 2 asked for, yet points to a next page"
    )


def test_a_page_whose_declared_count_is_not_its_size_is_refused() -> None:
    contract = PageContract("invoices", "records", key="Id", count="count")
    handed, error = outcome(served({"records": [rec("a")], "count": 2}), contract)
    assert (handed, error) == ([], "invoices: page 1 declares 2 records ('count') but holds 1")


TOTALLED = PageContract("accounts", "records", key="Id", total="totalSize")


def test_a_page_declaring_another_total_than_page_1_answers_another_query() -> None:
    pages = served(
        {"records": [rec("a"), rec("b")], "totalSize": 4},
        {"records": [rec("c"), rec("d")], "totalSize": 9},
    )
    handed, error = outcome(pages, TOTALLED)
    assert handed == [[rec("a"), rec("b")]]
    assert error == (
        "accounts: page 2 declares 9 records in all ('totalSize') where page 1 declared 4; the"
        " result set changed under the walk or the page answers another query"
    )


def test_records_past_the_declared_total_are_refused() -> None:
    pages = served(
        {"records": [rec("a")], "totalSize": 2}, {"records": [rec("b"), rec("c")], "totalSize": 2}
    )
    handed, error = outcome(pages, TOTALLED)
    assert handed == [[rec("a")]]
    assert (
        error == "accounts: page 2 brings the records read to 3, past the 2 declared ('totalSize')"
    )


def test_a_walk_ending_short_of_its_declared_total_fails_on_its_last_page() -> None:
    pages = served({"records": [rec("a")], "totalSize": 3}, {"records": [rec("b")], "totalSize": 3})
    handed, error = outcome(pages, TOTALLED)
    assert handed == [[rec("a")]]
    assert error == "accounts: page 2 ends the walk after 2 of the 3 records declared ('totalSize')"


def test_a_page_without_its_declared_total_is_refused() -> None:
    handed, error = outcome(served({"records": [rec("a")]}), TOTALLED)
    assert (handed, error) == (
        [],
        "accounts: page 1 does not declare its 'totalSize' as a whole number: None",
    )


def test_a_page_echoing_another_offset_than_asked_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # a source that ignores the offset
        return httpx.Response(
            200,
            json={"items": [{"id": request.url.params["offset"]}], "offset": 0, "hasMore": True},
        )

    contract = PageContract("customers", "items", key="id", echo=(("offset", "offset"),))
    with pytest.raises(PageRejected) as caught:
        records(Recorder(handler), OffsetPaginator(1), contract, "POST", "/suiteql", json={})
    assert str(caught.value) == "customers: page 2 answers offset 0, not the offset 1 asked for"


def test_a_record_of_another_type_answers_another_query() -> None:
    contract = PageContract("accounts", "records", key="Id", kind=("attributes.type", "Account"))
    page = [
        rec("001A", attributes={"type": "Account"}),
        rec("800B", attributes={"type": "Contract"}),
    ]
    handed, error = outcome(served({"records": page}), contract)
    assert (handed, error) == (
        [],
        (
            "accounts: page 1 holds record 800B of type 'Contract' (attributes.type) where the query"
            " asks for 'Account'"
        ),
    )


def test_a_record_with_columns_the_query_did_not_select_answers_another_query() -> None:
    contract = PageContract(
        "payments", "records", key="Id", columns=frozenset({"Id", "SystemModstamp", "links"})
    )
    page = [rec("7"), rec("8", foreigntotal="10.00", status="B")]
    handed, error = outcome(served({"records": page}), contract)
    assert (handed, error) == (
        [],
        (
            "payments: page 1 holds record 8 with members the query did not select: foreigntotal,"
            " status"
        ),
    )


def test_a_record_older_than_the_window_asked_for_answers_another_query() -> None:
    contract = PageContract(
        "accounts", "records", key="Id", floor=("SystemModstamp", T0 + timedelta(hours=2))
    )
    handed, error = outcome(served({"records": [rec("a", 2), rec("b", 1)]}), contract)
    assert (handed, error) == (
        [],
        (
            "accounts: page 1 holds record b with SystemModstamp 2026-02-01T01:00:00+00:00, before"
            " the window the query asked for (from 2026-02-01T02:00:00+00:00)"
        ),
    )


def test_a_record_read_again_under_a_new_token_is_a_stale_page() -> None:
    pages = served(
        {"records": [rec("a"), rec("b")]},
        {"records": [rec("c")]},
        {"records": [rec("a"), rec("b")]},
    )
    handed, error = outcome(pages, ACCOUNTS)
    assert handed == [[rec("a"), rec("b")], [rec("c")]]
    assert error == (
        "accounts: page 3 repeats record a already read on page 1: a stale page, or a source"
        " that restarted its paging"
    )


def test_a_record_changed_during_the_walk_may_come_again_and_malformed_records_pass() -> None:
    """A newer version of a record read before is new data; a record that is no object, has no
    key or no readable time is the runner's to quarantine, not a reason to refuse its page."""
    contract = PageContract(
        "accounts",
        "records",
        key="Id",
        version="SystemModstamp",
        kind=("attributes.type", "Account"),
        columns=None,
        floor=("SystemModstamp", T0),
    )
    odd = ["not a record", None, {"SystemModstamp": at(1)}, {"Id": "x", "SystemModstamp": 17}]
    pages = served({"records": [rec("a", 1)]}, {"records": [rec("a", 2), *odd]})
    handed, error = outcome(pages, contract)
    assert (handed, error) == ([[rec("a", 1)], [rec("a", 2), *odd]], "")


def test_a_loop_found_by_the_paginator_names_the_stream() -> None:
    contract = PageContract("executions", "records", key="Id")
    api = served(
        {"records": [rec("a")], "nextCursor": "p2"}, {"records": [rec("b")], "nextCursor": "p2"}
    )
    handed, error = outcome(api, contract)
    assert handed == [[rec("a")]]
    assert error.startswith("executions: paging loops: page 3 would repeat page 2 (GET "), error


def test_the_tryton_contract_refuses_rows_of_another_model_and_decodes_before_checking() -> None:
    from collectors.erp_tryton import TrytonConfig, streams_for

    projects = next(
        s for s in streams_for(TrytonConfig("http://t.test/db/")) if s.name == "projects"
    )
    contract = projects.pages("model.project.work.search_read", T0)
    stamp = {
        "__class__": "datetime",
        "year": 2026,
        "month": 1,
        "day": 5,
        "hour": 9,
        "minute": 0,
        "second": 0,
        "microsecond": 0,
    }
    walk = PageWalk(contract)
    with pytest.raises(PageRejected) as caught:
        walk.verify(
            {"id": 0, "result": [{"id": 3, "last_modified_at": stamp, "name": "P"}]}, {}, more=False
        )
    assert str(caught.value) == (
        "projects: page 1 holds record 3 with last_modified_at 2026-01-05T09:00:00+00:00, before"
        " the window the query asked for (from 2026-02-01T00:00:00+00:00)"
    )
    opportunity = {"id": 4, "state": "won", "amount": {"__class__": "Decimal", "decimal": "1"}}
    with pytest.raises(PageRejected, match="members the query did not select: amount, state"):
        PageWalk(contract).verify({"id": 0, "result": [opportunity]}, {}, more=False)


# --- through the runner: the cursor stays where the last verified page left it ---------------


def _soql_source(records: list[dict[str, Any]], hole: int | None = None) -> Recorder:
    """A Salesforce org answering SOQL on ``records`` (filtered by the query's window) in pages of
    two linked by next URLs; page number ``hole`` is answered empty, its next URL kept."""
    found: list[list[dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.rsplit("-", 1)[1]) if "/query/" in request.url.path else 1
        if n == 1:
            since = re.search(r">= (\S+)", request.url.params["q"])
            floor = instant(since.group(1)) if since else None
            found.append([r for r in records if not floor or instant(r["SystemModstamp"]) >= floor])
        page, last = found[-1][2 * n - 2 : 2 * n], 2 * n >= len(found[-1])
        body: dict[str, Any] = {
            "totalSize": len(found[-1]),
            "done": last,
            "records": [] if n == hole else page,
        }
        if not last:
            body["nextRecordsUrl"] = f"/services/data/v60.0/query/01gX-{n + 1}"
        return httpx.Response(200, json=body)

    return Recorder(handler)


def _account(key: str, hours: int) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, "Id": key, "Name": key, "SystemModstamp": at(hours)}


def test_the_runner_keeps_the_cursor_where_the_last_verified_page_left_it(engine: Any) -> None:
    from collectors.base import HttpCollector
    from collectors.crm_salesforce import SalesforceConfig, streams
    from collectors.runner import run_collector
    from store.write import read_cursor

    records = [_account(f"{n}{x}", 2 * n + i) for n in range(1, 5) for i, x in enumerate("ab")]
    accounts = streams(SalesforceConfig("https://org.test"))[0]

    def collector(api: Recorder) -> HttpCollector:
        return HttpCollector(
            "crm", "crm", [accounts], "https://org.test/", None, transport=httpx.MockTransport(api)
        )

    now = T0 + timedelta(days=1)
    report = run_collector(
        engine, collector(_soql_source(records, hole=3)), now=now, refresh=refresh_pending
    )
    assert report.status == "failed"
    assert report.error == (
        "accounts: page 3 is empty yet points to a next page; following it would skip records"
    )
    assert (report.records_read, report.quarantined) == (4, 0)
    # page 2's transaction saved what page 1 covered; pages 3 and 4 were never stored
    assert read_cursor(engine, "crm", "accounts") == {
        "since": (T0 + timedelta(hours=3)).isoformat()
    }

    report = run_collector(
        engine, collector(_soql_source(records)), now=now, refresh=refresh_pending
    )
    assert (report.status, report.records_read, report.quarantined) == ("success", 7, 0)
    assert read_cursor(engine, "crm", "accounts") == {
        "since": (T0 + timedelta(hours=9)).isoformat()
    }


def test_a_record_garbled_in_transit_is_read_again_before_anything_is_quarantined() -> None:
    """Bytes that are not UTF-8 inside a record: a second read tells a garbled transfer (the
    clean page is used) from a record damaged at the source (it stays marked for quarantine)."""
    clean = b'{"records": [{"Id": "a", "SystemModstamp": "2026-02-01T01:00:00Z", "Name": "Acme"}]}'
    garbled = clean.replace(b"Acme", b"Ac\xffe")
    json_type = {"Content-Type": "application/json"}

    def serving(*bodies: bytes) -> Recorder:
        answers = iter(bodies)
        return Recorder(
            lambda request: httpx.Response(200, content=next(answers), headers=json_type)
        )

    in_transit = serving(garbled, clean)
    handed, error = outcome(in_transit, ACCOUNTS)
    assert (handed, error, len(in_transit.requests)) == ([[json.loads(clean)["records"][0]]], "", 2)

    at_source = serving(garbled, garbled)
    handed, error = outcome(at_source, ACCOUNTS)
    assert error == "" and len(at_source.requests) == 2
    assert "_throughline_defect" in handed[0][0]  # the runner quarantines it with the reason
