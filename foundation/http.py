"""The one retrying HTTP transport every outbound caller uses: collectors and alert webhooks.

`RetryTransport` wraps an ``httpx`` transport and sends a request again after a 429/5xx answer
or a transport error (timeout, reset, broken connection) with capped exponential backoff and
full jitter, honouring ``Retry-After`` (`foundation.retry.RetryPolicy`; httpx alone retries only
failed connects). Each response is read in full inside the retry loop, so a body cut off half
way is retried too; callers read small JSON bodies, not downloads. When the retries run out on
a transport error, or a ``Retry-After`` asks for longer than the policy waits, it raises
`Unavailable` (or the subclass the caller names); when they run out on a 429/5xx it returns
the last response, whose ``ATTEMPTS_EXTENSION`` says how many attempts were made.

Secrets never reach a log line or a message: URLs go through a mask (`redact_url` by default:
secret query values and user-info become ``***``; a webhook, whose path is the secret, passes
its own) and error details through `scrub`; headers are never logged. Logger
``throughline.http``: each attempt at DEBUG, each retry at WARNING.

The inner transport is the test seam: pass ``httpx.MockTransport`` to script a fake server.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import httpx

from foundation.retry import DEFAULT_RETRY, RetryPolicy, parse_retry_after

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
#: Response extension holding how many attempts the retry transport made.
ATTEMPTS_EXTENSION = "throughline.attempts"

RETRYABLE_ERRORS = (
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

UrlMask = Callable[[str], str]


class Unavailable(Exception):
    """The server cannot serve us now: the retries ran out on transport errors, or it answered
    ``status`` asking us to wait ``retry_after`` seconds, longer than the policy waits."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.retry_after = retry_after
        self.status = status


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


def scrub(text: str, url: str | httpx.URL, mask: UrlMask = redact_url) -> str:
    """``text`` with ``url`` masked, and its path too when the mask hides the path (a webhook's
    path is its credential, and an error may quote the path alone)."""
    url = str(url)
    masked = mask(url)
    text = text.replace(url, masked)
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    if len(path) > 1 and path not in masked:
        text = text.replace(path, "/***")
    return text


def excerpt(response: httpx.Response, limit: int = 200) -> str:
    """At most ``limit`` characters of the body, on one line, with credential-like values masked."""
    response.read()
    text = " ".join(response.text.split())
    text = _AUTH_VALUE.sub(r"\1 ***", _SECRET_PAIR.sub(r"\1***", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def attempts_text(count: int) -> str:
    """``1 attempt`` / ``3 attempts``."""
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def describe_error(exc: Exception) -> str:
    """``ConnectTimeout: timed out``: the error's type and the start of its message."""
    detail = str(exc)[:200]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport and retries what ``policy`` allows; see the module docstring.

    ``mask`` hides the secret parts of a URL in logs and messages; ``unavailable`` is the
    `Unavailable` subclass raised when the retries end without an answer to return; ``sleep``
    and ``rng`` let tests run the retries instantly and with a known jitter.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy = DEFAULT_RETRY,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        mask: UrlMask = redact_url,
        unavailable: type[Unavailable] = Unavailable,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._mask = mask
        self._unavailable = unavailable

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # buffer the body so that every attempt sends the same bytes
        policy, target = self._policy, f"{request.method} {self._mask(str(request.url))}"
        attempt = 1
        while True:
            logger.debug("%s (attempt %d of %d)", target, attempt, policy.max_attempts)
            try:
                response = self._send(request, attempt)
            except RETRYABLE_ERRORS as exc:
                reason = scrub(describe_error(exc), request.url, self._mask)
                if not policy.retry_transport_errors or attempt >= policy.max_attempts:
                    raise self._unavailable(
                        f"{target} failed after {attempts_text(attempt)}: {reason}",
                        attempts=attempt,
                    ) from exc
                delay = policy.backoff(attempt, self._rng)
            else:
                if response.status_code not in policy.retry_statuses:
                    return response
                if attempt >= policy.max_attempts:
                    return response  # the caller says what the status means
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
            raise self._unavailable(
                f"{target} answered HTTP {response.status_code} and asked us to wait {wait:.0f} s,"
                f" longer than the {self._policy.max_retry_after:.0f} s we wait; try again later",
                attempts=attempt,
                retry_after=wait,
                status=response.status_code,
            )
        return wait

    def close(self) -> None:
        self._inner.close()


def attempts_of(response: httpx.Response) -> int | None:
    """How many attempts `RetryTransport` made for ``response`` (None when it did not send it)."""
    attempts = response.extensions.get(ATTEMPTS_EXTENSION)
    return attempts if isinstance(attempts, int) else None
