"""The HTTP client every collector uses: timeouts, retries, auth and what an answer means.

``make_client`` returns an ``httpx.Client`` with explicit timeouts and the shared retrying
transport (`foundation.http.RetryTransport`: 429/5xx and transport errors retried with backoff
and jitter, ``Retry-After`` honoured, URLs masked in logs), raising `SourceUnavailable` when
the retries end. This module adds what only collectors need: what an error status means to a
collector (`raise_for_source_status`), JSON bodies with damaged records salvaged for quarantine
(`json_body`), and the sources' auth schemes.

The transport is the test seam: pass ``httpx.MockTransport`` to script a fake API. Because the
client is given a transport, httpx reads no proxy from the environment; pass ``proxy``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx

from collectors.errors import AuthFailed, RequestRejected, SchemaDrift, SourceUnavailable
from collectors.salvage import salvage_json
from foundation.http import RetryTransport, attempts_of, attempts_text, excerpt, redact_url
from foundation.retry import DEFAULT_RETRY, USER_AGENT, RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "ApiKeyHeaderAuth",
    "BearerAuth",
    "RetryPolicy",
    "json_body",
    "make_client",
    "parse_retry_after",
    "raise_for_source_status",
    "redact_url",
]

logger = logging.getLogger("throughline.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _target(request: httpx.Request) -> str:
    return f"{request.method} {redact_url(request.url)}"


def make_client(
    base_url: str,
    auth: httpx.Auth | None,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    retry: RetryPolicy = DEFAULT_RETRY,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    proxy: str | None = None,
) -> httpx.Client:
    """A client for one source, retrying through ``transport`` (default: a real HTTP transport).

    ``proxy`` applies to the default transport only. ``sleep`` and ``rng`` let tests run the
    retries instantly and with a known jitter.
    """
    if transport is not None and proxy is not None:
        raise ValueError("pass either transport or proxy, not both")
    inner = transport if transport is not None else httpx.HTTPTransport(proxy=proxy)
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        transport=RetryTransport(inner, retry, sleep=sleep, rng=rng, unavailable=SourceUnavailable),
    )


def raise_for_source_status(response: httpx.Response) -> None:
    """Raise the collector error that an HTTP error status means; return for anything below 400."""
    status = response.status_code
    if status < 400:
        return
    target = _target(response.request)
    if status in (401, 403):
        what = "credentials" if status == 401 else "credentials' permissions"
        raise AuthFailed(
            f"{target} was refused with HTTP {status}: check the {what}", status=status
        )
    if status == 429 or status >= 500:
        attempts = attempts_of(response)
        after = f" after {attempts_text(attempts)}" if attempts is not None else ""
        raise SourceUnavailable(f"{target} answered HTTP {status}{after}", attempts=attempts)
    body = excerpt(response)
    raise RequestRejected(
        f"{target} was rejected with HTTP {status}: {body or '(empty body)'}",
        status=status,
        excerpt=body,
    )


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON body; SchemaDrift naming the (redacted) URL if it is not JSON.

    A body the parser refuses only because some records hold bytes that are not UTF-8 or nest
    too deeply is read with those records marked for quarantine (`collectors.salvage`)."""
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:
        salvaged = salvage_json(response.content)
        if salvaged is not None:
            return salvaged
        content_type = response.headers.get("Content-Type", "no content type")
        raise SchemaDrift(
            f"{_target(response.request)} did not return JSON ({content_type}): "
            f"{excerpt(response, 120) or '(empty body)'}"
        ) from exc


class BearerAuth(httpx.Auth):
    """``Authorization: <scheme> <token>``; on a 401, ``refresh`` once and send again.

    ``token`` is a string or a callable consulted before each request (it may cache). ``refresh``
    returns a new token (e.g. by logging in again); a string token is replaced by it, a callable
    is expected to return it from then on. ``scheme`` is "Bearer" unless the source differs
    (Tryton uses "Session").
    """

    requires_request_body = True  # so the request can be sent a second time

    def __init__(
        self,
        token: str | Callable[[], str],
        *,
        refresh: Callable[[], str] | None = None,
        scheme: str = "Bearer",
    ) -> None:
        self._token = token
        self._refresh = refresh
        self._scheme = scheme

    def __repr__(self) -> str:
        return f"BearerAuth(scheme={self._scheme!r}, token=***)"

    def _current(self) -> str:
        return self._token if isinstance(self._token, str) else self._token()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"{self._scheme} {self._current()}"
        response = yield request
        if response.status_code != 401 or self._refresh is None:
            return
        logger.info("%s answered HTTP 401; refreshing the token once", _target(request))
        token = self._refresh()
        if isinstance(self._token, str):
            self._token = token
        request.headers["Authorization"] = f"{self._scheme} {token}"
        yield request


class ApiKeyHeaderAuth(httpx.Auth):
    """An API key sent in a header, e.g. n8n's ``X-N8N-API-KEY``."""

    def __init__(self, header_name: str, key: str) -> None:
        self._header_name = header_name
        self._key = key

    def __repr__(self) -> str:
        return f"ApiKeyHeaderAuth(header_name={self._header_name!r}, key=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header_name] = self._key
        yield request
