"""One fake API for every connector, driven by its recorded fixtures and their `fixtures.yaml`.

A connector's fixture directory (its spec's `fixtures`, e.g. `tests/fixtures/http/hubspot/`)
holds recorded answers and a `fixtures.yaml` that says how to serve them (the format is in
`tests/fixtures/http/README.md`): the vendor's credential check (`tests.collectors.fake_auth`),
its answers to refused or unknown requests, its tables of recorded records, and routes. A route
selects a table from the request (a SOQL ``FROM``, a path, a SuiteQL table and type), filters it
by the request's cursor filter the vendor's way, sorts it, and cuts it into pages linked as the
vendor links them (`tests.collectors.fake_dialects`); or looks records up by the ids a request
lists; or answers a recorded file; or replays a JSON-RPC recording.

`inject(429)` makes the next API request answer 429 with ``Retry-After: 1``; `reject_all`
answers 401 to every API request (revoked credentials); `refuse(route, answer)` answers one
route with a declared answer; `log` holds ``(path, status)`` of every API request, `sent(route)`
what each request to a route sent, `served(route)` how many pages it answered; `tables` holds
the records served (tests may change them); `page_size` overrides every route's page size.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.collectors import fake_dialects as dialects
from tests.collectors.fake_auth import make_auth

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "http"
MANIFEST = "fixtures.yaml"


def fixture_dir(where: str) -> Path:
    """A fixture directory: a vendor's name under `tests/fixtures/http`, or a path from the
    repository's root (a spec's `fixtures`)."""
    return ROOT / where if "/" in where else FIXTURES / where


def fixture(source: str, name: str) -> Any:
    """A recorded response, parsed."""
    return json.loads((fixture_dir(source) / name).read_text(encoding="utf-8"))


@functools.cache
def _manifest(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((directory / MANIFEST).read_text(encoding="utf-8"))
    return loaded


def manifest(where: str) -> dict[str, Any]:
    """The parsed `fixtures.yaml` of a fixture directory (a copy: callers may change it)."""
    return copy.deepcopy(_manifest(fixture_dir(where)))


def serves_api(where: str) -> bool:
    """Whether a fixture directory describes an API to serve (else: files, such as logs)."""
    return bool(manifest(where).get("routes"))


class Tables(dict[str, list[Any]]):
    """The records each table serves, read from its recorded file when first asked for."""

    def __init__(self, directory: Path, declared: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self.directory, self.declared = directory, declared

    def __missing__(self, name: str) -> list[Any]:
        table = self.declared[name]
        loaded = json.loads((self.directory / table["file"]).read_text(encoding="utf-8"))
        self[name] = list(dialects.at_path(loaded, table["records"]))
        return self[name]


class FakeApi:
    """What every fake API shares: injected failures, revoked credentials and the request log.
    A fake answers requests outside its API in `special` (a token endpoint, a login), checks
    credentials in `authorized` and answers API requests in `route`."""

    api_prefix = "/"

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.injected: list[int] = []
        self.reject_all = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def inject(self, status: int, count: int = 1) -> None:
        self.injected.extend([status] * count)

    def statuses(self) -> list[int]:
        return [status for path, status in self.log if path.startswith(self.api_prefix)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        special = self.special(request)
        if special is not None:
            return special
        if self.injected:
            status = self.injected.pop(0)
            response = httpx.Response(
                status, headers={"Retry-After": "1"}, json={"message": "slow down"}
            )
        elif self.reject_all or not self.authorized(request):
            response = self.unauthorized()
        else:
            response = self.route(request)
        self.log.append((request.url.path, response.status_code))
        return response

    def special(self, request: httpx.Request) -> httpx.Response | None:
        return None

    def authorized(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> httpx.Response:
        return httpx.Response(401, json={"message": "Authentication credentials not valid"})

    def route(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


class FixtureApi(FakeApi):
    """The recorded API of one connector (see the module's docstring)."""

    def __init__(self, where: str, **credentials: Any) -> None:
        super().__init__()
        self.directory = fixture_dir(where)
        self.manifest = _manifest(self.directory)
        self.auth = make_auth(self.manifest["auth"], credentials, self.answer, self.directory)
        self.api_prefix = self.manifest.get("api", "/")
        self.tables = Tables(self.directory, self.manifest.get("tables") or {})
        self.page_size: int | None = None
        self.refused: dict[str, str] = {}
        self.cursors: dict[str, list[Any]] = {}
        self._sent: dict[str, list[Any]] = defaultdict(list)
        self._served: Counter[str] = Counter()

    def refuse(self, route: str, answer: str) -> None:
        """Answer every later request to `route` with the declared answer `answer`."""
        self.refused[route] = answer

    def sent(self, route: str) -> list[Any]:
        """What each request to `route` sent: its JSON body, else its query parameters."""
        return list(self._sent[route])

    def served(self, route: str) -> int:
        """How many successful answers `route` gave."""
        return self._served[route]

    def special(self, request: httpx.Request) -> httpx.Response | None:
        return self.auth.special(request)

    def authorized(self, request: httpx.Request) -> bool:
        return self.auth.authorized(request)

    def unauthorized(self) -> httpx.Response:
        return self.answer("unauthorized")

    def answer(self, name: str, detail: str = "") -> httpx.Response:
        """The declared answer `name`, its ``{detail}`` filled in."""
        declared = self.manifest["answers"][name]
        body = dialects.filled(declared.get("json"), detail)
        return httpx.Response(declared.get("status", 200), json=body)

    def route(self, request: httpx.Request) -> httpx.Response:
        for route in self.manifest["routes"]:
            match = dialects.route_match(route, request)
            if match is None:
                continue
            self._sent[route["name"]].append(dialects.sent(request))
            if route["name"] in self.refused:
                return self.answer(self.refused[route["name"]])
            response = self._serve(route, request, match)
            if response.status_code == 200:
                self._served[route["name"]] += 1
            return response
        return self.answer("not_found", request.url.path)

    def _serve(
        self, route: dict[str, Any], request: httpx.Request, match: re.Match[str]
    ) -> httpx.Response:
        if "file" in route:
            return httpx.Response(200, json=fixture(str(self.directory), route["file"]))
        if "jsonrpc" in route:
            recording = fixture(str(self.directory), route["jsonrpc"]["recording"])
            return dialects.jsonrpc(recording, request)
        if "lookup" in route:
            return dialects.lookup(route, request, self.tables)
        paging = route.get("paging") or {}
        if dialects.continues(paging, match):
            return dialects.page(self, paging, request, match, [])
        try:
            records = dialects.select(self, route, request, match)
        except dialects.Refused as refused:
            return self.answer(refused.answer, refused.detail)
        return dialects.page(self, paging, request, match, records)
