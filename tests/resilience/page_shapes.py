"""How the flaky proxy reads the pages of each API it stands in front of.

A ``PageShape`` says which requests ask for a page of a walk, where the page keeps its records
and its declared total, how the walk asks for the next page, and what object a request asks for
(where the answer says what it is, so that a page of another query can be told apart). Shapes
exist for the four demo estate APIs (``DEMO_SHAPES``) and for the vendors whose fakes or server
the proxy fronts in ``test_vendor_fault_schedules`` (``VENDOR_SHAPES``: HubSpot's search with its
token in the body, n8n's executions, Tryton's keyset ``search_read``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any


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

    def json(self) -> Any:
        """The JSON body (None when there is none or it is not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


Next = Callable[[ProxyRequest, dict[str, Any]], ProxyRequest | None]


def dumps(value: Any) -> bytes:
    """JSON as httpx sends it, so that a request the proxy builds is byte for byte the client's."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class PageShape:
    """Where one API keeps its records and total, and how a walk goes on (see the docstring).

    ``keyset``: the next page is asked for after the last row of this one, so an empty page ends
    the walk and a page swapped with the next would skip rows unseen; the proxy neither empties
    nor swaps such pages."""

    path: re.Pattern[str]
    records: str
    next_request: Next
    continuation: Callable[[ProxyRequest], bool]
    total: str | None = None
    query_of: Callable[[ProxyRequest], str | None] = lambda req: None
    is_page: Callable[[ProxyRequest], bool] = lambda req: True
    keyset: bool = False


def _params(req: ProxyRequest) -> dict[str, str]:
    return dict(req.query)


def _token(param: str, member: str) -> Next:
    def next_request(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
        token = body.get(member)
        return req.with_query(**{param: token}) if token else None

    return next_request


def _query_param_continues(*names: str) -> Callable[[ProxyRequest], bool]:
    return lambda req: any(_params(req).get(n) for n in names)


# --- the demo estate -----------------------------------------------------------------------


def _next_crm(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
    url = body.get("nextRecordsUrl")
    if body.get("done") is not False or not isinstance(url, str):
        return None
    return ProxyRequest("GET", "/crm" + url, (), b"", req.headers)


def _crm_object(req: ProxyRequest) -> str | None:
    found = re.search(r"\bFROM\s+(\w+)", _params(req).get("q", ""), re.IGNORECASE)
    return found.group(1) if found else None


def _next_offset(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
    if body.get("hasMore") is not True:
        return None
    query = _params(req)
    limit = int(query.get("limit", "100"))
    return req.with_query(offset=int(query.get("offset", "0")) + limit, limit=limit)


def _suiteql_object(req: ProxyRequest) -> str | None:
    q = str((req.json() or {}).get("q", ""))
    table = re.search(r"\bFROM\s+(\w+)", q, re.IGNORECASE)
    kind = re.search(r"type\s*=\s*'(\w+)'", q)
    return f"{table.group(1)}:{kind.group(1) if kind else ''}" if table else None


DEMO_SHAPES = (
    PageShape(
        re.compile(r"/crm/.*"),
        "records",
        _next_crm,
        lambda req: "/query/" in req.path,
        total="totalSize",
        query_of=_crm_object,
    ),
    PageShape(
        re.compile(r"/psa/.*"),
        "data",
        _token("page_token", "next_page_token"),
        _query_param_continues("page_token"),
    ),
    PageShape(
        re.compile(r"/erp/.*"),
        "items",
        _next_offset,
        lambda req: _params(req).get("offset", "0") != "0",
        total="totalResults",
        query_of=_suiteql_object,
    ),
    PageShape(
        re.compile(r"/ipaas/.*"),
        "jobs",
        _token("cursor", "next_cursor"),
        _query_param_continues("cursor"),
    ),
)


# --- HubSpot, n8n and Tryton ---------------------------------------------------------------


def _next_hubspot(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
    after = (body.get("paging") or {}).get("next", {}).get("after")
    if not after:
        return None
    sent = req.json() or {}
    return replace(req, body=dumps({**sent, "after": after}))


def _tryton_call(req: ProxyRequest) -> dict[str, Any]:
    call = req.json()
    return call if isinstance(call, dict) else {}


KEYSET_ORDER = [["last_modified_at", "ASC"], ["id", "ASC"]]


def _tryton_walk(req: ProxyRequest) -> bool:
    """A stream's keyset `search_read` (related reads are ordered by id alone)."""
    call = _tryton_call(req)
    params = call.get("params")
    return (
        str(call.get("method", "")).endswith(".search_read")
        and isinstance(params, list)
        and len(params) > 3
        and params[3] == KEYSET_ORDER
    )


def _keyset_clause(clause: Any) -> bool:
    return (
        isinstance(clause, list)
        and len(clause) == 3
        and clause[0] == "OR"
        and isinstance(clause[1], list)
        and bool(clause[1])
        and clause[1][0][:2] == ["last_modified_at", ">"]
    )


def _tryton_continues(req: ProxyRequest) -> bool:
    params = _tryton_call(req).get("params") or [[]]
    return any(_keyset_clause(c) for c in params[0])


def _next_keyset(req: ProxyRequest, body: dict[str, Any]) -> ProxyRequest | None:
    """The request after this page's last row, as `collectors.erp_tryton.keyset.KeysetPaginator`."""
    call = _tryton_call(req)
    rows, params = body.get("result"), call["params"]
    if not isinstance(rows, list) or not rows or len(rows) < int(params[2]):
        return None
    last = rows[-1]
    at, ident = last["last_modified_at"], last["id"]
    after = [
        "OR",
        [["last_modified_at", ">", at]],
        [["last_modified_at", "=", at], ["id", ">", ident]],
    ]
    domain = [c for c in params[0] if not _keyset_clause(c)]
    call = {**call, "params": [[*domain, after], *params[1:]]}
    return replace(req, body=dumps(call))


def _tryton_model(req: ProxyRequest) -> str | None:
    method = str(_tryton_call(req).get("method", ""))
    return method.removeprefix("model.").removesuffix(".search_read") or None


VENDOR_SHAPES = (
    PageShape(
        re.compile(r"/crm/v3/objects/\w+/search"),
        "results",
        _next_hubspot,
        lambda req: bool((req.json() or {}).get("after")),
        total="total",
    ),
    PageShape(
        re.compile(r"/api/v1/executions"),
        "data",
        _token("cursor", "nextCursor"),
        _query_param_continues("cursor"),
    ),
    PageShape(
        re.compile(r"/\w+/rpc/"),
        "result",
        _next_keyset,
        _tryton_continues,
        query_of=_tryton_model,
        is_page=_tryton_walk,
        keyset=True,
    ),
)


def shape_of(shapes: tuple[PageShape, ...], req: ProxyRequest) -> PageShape | None:
    """The shape of the walk ``req`` belongs to, if it asks for a page of one."""
    for shape in shapes:
        if shape.path.fullmatch(req.path):
            return shape if shape.is_page(req) else None
    return None
