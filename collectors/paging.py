"""Paging as a declaration: one guarded base class, three small paginators, one loop.

A walk starts with ``Paginator.first_request`` and goes on with ``next_request(payload,
page_url)`` until that returns None. The base class guards every walk: asking for the same page
twice (same method, URL, query and body, so the same token, offset or next URL) raises
``PaginationLoop``, and so does going past ``max_pages``. ``iter_walk`` runs the loop and, given
the stream's ``PageContract`` (see ``collectors.page_checks``), verifies each page, and where it
points next, before handing it on: the cursor never passes a page that was not verified::

    NextUrlPaginator()                                           # Salesforce SOQL
    PageTokenPaginator("next_page_token", "page_token")          # PSA
    PageTokenPaginator("paging.next.after", "after", in_body=True)  # HubSpot search (POST)
    PageTokenPaginator("nextCursor", "cursor")                   # n8n executions
    PageTokenPaginator("next_cursor", "cursor")                  # iPaaS
    OffsetPaginator(limit=1000)                                  # NetSuite SuiteQL (POST)
"""

from __future__ import annotations

import json as jsonlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from collectors.errors import PageRejected, PaginationLoop, SchemaDrift
from collectors.http import json_body, raise_for_source_status, redact_url
from collectors.page_checks import PageContract, PageWalk

DEFAULT_MAX_PAGES = 100_000


@dataclass(frozen=True)
class PageRequest:
    """One page's request: what ``iter_pages`` hands to ``httpx.Client.request``."""

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None

    def full_url(self) -> httpx.URL:
        """The URL with ``params`` merged into its query string."""
        return httpx.URL(self.url).copy_merge_params(self.params)

    def describe(self) -> str:
        """Method and redacted URL, for messages."""
        return f"{self.method} {redact_url(self.full_url())}"

    def key(self) -> tuple[str, str, str]:
        """What makes two requests the same page."""
        body = jsonlib.dumps(self.json, sort_keys=True, default=str)
        return self.method, str(self.full_url()), body


def lookup(payload: Any, path: str) -> Any:
    """The member at a dotted ``path`` (``"paging.next.after"``), or None where it is absent."""
    value = payload
    for name in path.split("."):
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise SchemaDrift(f"expected a JSON object holding {name!r} on the way to {path!r}")
        value = value.get(name)
    return value


class Paginator(ABC):
    """Base of all paginators; subclasses say how the next page is asked for."""

    def __init__(self, *, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.max_pages = max_pages
        self._request: PageRequest | None = None
        self._base_url: httpx.URL | None = None
        self._seen: dict[tuple[str, str, str], int] = {}

    def first_request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        base_url: str | httpx.URL | None = None,
    ) -> PageRequest:
        """Start a walk (forgetting any earlier one) and return the first page's request.

        ``base_url`` is the client's; paginators that resolve URLs against it may use it.
        """
        request = self._first(PageRequest(method.upper(), str(url), dict(params or {}), json))
        self._request, self._seen = request, {request.key(): 1}
        self._base_url = httpx.URL(base_url) if base_url is not None else None
        return request

    def next_request(
        self, payload: Any, page_url: str | httpx.URL | None = None
    ) -> PageRequest | None:
        """The request after ``payload`` (the page read from ``page_url``); None at the end."""
        if self._request is None:
            raise RuntimeError("call first_request before next_request")
        base = httpx.URL(page_url) if page_url is not None else httpx.URL(self._request.url)
        request = self._next(payload, self._request, base)
        if request is None:
            return None
        page = len(self._seen) + 1
        earlier = self._seen.get(request.key())
        if earlier is not None:
            raise PaginationLoop(
                f"paging loops: page {page} would repeat page {earlier} ({request.describe()});"
                " the source handed back a page token, offset or URL it had given before"
            )
        if page > self.max_pages:
            raise PaginationLoop(
                f"paging stopped after {self.max_pages} pages (the cap) at {request.describe()}"
            )
        self._request = request
        self._seen[request.key()] = page
        return request

    def _first(self, request: PageRequest) -> PageRequest:
        """Adjust the first request (e.g. add offset and limit); unchanged by default."""
        return request

    @abstractmethod
    def points_on(self, payload: Any) -> bool:
        """Whether ``payload`` says a next page follows (checked before it is followed)."""

    @abstractmethod
    def _next(self, payload: Any, current: PageRequest, page_url: httpx.URL) -> PageRequest | None:
        """The request after ``current`` given its ``payload``, or None when it was the last."""


class NextUrlPaginator(Paginator):
    """Follows a next-page URL in the body until ``done`` (Salesforce ``nextRecordsUrl``).

    A relative URL is resolved against the page it came from, or with ``relative_to_base``
    appended to the client's base URL (Salesforce: relative to the instance URL, which may
    have a path). A next URL on another host is refused, so credentials never leave the source.
    """

    def __init__(
        self,
        next_url_path: str = "nextRecordsUrl",
        done_path: str | None = "done",
        *,
        relative_to_base: bool = False,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(max_pages=max_pages)
        self.next_url_path = next_url_path
        self.done_path = done_path
        self.relative_to_base = relative_to_base

    def points_on(self, payload: Any) -> bool:
        done = lookup(payload, self.done_path) if self.done_path is not None else None
        return done is False or (
            done is not True and lookup(payload, self.next_url_path) is not None
        )

    def _next(self, payload: Any, current: PageRequest, page_url: httpx.URL) -> PageRequest | None:
        if self.done_path is not None and lookup(payload, self.done_path) is True:
            return None
        next_url = lookup(payload, self.next_url_path)
        if next_url is None:
            if self.done_path is not None:
                raise SchemaDrift(
                    f"page is not {self.done_path!r} but has no {self.next_url_path!r}"
                )
            return None
        if not isinstance(next_url, str) or not next_url:
            raise SchemaDrift(f"{self.next_url_path!r} is not a URL: {next_url!r:.80}")
        url = self._resolve(httpx.URL(next_url), page_url)
        if page_url.is_absolute_url and (url.scheme, url.host, url.port) != (
            page_url.scheme,
            page_url.host,
            page_url.port,
        ):
            raise SchemaDrift(f"next page is on another host: {redact_url(url)}")
        return PageRequest("GET", str(url))

    def _resolve(self, next_url: httpx.URL, page_url: httpx.URL) -> httpx.URL:
        if not self.relative_to_base or next_url.is_absolute_url:
            return page_url.join(next_url)
        base = self._base_url
        if base is None or not base.is_absolute_url:
            base = page_url.copy_with(raw_path=b"/")
        path = base.raw_path.rstrip(b"/") + b"/" + next_url.raw_path.lstrip(b"/")
        return base.copy_with(raw_path=path)


class PageTokenPaginator(Paginator):
    """Sends the token found at ``token_path`` back as ``param``; no token means the last page.

    The token goes in the query string, or in the JSON body with ``in_body`` (HubSpot search).
    """

    def __init__(
        self,
        token_path: str = "next_page_token",
        param: str = "page_token",
        *,
        in_body: bool = False,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(max_pages=max_pages)
        self.token_path = token_path
        self.param = param
        self.in_body = in_body

    def points_on(self, payload: Any) -> bool:
        return lookup(payload, self.token_path) not in (None, "")

    def _next(self, payload: Any, current: PageRequest, page_url: httpx.URL) -> PageRequest | None:
        token = lookup(payload, self.token_path)
        if token is None or token == "":
            return None
        if not isinstance(token, str | int) or isinstance(token, bool):
            raise SchemaDrift(f"page token {self.token_path!r} is not a string: {token!r:.80}")
        if not self.in_body:
            return replace(current, params={**current.params, self.param: token})
        if not isinstance(current.json, Mapping | None):
            raise TypeError("in_body paging needs a JSON object body")
        return replace(current, json={**(current.json or {}), self.param: token})


class OffsetPaginator(Paginator):
    """``offset``/``limit`` query parameters and a ``hasMore`` flag (NetSuite SuiteQL).

    The offset grows by ``limit`` (NetSuite wants offsets divisible by the limit); the method
    and body of the first request are kept. A short page that claims more would skip records:
    the stream's contract declares ``full_pages`` so that such a page is refused.
    """

    def __init__(
        self,
        limit: int,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        has_more_path: str = "hasMore",
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(max_pages=max_pages)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.has_more_path = has_more_path

    def _first(self, request: PageRequest) -> PageRequest:
        offset = int(request.params.get(self.offset_param, 0))
        params = {**request.params, self.offset_param: offset, self.limit_param: self.limit}
        return replace(request, params=params)

    def points_on(self, payload: Any) -> bool:
        return lookup(payload, self.has_more_path) is True

    def _next(self, payload: Any, current: PageRequest, page_url: httpx.URL) -> PageRequest | None:
        has_more = lookup(payload, self.has_more_path)
        if not isinstance(has_more, bool):
            raise SchemaDrift(f"page has no true/false {self.has_more_path!r}")
        if not has_more:
            return None
        offset = int(current.params[self.offset_param])
        return replace(current, params={**current.params, self.offset_param: offset + self.limit})


def iter_walk(
    client: httpx.Client,
    paginator: Paginator,
    method: str,
    url: str | httpx.URL,
    contract: PageContract | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> Iterator[tuple[Any, list[Any]]]:
    """Yield ``(payload, records)`` for each page of one walk, raising collector errors.

    Each page is requested, checked with ``raise_for_source_status``, parsed with ``json_body``
    (read twice when a record's bytes are damaged, see ``PageWalk.damaged``), verified against
    ``contract`` (its records, empty without one) and its next request built (which refuses a
    loop) before it is yielded; the next page is requested only when asked for.
    """
    walk = PageWalk(contract) if contract is not None else None
    absolute = client.build_request(method, url).url  # so every page is keyed by a full URL
    request: PageRequest | None = paginator.first_request(
        method, absolute, params=params, json=json, base_url=client.base_url
    )
    while request is not None:
        response, payload = _read(client, request)
        if walk is not None and walk.damaged(payload):  # at the source, or in transit? again:
            response, payload = _read(client, request)
        records: list[Any] = []
        if walk is not None:
            records = walk.verify(payload, request.params, more=paginator.points_on(payload))
        try:
            following = paginator.next_request(payload, response.url)
        except PageRejected as exc:  # a loop: name the stream it happened to
            if walk is None:
                raise
            raise type(exc)(
                f"{walk.contract.stream}: {exc}", stream=walk.contract.stream, page=walk.page
            ) from exc
        yield payload, records
        request = following


def _read(client: httpx.Client, request: PageRequest) -> tuple[httpx.Response, Any]:
    response = client.request(
        request.method, request.url, params=request.params or None, json=request.json
    )
    raise_for_source_status(response)
    return response, json_body(response)


def iter_pages(
    client: httpx.Client,
    paginator: Paginator,
    method: str,
    url: str | httpx.URL,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    contract: PageContract | None = None,
) -> Iterator[tuple[Any, int]]:
    """Yield ``(payload, page_index)`` for each page, from 0 (``iter_walk`` without records)."""
    pages = iter_walk(client, paginator, method, url, contract, params=params, json=json)
    for index, (payload, _) in enumerate(pages):
        yield payload, index


def iter_records(
    client: httpx.Client,
    paginator: Paginator,
    method: str,
    url: str | httpx.URL,
    contract: PageContract | str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> Iterator[list[Any]]:
    """Each verified page's records, as ``contract`` says where they are. A bare records path
    gets only the checks that need no declaration (no empty page that points on): streams
    declare a `PageContract`."""
    if isinstance(contract, str):
        contract = PageContract(str(url), contract)
    for _, records in iter_walk(client, paginator, method, url, contract, params=params, json=json):
        yield records
