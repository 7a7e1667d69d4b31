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
``empty_page``        the page with no records and no next page (the walk ends early)
``duplicate_page``    a continuation page answered with the page before it again
``out_of_order``      this page and the next one swap their records
``token_expired``     every token issued so far stops working: 401, re-authenticate
===================  ==========================================================================

The page faults (empty, duplicate, out of order) wait for the first request at or after their
ordinal that they can apply to; the others hit exactly that request. The page an out-of-order
swap holds back is served to the request for it (and to its retries), unless the walk moves on. With ``issue_tokens`` the proxy is also the OAuth 2.0 token endpoint
(``POST /oauth/token``, client credentials) and admits only tokens it issued. ``violations``
lists every retry that came sooner than a ``Retry-After`` asked; ``fired`` every fault applied.
Tokens and secrets are never logged or kept in ``fired``.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


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
    EMPTY_PAGE = "empty_page"
    DUPLICATE_PAGE = "duplicate_page"
    OUT_OF_ORDER = "out_of_order"
    TOKEN_EXPIRED = "token_expired"


STATUS = {
    Kind.HTTP_500: 500, Kind.HTTP_502: 502, Kind.HTTP_503: 503, Kind.TOO_MANY_NO_WAIT: 429,
    Kind.TOO_MANY_RETRY_AFTER: 429, Kind.TOO_MANY_WAIT_LONG: 429,
}  # fmt: skip
PAGE_KINDS = frozenset({Kind.EMPTY_PAGE, Kind.DUPLICATE_PAGE, Kind.OUT_OF_ORDER})
#: What a run-log error says when a fault of that kind made a stream fail.
SIGNATURES: dict[Kind, tuple[str, ...]] = {
    Kind.HTTP_500: ("HTTP 500",),
    Kind.HTTP_502: ("HTTP 502",),
    Kind.HTTP_503: ("HTTP 503",),
    Kind.TOO_MANY_NO_WAIT: ("HTTP 429",),
    Kind.TOO_MANY_RETRY_AFTER: ("HTTP 429",),
    Kind.TOO_MANY_WAIT_LONG: ("HTTP 429 and asked us to wait 3600 s",),
    Kind.CONNECT_TIMEOUT: ("ConnectTimeout", "timed out"),
    Kind.READ_TIMEOUT: ("ReadTimeout", "timed out"),
    Kind.RESET_MID_BODY: ("ReadError", "RemoteProtocolError", "reset", "closed connection"),
    Kind.TRUNCATED_JSON: ("did not return JSON",),
    Kind.EMPTY_PAGE: (),
    Kind.DUPLICATE_PAGE: ("paging loops",),
    Kind.OUT_OF_ORDER: ("fewer than the limit",),
    Kind.TOKEN_EXPIRED: ("HTTP 401",),
}
#: Kinds that always make the stream they hit fail (a burst of ``MAX_BURST`` statuses too).
ALWAYS_FAIL = frozenset({Kind.TOO_MANY_WAIT_LONG, Kind.TRUNCATED_JSON, Kind.DUPLICATE_PAGE})
#: More statuses in a row than the client's five attempts.
MAX_BURST = 6
_WEIGHTS = {
    Kind.HTTP_500: 3, Kind.HTTP_502: 3, Kind.HTTP_503: 3, Kind.TOO_MANY_NO_WAIT: 2,
    Kind.TOO_MANY_RETRY_AFTER: 1, Kind.TOO_MANY_WAIT_LONG: 1, Kind.CONNECT_TIMEOUT: 1,
    Kind.READ_TIMEOUT: 1, Kind.RESET_MID_BODY: 2, Kind.TRUNCATED_JSON: 1, Kind.EMPTY_PAGE: 1,
    Kind.DUPLICATE_PAGE: 1, Kind.OUT_OF_ORDER: 2, Kind.TOKEN_EXPIRED: 1,
}  # fmt: skip
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


@dataclass(frozen=True)
class ProxyRequest:
    """An API request as the proxy sees it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...], bytes]:
        """What makes two requests ask for the same page."""
        return self.method, self.path, tuple(sorted(self.query)), self.body

    def with_query(self, **values: str | int) -> ProxyRequest:
        kept = [(k, v) for k, v in self.query if k not in values]
        return replace(self, query=(*kept, *((k, str(v)) for k, v in values.items())))


@dataclass
class Reply:
    """What the handler writes: a response, or a misbehaviour."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # read timeout: answer nothing until the client hangs up
    reset_after: int | None = None  # send this many body bytes, then reset
    close: bool = False  # close the connection after the response


# --- page shapes of the four demo APIs -------------------------------------------------------


def _next_crm(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
    url = body.get("nextRecordsUrl")
    if body.get("done") is not False or not isinstance(url, str):
        return None
    return ProxyRequest("GET", "/crm" + url, (), b"", req.headers)


def _next_token(param: str, member: str) -> Callable[[ProxyRequest, dict[str, Any]], Any]:
    def next_request(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
        token = body.get(member)
        return req.with_query(**{param: token}) if token else None

    return next_request


def _next_offset(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
    if body.get("hasMore") is not True:
        return None
    query = dict(req.query)
    limit = int(query.get("limit", "100"))
    return req.with_query(offset=int(query.get("offset", "0")) + limit, limit=limit)


@dataclass(frozen=True)
class PageShape:
    """Where one API keeps its records, how it points to the next page and marks the last."""

    records: str
    next_request: Callable[[ProxyRequest, dict[str, Any]], ProxyRequest | None]
    last_page: dict[str, Any]  # members that make a page the last one

    def continuation(self, req: ProxyRequest) -> bool:
        """Whether ``req`` asks for a page after the first of its walk."""
        query = dict(req.query)
        return (
            "/query/" in req.path
            or bool(query.get("page_token") or query.get("cursor"))
            or query.get("offset", "0") != "0"
        )


SHAPES = {
    "/crm": PageShape("records", _next_crm, {"done": True, "nextRecordsUrl": None}),
    "/psa": PageShape("data", _next_token("page_token", "next_page_token"),
                      {"next_page_token": None}),
    "/erp": PageShape("items", _next_offset, {"hasMore": False, "count": 0}),
    "/ipaas": PageShape("jobs", _next_token("cursor", "next_cursor"), {"next_cursor": None}),
}  # fmt: skip


def shape_of(path: str) -> PageShape | None:
    """The page shape of the API serving ``path``."""
    return next((s for p, s in SHAPES.items() if path == p or path.startswith(p + "/")), None)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status, _json({"error": "injected", "message": message}), dict(headers))


# --- the proxy -------------------------------------------------------------------------------


@dataclass
class _Pending:
    fault: Fault
    left: int


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
    ) -> None:
        self.schedule = schedule or FaultSchedule(0, 0)
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
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="flaky-proxy",
        )  # fmt: skip
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
            return _error(401, "token expired or invalid", **{
                "WWW-Authenticate": 'Bearer error="invalid_token"'})  # fmt: skip
        due = self._due(ordinal, req)
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

    def _due(self, ordinal: int, req: ProxyRequest) -> _Pending | None:
        """The pending fault due for this request that applies to it, if any."""
        shape = shape_of(req.path)
        with self._lock:
            for pending in self._pending:
                if pending.fault.at > ordinal:
                    return None
                kind = pending.fault.kind
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

    def _applies(self, kind: Kind, req: ProxyRequest, shape: PageShape | None) -> bool:
        if shape is None or self._planted is not None:
            return False
        if kind is Kind.DUPLICATE_PAGE:
            return (
                shape.continuation(req) and self._last_page is not None
                and self._last_page[0] == req.key
            )  # fmt: skip
        return True

    def _misbehave(self, fault: Fault, req: ProxyRequest) -> Reply:
        kind = fault.kind
        if kind in STATUS:
            return self._status(fault, req)
        if kind is Kind.TOKEN_EXPIRED:
            return _error(401, "token expired", **{
                "WWW-Authenticate": 'Bearer error="invalid_token"'})  # fmt: skip
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
        shape = shape_of(req.path)
        assert shape is not None
        body = json.loads(reply.body) if reply.status == 200 else None
        if not isinstance(body, dict):
            return None
        if fault.kind is Kind.EMPTY_PAGE:
            emptied = {**body, shape.records: [], **shape.last_page}
            return Reply(200, _json({k: v for k, v in emptied.items() if v is not None}),
                         reply.headers)  # fmt: skip
        if fault.kind is Kind.DUPLICATE_PAGE:
            assert self._last_page is not None
            return Reply(200, self._last_page[1], reply.headers)
        following = shape.next_request(req, body)  # OUT_OF_ORDER
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
        """Remember a served page, so a duplicate can repeat it for the request that follows."""
        shape = shape_of(req.path)
        if shape is None or reply.status != 200:
            return reply
        try:
            body = json.loads(reply.body)
        except ValueError:
            return reply
        following = shape.next_request(req, body) if isinstance(body, dict) else None
        with self._lock:
            self._last_page = (following.key, reply.body) if following is not None else None
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
            req.method, req.path, params=list(req.query), content=req.body or None,
            headers=dict(req.headers),
        )  # fmt: skip
        kept = {k: v for k, v in response.headers.items() if k.lower() in ("content-type",)}
        return Reply(response.status_code, response.content, kept)


_FORWARDED_HEADERS = ("content-type", "prefer", "sforce-query-options", "accept")


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: URLs may carry page tokens."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
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
