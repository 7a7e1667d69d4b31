"""One loopback HTTP server in front of several vendors, routed by path prefix.

The flaky proxy forwards to a single upstream; ``VendorRouter`` lets that upstream be several
sources at once: a fake vendor API answering through its ``httpx`` handler (HubSpot's and n8n's
recorded APIs, `tests/collectors/fixture_api.py`, their records cloned so that every walk has
several pages), or a real server the request is passed on to (trytond). Requests and answers go
over real sockets, so the proxy's transport faults apply. ``vendor_collectors`` builds the three
collectors against it (through a proxy), as the registry and the Tryton connector do.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

from collectors import erp_tryton
from collectors.base import HttpCollector
from collectors.registry import build_collector
from foundation.settings import CollectorSettings
from tests.collectors.fixture_api import FixtureApi
from tests.collectors.sources import SAAS, saas_settings
from tests.resilience.loopback import QuietHandler
from tests.resilience.schedules import RETRY, TIMEOUT
from tests.tryton.conftest import COMPANY, TrytonServer

Handler = Callable[[httpx.Request], httpx.Response]
_HOP = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})


def forward_to(url: str) -> Handler:
    """A handler passing requests on to the server at ``url``."""
    client = httpx.Client(base_url=url, timeout=30)

    def handle(request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        answer = client.request(
            request.method, request.url.raw_path.decode(), content=request.content, headers=headers
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() == "content-type"}
        return httpx.Response(answer.status_code, headers=kept, content=answer.content)

    return handle


class VendorRouter:
    """Serves ``routes`` (path prefix → handler) on a free loopback port, as a context manager."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _RouterHandler)
        self._server.daemon_threads = True
        self._server.router = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, request: httpx.Request) -> httpx.Response:
        for prefix, handler in self.routes.items():
            if request.url.path.startswith(prefix):
                return handler(request)
        return httpx.Response(404, json={"message": f"no vendor at {request.url.path}"})

    def __enter__(self) -> VendorRouter:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _RouterHandler(QuietHandler):
    def serve(self, method: str, body: bytes) -> None:
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP]
        request = httpx.Request(method, f"http://vendors{self.path}", headers=headers, content=body)
        answer = self.server.router.answer(request)  # type: ignore[attr-defined]
        content = answer.read()
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


# --- the vendors behind it ----------------------------------------------------------------

COPIES = 4  # each recorded record and its clones: walks of several pages of two
SECRETS = [v for spec in SAAS.values() for v in spec["secrets"].values()]


def _later(stamp: str, days: int) -> str:
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(days=days)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hubspot_api() -> FixtureApi:
    """The recorded HubSpot account with each deal and company cloned, a day later each time."""
    api = FixtureApi("hubspot")
    for name in ("deals", "companies"):
        recorded: list[dict[str, Any]] = api.tables[name]
        clones = []
        for copy_no in range(1, COPIES):
            for record in recorded:
                clone = copy.deepcopy(record)
                clone["id"] = str(int(record["id"]) + 1000 * copy_no)
                props = clone["properties"]
                props["hs_object_id"] = clone["id"]
                props["hs_lastmodifieddate"] = _later(props["hs_lastmodifieddate"], copy_no)
                clone["updatedAt"] = _later(clone["updatedAt"], copy_no)
                clones.append(clone)
        api.tables[name] = recorded + clones
    return api


def n8n_api() -> FixtureApi:
    """The recorded n8n executions, with later clones (ids and retry chains shifted) first."""
    api = FixtureApi("n8n")
    recorded = list(api.tables["executions"])
    for copy_no in range(1, COPIES):
        shifted = []
        for execution in recorded:
            clone = copy.deepcopy(execution)
            for member in ("id", "retryOf", "retrySuccessId"):
                if clone.get(member):
                    clone[member] = str(int(clone[member]) + 100 * copy_no)
            for member in ("startedAt", "stoppedAt"):
                if clone.get(member):
                    clone[member] = _later(clone[member], copy_no)
            shifted.append(clone)
        api.tables["executions"][:0] = shifted  # newest first
    return api


def vendor_collectors(base_url: str, tryton: TrytonServer) -> list[HttpCollector]:
    """HubSpot, n8n and Tryton collectors on ``base_url`` (the proxy), small pages, quick
    retries and timeouts as in the demo estate's schedules (Tryton's reads may take longer: its
    login hashes a password)."""
    built = []
    for name in ("hubspot", "n8n"):
        settings = saas_settings(name).model_copy(
            update={"collectors": {name: CollectorSettings(base_url=base_url)}}
        )
        built.append(build_collector(name, settings, options={name: SAAS[name]["options"]}))
    config = erp_tryton.TrytonConfig(
        f"{base_url}/{tryton.database}/",
        login=tryton.login,
        page_size=2,
        legal_entities={COMPANY: "US"},
    )
    slow = httpx.Timeout(10.0, connect=TIMEOUT.connect, read=5.0)  # a login hashes a password
    session = erp_tryton.TrytonSession(config.url, tryton.login, tryton.password, timeout=slow)
    built.append(erp_tryton.collector("tryton", config, session))
    out = []
    for collector in built:
        assert isinstance(collector, HttpCollector)
        timeout = slow if collector.name == "tryton" else TIMEOUT
        out.append(dataclasses.replace(collector, timeout=timeout, retry=RETRY))
    return out
