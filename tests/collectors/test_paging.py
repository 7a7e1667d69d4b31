"""Paginators walking fake multi-page APIs, and the guards that stop a walk that never ends."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from collectors.errors import AuthFailed, PaginationLoop, SchemaDrift
from collectors.http import make_client
from collectors.paging import (
    NextUrlPaginator,
    OffsetPaginator,
    PageTokenPaginator,
    Paginator,
    iter_pages,
    lookup,
)

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


def test_offset_paginator_refuses_a_short_page_that_claims_more_rather_than_skip_rows() -> None:
    payload = {"items": [{"id": "1"}], "hasMore": True}
    api = Recorder(lambda request: httpx.Response(200, json=payload))
    with pytest.raises(SchemaDrift, match="fewer than the limit"):
        walk(api, OffsetPaginator(limit=1000), "POST", "/suiteql", json={"q": "SELECT 1"})


def test_offset_paginator_needs_has_more() -> None:
    api = Recorder(lambda request: httpx.Response(200, json={"items": []}))
    with pytest.raises(SchemaDrift, match="hasMore"):
        walk(api, OffsetPaginator(limit=10), "GET", "/records")


def test_a_repeated_page_token_raises_pagination_loop() -> None:
    api = Recorder(lambda request: httpx.Response(200, json={"data": [1], "nextCursor": "same"}))
    pages: list[int] = []
    with api.client() as client, pytest.raises(PaginationLoop, match="page 3 would repeat page 2"):
        for _, index in iter_pages(client, PageTokenPaginator("nextCursor", "cursor"), "GET", "/x"):
            pages.append(index)
    assert pages == [0, 1]
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
    paginator = OffsetPaginator(2)
    paginator.first_request("POST", "https://erp.example/suiteql", json={"q": "SELECT"})
    paginator.next_request(page)
    with pytest.raises(PaginationLoop, match="repeats the page before it"):
        paginator.next_request(page)
