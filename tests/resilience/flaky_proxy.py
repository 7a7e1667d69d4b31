"""A flaky reverse proxy on loopback between the collectors and the demo estate.

``FlakyProxy`` is a real HTTP server in a thread. It forwards every API request to a
``DemoEstateServer`` (swapping the client's token for the estate's) and, on the request ordinals
a seeded ``FaultSchedule`` names, misbehaves instead:

===================  ==========================================================================
``http_500/502/503``  that status, ``repeat`` requests in a row (6 in a row outlast the retries)
``429_no_wait``       429 without ``Retry-After``
``429_retry_after``   429 with ``Retry-After`` (seconds or an HTTP date); the retry must wait
``429_wait_long``     429 asking for an hour: the client must give up at once, not wait
``connect_timeout``   after answering, close the connection and black-hole new ones (a full
                      accept queue drops their SYNs) for ``black_hole_seconds``
``read_timeout``      take the request and never answer until the client hangs up
``reset_mid_body``    send half the body, then reset the connection (RST)
``truncated_json``    a complete 200 whose JSON body is cut short
``garbled_body``      a complete 200 with bytes that are not UTF-8 in the middle of its body: a
                      record holding them is read again (the fault does not repeat), else the
                      page is not JSON
``empty_page``        a page mid-walk with its records removed and its paging members kept (done
                      false, ``hasMore``, a next token or URL): following it would skip records
``duplicate_page``    a continuation page answered with the page before it again
``stale_page``        a continuation page answering with the records of the page before it,
                      under its own paging members (a new token, the same total)
``reset``             a continuation answered as if the server restarted its paging: the walk's
                      first request is sent upstream again and its answer (page 1) served
``other_query``       a page answered with the page of another query the proxy served before (a
                      cache that ignores the query: another sObject, SuiteQL table or type,
                      Tryton model), where the answer says what it is
``wrong_total``       the page's declared total (``totalSize``, ``totalResults``, ``total``) off
``out_of_order``      this page and the next one swap their records (not on keyset walks)
``token_expired``     every token issued so far stops working: 401, re-authenticate
===================  ==========================================================================

The page faults wait for the first request at or after their ordinal that they can apply to
(a page of a walk in ``shapes``, see ``page_shapes``; a continuation for the stale, duplicate and
reset pages; a page that points on for an empty one); the others hit exactly that request. The
page an out-of-order swap holds back is served to the request for it (and to its retries), unless
the walk moves on. With ``issue_tokens`` the proxy is also the OAuth 2.0 token endpoint (``POST
/oauth/token``, client credentials) and admits only tokens it issued; without, the client's own
credentials go upstream. ``violations`` lists every retry that came sooner than a
``Retry-After`` asked; ``fired`` every fault applied. Tokens and secrets are never logged or kept
in ``fired``.
"""

from __future__ import annotations

import contextlib
import email.utils
import hmac
import json
import random
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.resilience.loopback import QuietHandler
from tests.resilience.page_shapes import DEMO_SHAPES, PageShape, ProxyRequest, shape_of


class Kind(StrEnum):
    """What the proxy does instead of forwarding (see the module docstring)."""

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    TOO_MANY_NO_WAIT = "429_no_wait"
    TOO_MANY_RETRY_AFTER = "429_retry_after"
    TOO_MANY_WAIT_LONG = "429_wait_long"
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"
    RESET_MID_BODY = "reset_mid_body"
    TRUNCATED_JSON = "truncated_json"
    GARBLED_BODY = "garbled_body"
    EMPTY_PAGE = "empty_page"
    DUPLICATE_PAGE = "duplicate_page"
    STALE_PAGE = "stale_page"
    RESET = "reset"
    OTHER_QUERY = "other_query"
    WRONG_TOTAL = "wrong_total"
    OUT_OF_ORDER = "out_of_order"
    TOKEN_EXPIRED = "token_expired"


STATUS = {
    Kind.HTTP_500: 500,
    Kind.HTTP_502: 502,
    Kind.HTTP_503: 503,
    Kind.TOO_MANY_NO_WAIT: 429,
    Kind.TOO_MANY_RETRY_AFTER: 429,
    Kind.TOO_MANY_WAIT_LONG: 429,
}
PAGE_KINDS = frozenset(
    {
        Kind.EMPTY_PAGE,
        Kind.DUPLICATE_PAGE,
        Kind.STALE_PAGE,
        Kind.RESET,
        Kind.OTHER_QUERY,
        Kind.WRONG_TOTAL,
        Kind.OUT_OF_ORDER,
    }
)
#: What `collectors.page_checks` says of a page it refuses (and the paginator of a loop).
REFUSED = (
    "is empty yet points",
    "repeats record",
    "paging loops",
    "answers offset",
    "of type",
    "did not select",
    "declares",
    "declared",
    "brings the records read",
    "ends the walk",
    "before the window",
    "asked for",
)
#: What a run-log error says when a fault of that kind made a stream fail.
SIGNATURES: dict[Kind, tuple[str, ...]] = {
    Kind.HTTP_500: ("HTTP 500",),
    Kind.HTTP_502: ("HTTP 502",),
    Kind.HTTP_503: ("HTTP 503",),
    Kind.TOO_MANY_NO_WAIT: ("HTTP 429",),
    Kind.TOO_MANY_RETRY_AFTER: ("HTTP 429",),
    # (or, when that answer comes on the last attempt the client had, the attempts ran out)
    Kind.TOO_MANY_WAIT_LONG: ("HTTP 429 and asked us to wait 3600 s", "HTTP 429 after 5 attempts"),
    Kind.CONNECT_TIMEOUT: ("ConnectTimeout", "timed out"),
    Kind.READ_TIMEOUT: ("ReadTimeout", "timed out"),
    Kind.RESET_MID_BODY: ("ReadError", "RemoteProtocolError", "reset", "closed connection"),
    Kind.TRUNCATED_JSON: ("did not return JSON",),
    Kind.GARBLED_BODY: ("did not return JSON",),
    Kind.EMPTY_PAGE: ("is empty yet points to a next page",),
    Kind.DUPLICATE_PAGE: REFUSED,
    Kind.STALE_PAGE: REFUSED,
    Kind.RESET: REFUSED,
    Kind.OTHER_QUERY: REFUSED,
    Kind.WRONG_TOTAL: ("declares", "declared", "brings the records read", "ends the walk"),
    Kind.OUT_OF_ORDER: REFUSED,
    Kind.TOKEN_EXPIRED: ("HTTP 401",),
}
#: Kinds that always make the stream they hit fail (a burst of ``MAX_BURST`` statuses too): every
#: fault that withholds, repeats or misplaces records. A swap of two pages of one result set
#: loses nothing (each page is read once) and fails only where a page's size gives it away.
ALWAYS_FAIL = frozenset(
    {
        Kind.TOO_MANY_WAIT_LONG,
        Kind.TRUNCATED_JSON,
        Kind.EMPTY_PAGE,
        Kind.DUPLICATE_PAGE,
        Kind.STALE_PAGE,
        Kind.RESET,
        Kind.OTHER_QUERY,
        Kind.WRONG_TOTAL,
    }
)
#: More statuses in a row than the client's five attempts.
MAX_BURST = 6
_WEIGHTS = {
    Kind.HTTP_500: 3,
    Kind.HTTP_502: 3,
    Kind.HTTP_503: 3,
    Kind.TOO_MANY_NO_WAIT: 2,
    Kind.TOO_MANY_RETRY_AFTER: 1,
    Kind.TOO_MANY_WAIT_LONG: 1,
    Kind.CONNECT_TIMEOUT: 1,
    Kind.READ_TIMEOUT: 1,
    Kind.RESET_MID_BODY: 2,
    Kind.TRUNCATED_JSON: 1,
    Kind.GARBLED_BODY: 1,
    Kind.EMPTY_PAGE: 2,
    Kind.DUPLICATE_PAGE: 1,
    Kind.STALE_PAGE: 2,
    Kind.RESET: 2,
    Kind.OTHER_QUERY: 2,
    Kind.WRONG_TOTAL: 2,
    Kind.OUT_OF_ORDER: 2,
    Kind.TOKEN_EXPIRED: 1,
}
KINDS = tuple(Kind)


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` on API request number ``at`` (from 0), ``repeat`` requests long."""

    at: int
    kind: Kind
    repeat: int = 1
    detail: str = ""  # e.g. the Retry-After form

    def __str__(self) -> str:
        times = f" x{self.repeat}" if self.repeat > 1 else ""
        return f"#{self.at} {self.kind}{times}{f' ({self.detail})' if self.detail else ''}"

    @property
    def always_fails(self) -> bool:
        """Whether the stream it hits must fail (with a ``SIGNATURES`` reason)."""
        return self.kind in ALWAYS_FAIL or (self.kind in STATUS and self.repeat >= MAX_BURST)


@dataclass(frozen=True, repr=False)
class FaultSchedule:
    """Seeded faults over the first ``span`` API requests; its repr says how to replay it."""

    seed: int
    span: int
    faults: tuple[Fault, ...] = ()

    @classmethod
    def generate(cls, seed: int, span: int) -> FaultSchedule:
        """3 to 7 faults drawn with ``random.Random(seed)``, always with the two kinds ``featured``
        names (so any 7 consecutive seeds feature every kind)."""
        rng = random.Random(seed)
        count = rng.randint(3, 7)
        kinds = [*featured(seed)]
        kinds += rng.choices(KINDS, weights=[_WEIGHTS[k] for k in KINDS], k=count - len(kinds))
        rng.shuffle(kinds)
        ordinals = sorted(rng.sample(range(span), count))
        return cls(
            seed,
            span,
            tuple(_fault(rng, at, kind) for at, kind in zip(ordinals, kinds, strict=True)),
        )

    def __repr__(self) -> str:
        listed = ", ".join(str(f) for f in self.faults) or "no faults"
        return f"FaultSchedule.generate(seed={self.seed}, span={self.span}): {listed}"


def featured(seed: int) -> tuple[Kind, Kind]:
    """The two kinds the schedule of ``seed`` always holds."""
    return KINDS[seed % len(KINDS)], KINDS[(seed + len(KINDS) // 2) % len(KINDS)]


def _fault(rng: random.Random, at: int, kind: Kind) -> Fault:
    if kind is Kind.WRONG_TOTAL:
        return Fault(at, kind, 1, rng.choice(("1", "2", "7")))
    if kind in STATUS and kind not in (Kind.TOO_MANY_WAIT_LONG, Kind.TOO_MANY_RETRY_AFTER):
        return Fault(at, kind, rng.choice((1, 1, 2, 3, MAX_BURST)))
    if kind is Kind.TOO_MANY_RETRY_AFTER:
        return Fault(at, kind, 1, rng.choice(("seconds", "http-date")))
    if kind is Kind.RESET_MID_BODY:
        return Fault(at, kind, rng.choice((1, 2)))
    return Fault(at, kind)


@dataclass(frozen=True)
class Fired:
    """A fault applied to API request ``ordinal`` (``path`` without its query)."""

    fault: Fault
    ordinal: int
    path: str


@dataclass
class Reply:
    """What the handler writes: a response, or a misbehaviour."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # read timeout: answer nothing until the client hangs up
    reset_after: int | None = None  # send this many body bytes, then reset
    close: bool = False  # close the connection after the response


def _keyed(req: ProxyRequest) -> bool:
    """Whether ``req`` carries an API key header (n8n's) in place of an Authorization one."""
    return any(name == "x-n8n-api-key" for name, _ in req.headers)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status, _json({"error": "injected", "message": message}), dict(headers))


# --- the proxy -------------------------------------------------------------------------------


@dataclass
class _Pending:
    fault: Fault
    left: int


@dataclass
class _Walk:
    """The walk a proxy is serving pages of, per API: its first request and its pages."""

    first: ProxyRequest
    pages: list[dict[str, Any]] = field(default_factory=list)


class FlakyProxy:
    """The flaky proxy (a context manager: serves on enter, stops on exit)."""

    def __init__(
        self,
        upstream: str,
        upstream_token: str,
        schedule: FaultSchedule | None = None,
        *,
        issue_tokens: bool = True,
        client_id: str = "throughline-tests",
        client_secret: str = "",
        black_hole_seconds: float = 0.4,
        on_request: Callable[[int], None] | None = None,
        shapes: tuple[PageShape, ...] = DEMO_SHAPES,
    ) -> None:
        self.schedule = schedule or FaultSchedule(0, 0)
        self.shapes = shapes
        self.issue_tokens = issue_tokens
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(12)
        self.black_hole_seconds = black_hole_seconds
        self.on_request = on_request
        self.requests = 0
        self.tokens_issued = 0
        self.fired: list[Fired] = []
        self.violations: list[str] = []
        self._pending = [_Pending(f, f.repeat) for f in self.schedule.faults]
        self._upstream = httpx.Client(
            base_url=upstream, timeout=30, headers={"Authorization": f"Bearer {upstream_token}"}
        )
        self._tokens: set[str] = set()
        self._planted: tuple[tuple[Any, ...], bytes] | None = None
        self._last_page: tuple[tuple[Any, ...], bytes] | None = None
        self._walks: dict[int, _Walk] = {}  # by shape
        self._served: list[tuple[int, str, bytes]] = []  # pages that say what they answer
        self._wait: tuple[tuple[Any, ...], float, float] | None = None  # key, not before, asked
        self._lock = threading.RLock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def start(self) -> FlakyProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="flaky-proxy",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.gate.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._upstream.close()

    def __enter__(self) -> FlakyProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def pending(self) -> list[Fault]:
        """Faults not applied (or not finished) yet."""
        with self._lock:
            return [p.fault for p in self._pending]

    def drop_passed(self) -> list[Fault]:
        """Forget page faults whose ordinal has passed without a page they could apply to."""
        with self._lock:
            passed = [
                p
                for p in self._pending
                if p.fault.kind in PAGE_KINDS and p.fault.at < self.requests
            ]
            self._pending = [p for p in self._pending if p not in passed]
            self._planted = None
            return [p.fault for p in passed]

    # --- one request ---------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> Reply:
        """The token endpoint: client credentials in, a fresh bearer token out."""
        ok = form.get("grant_type") == "client_credentials" and form.get("client_id") == (
            self.client_id
        )
        if not ok or not hmac.compare_digest(form.get("client_secret", ""), self.client_secret):
            return Reply(401, _json({"error": "invalid_client"}))
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._tokens.add(token)
            self.tokens_issued += 1
        return Reply(200, _json({"access_token": token, "token_type": "Bearer"}))

    def answer(self, req: ProxyRequest, authorization: str) -> Reply:
        """Forward ``req`` upstream, or misbehave as the schedule says."""
        with self._lock:
            ordinal = self.requests
            self.requests += 1
            self._check_wait(req)
            if self._planted is not None and self._planted[0] != req.key:
                self._planted = None  # the walk was abandoned
        if self.on_request is not None:
            self.on_request(ordinal)
        if not self.issue_tokens:  # the client's own token goes upstream
            req = replace(req, headers=(*req.headers, ("authorization", authorization)))
        elif not self._admitted(authorization):
            return _error(
                401,
                "token expired or invalid",
                **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        due = self._due(ordinal, req, credentials=bool(authorization) or _keyed(req))
        if due is not None and due.fault.kind not in PAGE_KINDS:
            self._fire(due, ordinal, req)
            return self._misbehave(due.fault, req)
        if self._planted is not None:
            return self._page(req, self._fetch(req))
        reply = self._forward(req)
        if due is not None:
            faulty = self._page_fault(due.fault, req, reply)
            if faulty is not None:
                self._fire(due, ordinal, req)
                reply = faulty
        return self._page(req, reply)

    def _admitted(self, authorization: str) -> bool:
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        with self._lock:
            return any(hmac.compare_digest(token, t) for t in self._tokens)

    def _check_wait(self, req: ProxyRequest) -> None:
        if self._wait is None:
            return
        key, not_before, asked = self._wait
        self._wait = None
        early = not_before - time.time()
        if key == req.key and early > 0.005:
            self.violations.append(
                f"{req.path} was retried {early:.2f} s before the {asked:.1f} s Retry-After allowed"
            )

    def _shape(self, req: ProxyRequest) -> tuple[int, PageShape] | None:
        shape = shape_of(self.shapes, req)
        return None if shape is None else (self.shapes.index(shape), shape)

    def _due(self, ordinal: int, req: ProxyRequest, *, credentials: bool) -> _Pending | None:
        """The pending fault due for this request that applies to it, if any. An expired token
        waits for a request that carries credentials (a login asks for them: a 401 there would
        be a refused password, not an expired token)."""
        shape = self._shape(req)
        with self._lock:
            for pending in self._pending:
                if pending.fault.at > ordinal:
                    return None
                kind = pending.fault.kind
                if kind is Kind.TOKEN_EXPIRED and not credentials:
                    continue
                if kind not in PAGE_KINDS or self._applies(kind, req, shape):
                    return pending
        return None

    def _fire(self, pending: _Pending, ordinal: int, req: ProxyRequest) -> None:
        with self._lock:
            pending.left -= 1
            if pending.left <= 0:
                self._pending.remove(pending)
            if pending.fault.kind is Kind.TOKEN_EXPIRED:
                self._tokens.clear()
            self.fired.append(Fired(pending.fault, ordinal, req.path))

    def _applies(self, kind: Kind, req: ProxyRequest, found: tuple[int, PageShape] | None) -> bool:
        if found is None or self._planted is not None:
            return False
        index, shape = found
        walk = self._walks.get(index)
        if kind is Kind.DUPLICATE_PAGE:
            return (
                shape.continuation(req)
                and self._last_page is not None
                and self._last_page[0] == req.key
            )
        if kind in (Kind.STALE_PAGE, Kind.RESET):
            return shape.continuation(req) and walk is not None and bool(walk.pages)
        if kind is Kind.OTHER_QUERY:
            query = shape.query_of(req)
            return query is not None and self._other_page(index, query) is not None
        if kind is Kind.WRONG_TOTAL:
            return shape.total is not None
        return not shape.keyset  # empty and swapped pages: not on keyset walks

    def _other_page(self, index: int, query: str) -> bytes | None:
        """The latest page served for another query of the same API, with records on it."""
        return next((b for i, q, b in reversed(self._served) if i == index and q != query), None)

    def _misbehave(self, fault: Fault, req: ProxyRequest) -> Reply:
        kind = fault.kind
        if kind in STATUS:
            return self._status(fault, req)
        if kind is Kind.TOKEN_EXPIRED:
            return _error(
                401, "token expired", **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if kind is Kind.READ_TIMEOUT:
            return Reply(hang=True)
        reply = self._fetch(req, consume=kind is Kind.CONNECT_TIMEOUT)  # that one is delivered
        if kind is Kind.CONNECT_TIMEOUT:
            self._server.black_hole(self.black_hole_seconds)
            reply.close = True
            return self._page(req, reply)
        if kind is Kind.RESET_MID_BODY:
            reply.reset_after = len(reply.body) // 2
            return reply
        if kind is Kind.GARBLED_BODY:
            middle = len(reply.body) // 2
            garbled = reply.body[:middle] + b"\xff\xfe\xfd" + reply.body[middle + 3 :]
            return Reply(reply.status, garbled, reply.headers)
        cut = reply.body[: max(1, len(reply.body) * 2 // 3)]  # TRUNCATED_JSON
        return Reply(reply.status, cut, reply.headers)

    def _status(self, fault: Fault, req: ProxyRequest) -> Reply:
        status = STATUS[fault.kind]
        if fault.kind is Kind.TOO_MANY_WAIT_LONG:
            return _error(status, "slow down", **{"Retry-After": "3600"})
        if fault.kind is not Kind.TOO_MANY_RETRY_AFTER:
            return _error(status, f"injected HTTP {status}")
        if fault.detail == "http-date":
            when = float(int(time.time()) + 2)
            header, asked = email.utils.formatdate(when, usegmt=True), when - time.time()
        else:
            when, header, asked = time.time() + 1, "1", 1.0
        with self._lock:
            self._wait = (req.key, when, asked)
        return _error(status, "slow down", **{"Retry-After": header})

    def _page_fault(self, fault: Fault, req: ProxyRequest, reply: Reply) -> Reply | None:
        """The page ``fault`` makes of ``reply``; None when it cannot apply to this page."""
        found = self._shape(req)
        assert found is not None
        index, shape = found
        body = json.loads(reply.body) if reply.status == 200 else None
        records = body.get(shape.records) if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(records, list):
            return None  # an error answer: the fault waits for a page
        kind, walk = fault.kind, self._walks.get(index)
        if kind is Kind.EMPTY_PAGE:
            if not records or shape.next_request(req, body) is None:
                return None  # only a page that points on can hide records
            return Reply(200, _json({**body, shape.records: []}), reply.headers)
        if kind is Kind.DUPLICATE_PAGE:
            assert self._last_page is not None
            return Reply(200, self._last_page[1], reply.headers)
        if kind is Kind.STALE_PAGE:
            assert walk is not None
            earlier = walk.pages[-1].get(shape.records)
            if not earlier or earlier == records:
                return None
            return Reply(200, _json({**body, shape.records: earlier}), reply.headers)
        if kind is Kind.RESET:
            assert walk is not None
            again = self._forward(replace(walk.first, headers=req.headers))
            restarted = json.loads(again.body) if again.status == 200 else None
            if not isinstance(restarted, dict) or not restarted.get(shape.records):
                return None
            return again
        if kind is Kind.OTHER_QUERY:
            query = shape.query_of(req)
            other = self._other_page(index, query) if query is not None else None
            return None if other is None else Reply(200, other, reply.headers)
        if kind is Kind.WRONG_TOTAL:
            total = body.get(shape.total or "")
            if not isinstance(total, int):
                return None
            return Reply(
                200, _json({**body, shape.total: total + int(fault.detail or 1)}), reply.headers
            )
        return self._swap(req, shape, body, reply)  # OUT_OF_ORDER

    def _swap(
        self, req: ProxyRequest, shape: PageShape, body: dict[str, Any], reply: Reply
    ) -> Reply | None:
        """This page with the next one's records; the next one is planted with this one's."""
        following = shape.next_request(req, body)
        if following is None:
            return None  # the last page has nothing to swap with
        later = self._forward(following)
        other = json.loads(later.body) if later.status == 200 else None
        if not isinstance(other, dict):
            return None
        first = {**body, shape.records: other[shape.records]}
        second = {**other, shape.records: body[shape.records]}
        with self._lock:
            self._planted = (following.key, _json(second))
        return Reply(200, _json(first), reply.headers)

    def _page(self, req: ProxyRequest, reply: Reply) -> Reply:
        """Remember a served page: the walk it belongs to (for stale pages and resets), the page
        that follows (for a duplicate), and what it answers (for another query's page)."""
        found = self._shape(req)
        if found is None or reply.status != 200:
            return reply
        index, shape = found
        try:
            body = json.loads(reply.body)
        except ValueError:
            return reply
        if not isinstance(body, dict):
            return reply
        following = (
            shape.next_request(req, body) if isinstance(body.get(shape.records), list) else None
        )
        query = shape.query_of(req)
        with self._lock:
            self._last_page = (following.key, reply.body) if following is not None else None
            walk = self._walks.get(index)
            if walk is None or not shape.continuation(req):
                walk = self._walks[index] = _Walk(req)
            walk.pages.append(body)
            if query is not None and body.get(shape.records):
                self._served = [*self._served[-31:], (index, query, reply.body)]
        return reply

    def _fetch(self, req: ProxyRequest, *, consume: bool = True) -> Reply:
        """The page planted for ``req`` (by an out-of-order swap) if there is one, else upstream's;
        without ``consume`` the planted page stays for the retry of a reply that never arrives."""
        with self._lock:
            planted = self._planted
            if planted is not None and planted[0] == req.key:
                self._planted = None if consume else planted
                return Reply(200, planted[1], {"Content-Type": "application/json"})
        return self._forward(req)

    def _forward(self, req: ProxyRequest) -> Reply:
        response = self._upstream.request(
            req.method,
            req.path,
            params=list(req.query),
            content=req.body or None,
            headers=dict(req.headers),
        )
        kept = {k: v for k, v in response.headers.items() if k.lower() in ("content-type",)}
        return Reply(response.status_code, response.content, kept)


_FORWARDED_HEADERS = ("content-type", "prefer", "sforce-query-options", "accept", "x-n8n-api-key")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1  # so that a few idle connections fill the accept queue
    proxy: FlakyProxy

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self.gate = threading.Event()
        self.gate.set()

    def get_request(self) -> tuple[socket.socket, Any]:
        self.gate.wait()
        return self.socket.accept()

    def black_hole(self, seconds: float) -> None:
        """Stop accepting and fill the accept queue, so new connections time out."""
        if not self.gate.is_set():
            return  # already black-holed
        self.gate.clear()
        fillers: list[socket.socket] = []
        try:
            for _ in range(64):
                filler = socket.socket()
                filler.settimeout(0.05)
                try:
                    filler.connect(self.server_address[:2])
                except TimeoutError:
                    filler.close()
                    break  # the queue is full: SYNs are dropped now
                fillers.append(filler)
        finally:
            timer = threading.Timer(seconds, self._reopen, (fillers,))
            timer.daemon = True
            timer.start()

    def _reopen(self, fillers: list[socket.socket]) -> None:
        for filler in fillers:
            filler.close()
        self.gate.set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up on a misbehaving proxy are expected."""


class _Handler(QuietHandler):
    server: _Server

    def serve(self, method: str, body: bytes) -> None:
        proxy = self.server.proxy
        parts = urlsplit(self.path)
        if parts.path == "/oauth/token" and method == "POST":
            self._write(proxy.token(dict(parse_qsl(body.decode()))))
            return
        headers = tuple(
            (k.lower(), v) for k, v in self.headers.items() if k.lower() in _FORWARDED_HEADERS
        )
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        request = ProxyRequest(method, parts.path, query, body, headers)
        self._write(proxy.answer(request, self.headers.get("Authorization", "")))

    def _write(self, reply: Reply) -> None:
        if reply.hang:
            self._hang()
            return
        self.send_response(reply.status)
        headers = {"content-type": "application/json"}
        headers.update((k.lower(), v) for k, v in reply.headers.items())
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if reply.reset_after is None:
            self.wfile.write(reply.body)
            return
        self.wfile.write(reply.body[: reply.reset_after])
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # with a zero linger: RST, not FIN
        self.close_connection = True

    def _hang(self, cap: float = 30.0) -> None:
        """Answer nothing until the client gives up and closes the connection."""
        readable, _, _ = select.select([self.connection], [], [], cap)
        self.close_connection = True
        if readable:
            self.connection.recv(1, socket.MSG_PEEK)

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # a reset connection is closed already
            super().finish()
