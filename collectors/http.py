"""The one HTTP client every collector uses: timeouts, retries, auth and redacted logs.

``make_client`` returns an ``httpx.Client`` with explicit timeouts and a ``RetryTransport``
that sends a request again after a 429/5xx answer or a transport error (timeout, reset,
broken connection) with capped exponential backoff and full jitter, honouring ``Retry-After``
(httpx alone retries only failed connects). Each response is read in full inside the retry
loop, so a body cut off half way is retried too; collectors read JSON pages, not downloads.

The transport is the test seam: pass ``httpx.MockTransport`` to script a fake API. Because the
client is given a transport, httpx reads no proxy from the environment; pass ``proxy``.

Logger ``throughline.http``: each attempt at DEBUG, each retry at WARNING. Logged URLs go
through ``redact_url``; headers are never logged.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import httpx

from collectors.errors import AuthFailed, RequestRejected, SchemaDrift, SourceUnavailable
from collectors.salvage import salvage_json
from foundation.retry import DEFAULT_RETRY, USER_AGENT, RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "ApiKeyHeaderAuth",
    "BearerAuth",
    "RetryPolicy",
    "RetryTransport",
    "json_body",
    "make_client",
    "parse_retry_after",
    "raise_for_source_status",
    "redact_url",
]

logger = logging.getLogger("throughline.http")

#: Query-string parameters whose values ``redact_url`` replaces with ``***``.
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "code",
    }
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Response extension holding how many attempts the retry transport made.
ATTEMPTS_EXTENSION = "throughline.attempts"

_RETRYABLE_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
_SECRET_NAMES = "|".join(re.escape(name) for name in sorted(SECRET_PARAMS, key=len, reverse=True))
_SECRET_PAIR = re.compile(
    rf"""(?i)(["']?\b(?:{_SECRET_NAMES})\b["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s&,;}}"']+)"""
)
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{8,}")


def redact_url(url: str | httpx.URL) -> str:
    """The URL with secret query values and any user-info replaced by ``***``."""
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            parts.path,
            _redact_query(parts.query),
            _redact_query(parts.fragment),
        )
    )


def _redact_query(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        pairs.append(f"{name}=***" if sep and unquote_plus(name).lower() in SECRET_PARAMS else pair)
    return "&".join(pairs)


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    """At most ``limit`` characters of the body, on one line, with credential-like values masked."""
    response.read()
    text = " ".join(response.text.split())
    text = _AUTH_VALUE.sub(r"\1 ***", _SECRET_PAIR.sub(r"\1***", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _target(request: httpx.Request) -> str:
    return f"{request.method} {redact_url(request.url)}"


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _describe(exc: Exception) -> str:
    detail = str(exc)[:200]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport and retries what ``policy`` allows; see the module docstring."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy = DEFAULT_RETRY,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # buffer the body so that every attempt sends the same bytes
        policy, target = self._policy, _target(request)
        attempt = 1
        while True:
            logger.debug("%s (attempt %d of %d)", target, attempt, policy.max_attempts)
            try:
                response = self._send(request, attempt)
            except _RETRYABLE_ERRORS as exc:
                if not policy.retry_transport_errors or attempt >= policy.max_attempts:
                    raise SourceUnavailable(
                        f"{target} failed after {_attempts(attempt)}: {_describe(exc)}",
                        attempts=attempt,
                    ) from exc
                reason, delay = _describe(exc), policy.backoff(attempt, self._rng)
            else:
                if response.status_code not in policy.retry_statuses:
                    return response
                if attempt >= policy.max_attempts:
                    return response  # raise_for_source_status turns it into SourceUnavailable
                reason = f"HTTP {response.status_code}"
                delay = self._wait_for(response, attempt, target)
            logger.warning(
                "%s: %s; retry %d of %d in %.2f s",
                target,
                reason,
                attempt,
                policy.max_attempts - 1,
                delay,
            )
            self._sleep(delay)
            attempt += 1

    def _send(self, request: httpx.Request, attempt: int) -> httpx.Response:
        """One attempt, with the body read in full so a failure mid-body is retried too."""
        response = self._inner.handle_request(request)
        if not isinstance(response.stream, httpx.SyncByteStream):
            raise TypeError("RetryTransport needs a transport with a synchronous stream")
        try:
            body = b"".join(response.stream)  # raw bytes; the client decodes them
        finally:
            response.close()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions={**response.extensions, ATTEMPTS_EXTENSION: attempt},
            request=request,
        )

    def _wait_for(self, response: httpx.Response, attempt: int, target: str) -> float:
        header = response.headers.get("Retry-After")
        wait = parse_retry_after(header) if header else None
        if wait is None:
            return self._policy.backoff(attempt, self._rng)
        if wait > self._policy.max_retry_after:
            raise SourceUnavailable(
                f"{target} answered HTTP {response.status_code} and asked us to wait {wait:.0f} s,"
                f" longer than the {self._policy.max_retry_after:.0f} s we wait; try again later",
                attempts=attempt,
                retry_after=wait,
            )
        return wait

    def close(self) -> None:
        self._inner.close()


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
        transport=RetryTransport(inner, retry, sleep=sleep, rng=rng),
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
        attempts = response.extensions.get(ATTEMPTS_EXTENSION)
        after = f" after {_attempts(attempts)}" if isinstance(attempts, int) else ""
        raise SourceUnavailable(
            f"{target} answered HTTP {status}{after}",
            attempts=attempts if isinstance(attempts, int) else None,
        )
    excerpt = _excerpt(response)
    raise RequestRejected(
        f"{target} was rejected with HTTP {status}: {excerpt or '(empty body)'}",
        status=status,
        excerpt=excerpt,
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
            f"{_excerpt(response, 120) or '(empty body)'}"
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
