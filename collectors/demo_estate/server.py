"""``DemoEstateServer``: the four source APIs over local HTTP, in a background thread.

One ``ThreadingHTTPServer`` mounts the CRM under ``/crm``, the PSA under ``/psa``, the ERP under
``/erp`` and the iPaaS job log under ``/ipaas`` (see ``collectors.demo_estate.apis``), plus
``GET /_truth?as_of=<iso>`` (ground truth), ``GET /_clock`` and ``GET /_health`` (no token).

Every request needs ``Authorization: Bearer <token>`` (else 401 in that API's error shape).
Per token at most ``rate_limit`` requests per rolling second are admitted; beyond that: 429 with
``Retry-After: 1``. Test hooks: ``inject`` (the next matching requests fail with given statuses),
``inject_timeout`` (the next matching requests are delayed), ``requests_log`` ((path, status)
per answered request), and ``Estate.corrupt`` for malformed records.
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from collectors.demo_estate.apis.base import Api, ApiError, Request, Response, iso_z, parse_iso
from collectors.demo_estate.apis.crm import CrmApi
from collectors.demo_estate.apis.erp import ErpApi
from collectors.demo_estate.apis.ipaas import IpaasApi
from collectors.demo_estate.apis.psa import PsaApi
from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.model import Estate
from collectors.demo_estate.truth import GroundTruth, ground_truth

DEFAULT_PAGE_SIZES = {"crm": 200, "psa": 100, "erp": 100, "ipaas": 100}


@dataclass
class _Fault:
    prefix: str
    statuses: tuple[int, ...]
    remaining: int
    delay: float = 0.0
    served: int = 0


class DemoEstateServer:
    """The simulated firm's APIs on ``base_url`` (a context manager: start on enter)."""

    def __init__(
        self,
        estate: Estate,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: SimClock | None = None,
        page_sizes: Mapping[str, int] | None = None,
        rate_limit: int | None = 50,
    ) -> None:
        if not token:
            raise ValueError("a token is required")
        sizes = {**DEFAULT_PAGE_SIZES, **(page_sizes or {})}
        self.estate = estate
        self.token = token
        self.host = host
        self.port = port
        self.clock = clock or SimClock(estate.history_end)
        self.rate_limit = rate_limit
        self.apis: dict[str, Api] = {
            "/crm": CrmApi(estate, sizes["crm"]),
            "/psa": PsaApi(estate, sizes["psa"]),
            "/erp": ErpApi(estate, sizes["erp"]),
            "/ipaas": IpaasApi(estate, sizes["ipaas"]),
        }
        self.requests_log: list[tuple[str, int]] = []
        self._faults: list[_Fault] = []
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` (known once started)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> DemoEstateServer:
        """Bind and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _HttpServer((self.host, self.port), _Handler)
        httpd.app = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-estate:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> DemoEstateServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def inject(
        self,
        path_prefix: str,
        statuses: Sequence[int] = (503,),
        count: int | None = None,
    ) -> None:
        """Fail the next ``count`` (default: one per status) requests whose path starts with
        ``path_prefix``, cycling through ``statuses`` (a 429 carries ``Retry-After: 1``)."""
        if not statuses:
            raise ValueError("statuses must not be empty")
        n = len(statuses) if count is None else count
        with self._lock:
            self._faults.append(_Fault(path_prefix, tuple(statuses), n))

    def inject_timeout(self, path_prefix: str, seconds: float, count: int = 1) -> None:
        """Delay the next ``count`` matching requests by ``seconds`` before answering."""
        with self._lock:
            self._faults.append(_Fault(path_prefix, (), count, delay=seconds))

    def clear_faults(self) -> None:
        """Drop every pending injected fault."""
        with self._lock:
            self._faults.clear()

    def truth(self, as_of: datetime | None = None) -> GroundTruth:
        """Ground truth at ``as_of`` (default: the clock's now)."""
        return ground_truth(self.estate, as_of or self.clock.now())

    def dispatch(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        """Answer one request (called from the handler threads)."""
        parts = urlsplit(raw_path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        response = self._answer(method, path, query, headers, body)
        with self._lock:
            self.requests_log.append((path, response.status))
        return response

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        if path == "/_health":
            return Response(200, {"status": "ok"})
        api = next((a for p, a in self.apis.items() if path == p or path.startswith(p + "/")), None)
        if api is None and path not in ("/_truth", "/_clock"):
            return _error(None, 404, "not_found", f"no API at {path}")
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or not hmac.compare_digest(token.encode(), self.token.encode()):
            response = _error(api, 401, None, "Session expired or invalid")
            response.headers["WWW-Authenticate"] = 'Bearer realm="demo-estate"'
            return response
        if not self._admit(token):
            response = _error(api, 429, None, "Too many requests: retry after 1 second")
            response.headers["Retry-After"] = "1"
            return response
        injected = self._injected(path)
        if injected is not None:
            return _error(
                api, injected, None, f"Injected fault: HTTP {injected}", retry_after=injected == 429
            )
        sub_path = path if api is None else path[len(api.prefix) :]
        request = Request(method, sub_path, query, headers, body, token, self.clock.now())
        try:
            return self._internal(request) if api is None else api.handle(request)
        except ApiError as exc:
            return _error(api, exc.status, exc.code, exc.message)
        except Exception as exc:  # the APIs' own bugs: answer 500 like a real service
            return _error(api, 500, None, f"Unexpected error: {exc.__class__.__name__}")

    def _internal(self, request: Request) -> Response:
        if request.path == "/_clock":
            return Response(
                200,
                {
                    "now": iso_z(request.now, millis=True),
                    "start": iso_z(self.estate.start),
                    "history_end": iso_z(self.estate.history_end),
                    "horizon_end": iso_z(self.estate.horizon_end),
                    "live": self.clock.live,
                    "speed": self.clock.speed,
                    "seed": self.estate.seed,
                },
            )
        raw = request.query.get("as_of")
        try:
            as_of = parse_iso(raw) if raw else request.now
        except ValueError:
            raise ApiError(400, "invalid_parameter", "as_of is not an ISO-8601 datetime") from None
        return Response(200, ground_truth(self.estate, as_of).to_dict())

    def _admit(self, token: str) -> bool:
        if self.rate_limit is None:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(token, deque())
            while hits and now - hits[0] >= 1.0:
                hits.popleft()
            if len(hits) >= self.rate_limit:
                return False
            hits.append(now)
            return True

    def _injected(self, path: str) -> int | None:
        """Apply pending faults for ``path``: sleep for delays; the status to fail with."""
        delay, status = 0.0, None
        with self._lock:
            for fault in self._faults:
                if fault.remaining <= 0 or not path.startswith(fault.prefix):
                    continue
                if fault.delay and not delay:
                    delay = fault.delay
                elif fault.statuses and status is None:
                    status = fault.statuses[fault.served % len(fault.statuses)]
                else:
                    continue
                fault.remaining -= 1
                fault.served += 1
            self._faults = [f for f in self._faults if f.remaining > 0]
        if delay:
            time.sleep(delay)
        return status


def _error(
    api: Api | None,
    status: int,
    code: str | None,
    message: str,
    *,
    retry_after: bool = False,
) -> Response:
    if api is None:
        body: Any = {"error": {"code": code or str(status), "message": message}}
    else:
        body = api.error_body(status, code, message)
    response = Response(status, body)
    if retry_after:
        response.headers["Retry-After"] = "1"
    return response


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: DemoEstateServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts in tests) are not errors."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    timeout = 30

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server keeps ``requests_log`` instead."""

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.app.dispatch(method, self.path, headers, body)
        data = json.dumps(response.body, separators=(",", ":")).encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
