"""NetSuite-style ERP: ``POST /erp/services/rest/query/v1/suiteql?limit=&offset=``.

Modelled on SuiteQL over REST web services
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html).

Needs header ``Prefer: transient`` and body ``{"q": "<SuiteQL>"}``; ``limit`` 1-1000 (default
100), ``offset`` a multiple of ``limit``. Answer: ``{"links", "count", "hasMore", "items",
"offset", "totalResults"}``; each item is ``{"links": [], <column>: "<string>", ...}`` with every
value a string (datetimes ``2026-01-05T14:03:00Z``, booleans ``T``/``F``; a ``TO_CHAR`` column
as its format model writes it, in UTC) and nulls omitted.
Tables: ``customer``, ``transaction`` (``type`` ``CustInvc``, ``CustCred``, ``CustPymt``) and
``currencyrate``. A request with ``offset > 0`` continues the result set that the same token's
``offset=0`` request for the same query fixed (else the query runs at the current time).
Errors: ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}``.
"""

from __future__ import annotations

import json
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from collectors.demo_estate.apis.base import (
    ApiError,
    Request,
    Response,
    Row,
    Snapshot,
    apply_corruption,
    int_param,
    iso_z,
    parse_iso,
)
from collectors.demo_estate.apis.suiteql import SuiteQlError, SuiteQuery, parse_suiteql, to_char
from collectors.demo_estate.model import Estate, Record, Version

PATH = "/services/rest/query/v1/suiteql"
_TXN = (
    "id",
    "tranid",
    "type",
    "entity",
    "subsidiary",
    "currency",
    "foreigntotal",
    "trandate",
    "createddate",
    "lastmodifieddate",
    "status",
    "custbody_tl_posted_at",
    "custbody_tl_sent_at",
    "custbody_tl_voided_at",
    "custbody_tl_project_code",
    "custbody_tl_billing_type",
    "custbody_tl_milestone_id",
    "custbody_tl_period_end",
    "custbody_tl_replaces",
    "custbody_tl_credits",
    "custbody_tl_applied_invoice",
)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customer": (
        ("customer",),
        (
            "id",
            "entityid",
            "companyname",
            "subsidiary",
            "currency",
            "custentity_tax_id",
            "email",
            "custentity_iban",
            "datecreated",
            "lastmodifieddate",
        ),
    ),
    "transaction": (("CustInvc", "CustCred", "CustPymt"), _TXN),
    "currencyrate": (
        ("currencyrate",),
        (
            "id",
            "basecurrency",
            "transactioncurrency",
            "exchangerate",
            "effectivedate",
            "lastmodifieddate",
        ),
    ),
}
_TIME_COLUMNS = frozenset(("lastmodifieddate", "createddate", "datecreated"))
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_RECENT_QUERIES = 256
_RFC = {
    400: "rfc9110.html#section-15.5.1",
    401: "rfc9110.html#section-15.5.2",
    404: "rfc9110.html#section-15.5.5",
    405: "rfc9110.html#section-15.5.6",
    429: "rfc6585#section-4",
    500: "rfc9110.html#section-15.6.1",
    503: "rfc9110.html#section-15.6.4",
    504: "rfc9110.html#section-15.6.5",
}


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, datetime):
        return iso_z(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


class ErpApi:
    """The simulated NetSuite SuiteQL endpoint."""

    prefix = "/erp"
    codes = {
        400: "INVALID_PARAMETER",
        401: "INVALID_LOGIN",
        404: "NONEXISTENT_ID",
        405: "INVALID_REQUEST",
        429: "CONCURRENCY_LIMIT_EXCEEDED",
        500: "UNEXPECTED_ERROR",
        503: "SERVICE_UNAVAILABLE",
        504: "TIMEOUT",
    }

    def __init__(self, estate: Estate, limit: int = 100, max_limit: int = 1000) -> None:
        self.estate = estate
        self.limit = limit
        self.max_limit = max_limit
        self._recent: OrderedDict[tuple[str, str], Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def error_body(self, status: int, code: str | None, message: str) -> Any:
        """NetSuite's error document."""
        if code is None or code.islower():
            code = self.codes.get(status, "UNEXPECTED_ERROR")
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return {
            "type": f"https://www.rfc-editor.org/rfc/{_RFC.get(status, _RFC[400])}",
            "title": phrase,
            "status": status,
            "o:errorDetails": [{"detail": message, "o:errorCode": code}],
        }

    def handle(self, request: Request) -> Response:
        """Run (or continue) a SuiteQL query."""
        if request.path != PATH:
            raise ApiError(404, "NONEXISTENT_ID", f"Invalid URL: {request.path}")
        if request.method != "POST":
            raise ApiError(405, "INVALID_REQUEST", f"HTTP method {request.method} not allowed")
        if "transient" not in request.header("Prefer").lower():
            raise ApiError(
                400, "INVALID_HEADER", "SuiteQL requests need the header 'Prefer: transient'"
            )
        limit = int_param(request.query, "limit", self.limit, 1, self.max_limit)
        offset = int_param(request.query, "offset", 0, 0, 10**9)
        if offset % limit:
            raise ApiError(400, "INVALID_PARAMETER", "The offset must be a multiple of the limit")
        try:
            q = str(json.loads(request.body or b"{}")["q"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(
                400, "INVALID_PARAMETER", 'The body must be JSON {"q": "<SuiteQL>"}'
            ) from None
        key = (request.token, " ".join(q.split()).lower())
        with self._lock:
            snapshot = self._recent.get(key) if offset else None
        if snapshot is None:
            snapshot = self._run(q, request.now)
            with self._lock:
                self._recent[key] = snapshot
                self._recent.move_to_end(key)
                while len(self._recent) > _RECENT_QUERIES:
                    self._recent.popitem(last=False)
        return self._page(snapshot, limit, offset)

    def _run(self, q: str, now: datetime) -> Snapshot:
        try:
            query = parse_suiteql(q)
        except SuiteQlError as exc:
            raise ApiError(400, "INVALID_PARAMETER", str(exc)) from None
        if query.table not in TABLES:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"Invalid search query. Search error "
                f"occurred: Record '{query.table}' was not found.",
            )
        kinds, columns = TABLES[query.table]
        aliases = {alias: column for alias, column, _ in query.to_char}
        for name in (
            [c.column for c in query.where]
            + [o for o, _ in query.order_by if o not in aliases]
            + [aliases.get(c, c) for c in query.columns or ()]
        ):
            if name not in columns:
                raise ApiError(
                    400,
                    "INVALID_PARAMETER",
                    f"Invalid search query. Search error "
                    f"occurred: Field '{name}' for record '{query.table}' was not "
                    "found.",
                )
        rows: list[Row] = []
        for kind in kinds:
            rows += [(r, v) for r, v in self.estate.visible(kind, now) if _matches(query, r, v)]
        rows.sort(key=lambda rv: _sort_id(rv[0].id))
        for name, desc in reversed(query.order_by):
            rows.sort(key=_sort_key(name), reverse=desc)
        return Snapshot(rows, now, query)

    def _page(self, snapshot: Snapshot, limit: int, offset: int) -> Response:
        query: SuiteQuery = snapshot.extra
        chunk = snapshot.rows[offset : offset + limit]
        items = [self._render(query, r, v) for r, v in chunk]
        total = len(snapshot.rows)
        has_more = offset + limit < total
        links = [{"rel": "self", "href": _href(limit, offset)}]
        if offset:
            links.append({"rel": "previous", "href": _href(limit, max(0, offset - limit))})
        if has_more:
            links.append({"rel": "next", "href": _href(limit, offset + limit)})
        return Response(
            200,
            {
                "links": links,
                "count": len(items),
                "hasMore": has_more,
                "items": items,
                "offset": offset,
                "totalResults": total,
            },
        )

    def _render(self, query: SuiteQuery, record: Record, version: Version) -> dict[str, Any]:
        columns = query.columns or TABLES[query.table][1]
        formats = {alias: (column, mask) for alias, column, mask in query.to_char}
        out: dict[str, Any] = {"links": []}
        for name in columns:
            column, mask = formats.get(name, (name, None))
            value = _column(record, version, column)
            if value is None:
                continue
            if mask is None:
                out[name] = _string(value)
            elif isinstance(value, date):  # a datetime is a date too
                out[name] = to_char(value, mask)
            else:
                raise ApiError(400, "INVALID_PARAMETER", f"TO_CHAR of {column}: not a date")
        return apply_corruption(self.estate, record, out)


def _href(limit: int, offset: int) -> str:
    return f"/services/rest/query/v1/suiteql?{urlencode({'limit': limit, 'offset': offset})}"


def _column(record: Record, version: Version, name: str) -> Any:
    if name == "lastmodifieddate":
        return version.valid_from
    if name == "type":
        return record.kind
    return version.state.get(name)


def _sort_id(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def _sort_key(name: str) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        return _sortable(name, _column(row[0], row[1], name))

    return key


def _sortable(name: str, value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    if name == "id":
        return (0, _sort_id(str(value)))
    return (0, value)


def _matches(query: SuiteQuery, record: Record, version: Version) -> bool:
    for cond in query.where:
        have = _column(record, version, cond.column)
        if have is None:
            return False
        want: Any = cond.value
        if cond.column in _TIME_COLUMNS:
            try:
                want = parse_iso(cond.value)
            except ValueError:
                raise ApiError(
                    400, "INVALID_PARAMETER", f"Invalid date value '{cond.value}' for {cond.column}"
                ) from None
        elif not isinstance(have, str):
            have = _string(have)
        if not _OPS[cond.op](have, want):
            return False
    return True
