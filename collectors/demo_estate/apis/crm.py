"""Salesforce-style CRM: ``GET /crm/services/data/v60.0/query?q=<SOQL>``.

Modelled on the Salesforce REST query resource
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm).

The instance URL is ``<base>/crm``. A query answers ``{"totalSize", "done", "nextRecordsUrl"?,
"records"}``; ``nextRecordsUrl`` (``/services/data/v60.0/query/01g...-200``) is relative to the
instance URL, as in Salesforce, and continues the result set fixed at query time. Page size is
200 unless ``Sforce-Query-Options: batchSize=N`` (200-2000) says otherwise. Datetimes look like
``2026-01-05T14:03:00.000+0000``; errors are ``[{"message", "errorCode"}]``.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from datetime import datetime
from typing import Any

from collectors.demo_estate.apis.base import (
    ApiError,
    Request,
    Response,
    Row,
    Snapshot,
    SnapshotStore,
    apply_corruption,
    plain,
)
from collectors.demo_estate.apis.soql import SoqlError, parse_soql
from collectors.demo_estate.model import Estate, Record, Version

API_ROOT = "/services/data/v60.0"
_MODIFIED = ("LastModifiedDate", "SystemModstamp")
FIELDS: dict[str, tuple[str, ...]] = {
    "User": ("Id", "Name", "Username", "IsActive", "CreatedDate", *_MODIFIED),
    "Account": (
        "Id",
        "Name",
        "BillingCountry",
        "Legal_Entity__c",
        "Customer_Number__c",
        "Industry",
        "CreatedDate",
        *_MODIFIED,
    ),
    "Opportunity": (
        "Id",
        "Name",
        "AccountId",
        "StageName",
        "Probability",
        "Amount",
        "CurrencyIsoCode",
        "CloseDate",
        "Practice__c",
        "Legal_Entity__c",
        "OwnerId",
        "No_Project_Required__c",
        "CreatedDate",
        *_MODIFIED,
    ),
    "OpportunityFieldHistory": (
        "Id",
        "OpportunityId",
        "Field",
        "OldValue",
        "NewValue",
        "CreatedDate",
        "CreatedById",
    ),
    "Contract": (
        "Id",
        "AccountId",
        "Opportunity__c",
        "ContractNumber",
        "Status",
        "Signed_At__c",
        "CreatedDate",
        *_MODIFIED,
    ),
    "Change_Order__c": (
        "Id",
        "Name",
        "Opportunity__c",
        "Project_Code__c",
        "Amount__c",
        "CurrencyIsoCode",
        "Status__c",
        "Approved_At__c",
        "CreatedDate",
        *_MODIFIED,
    ),
}
DATETIME_FIELDS = frozenset(
    ("CreatedDate", "LastModifiedDate", "SystemModstamp", "Signed_At__c", "Approved_At__c")
)
RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Opportunity": {"Account": ("AccountId", "Account"), "Owner": ("OwnerId", "User")},
    "Contract": {
        "Account": ("AccountId", "Account"),
        "Opportunity__r": ("Opportunity__c", "Opportunity"),
    },
    "OpportunityFieldHistory": {
        "Opportunity": ("OpportunityId", "Opportunity"),
        "CreatedBy": ("CreatedById", "User"),
    },
    "Change_Order__c": {"Opportunity__r": ("Opportunity__c", "Opportunity")},
}
_CONTINUE = re.compile(rf"^{re.escape(API_ROOT)}/query/(?P<loc>01g\w+)-(?P<offset>\d+)$")
_ALNUM = string.ascii_letters + string.digits
_OPS = {">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__", "=": "__eq__"}
Path = tuple[str, ...]


def crm_datetime(t: datetime) -> str:
    """Salesforce's ``2026-01-05T14:03:00.000+0000``."""
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}+0000"


def _fmt(value: Any) -> Any:
    return plain(value, dt=crm_datetime, decimal=float)


class CrmApi:
    """The simulated Salesforce REST query API."""

    prefix = "/crm"
    codes = {
        400: "MALFORMED_QUERY",
        401: "INVALID_SESSION_ID",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        429: "REQUEST_LIMIT_EXCEEDED",
        500: "UNKNOWN_EXCEPTION",
        503: "SERVER_UNAVAILABLE",
        504: "REQUEST_TIMEOUT",
    }

    def __init__(self, estate: Estate, batch_size: int = 200) -> None:
        self.estate = estate
        self.batch_size = batch_size
        self.snapshots = SnapshotStore()

    def error_body(self, status: int, code: str | None, message: str) -> Any:
        """``[{"message": ..., "errorCode": ...}]``."""
        return [{"message": message, "errorCode": code or self.codes.get(status, "UNKNOWN")}]

    def handle(self, request: Request) -> Response:
        """A new query, or the next page of one."""
        if request.method != "GET":
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed")
        size = self._batch_size(request)
        if request.path == f"{API_ROOT}/query":
            q = request.query.get("q")
            if not q:
                raise ApiError(400, "MALFORMED_QUERY", "missing required parameter q")
            snapshot = self._run(q, request.now)
            return self._page(snapshot, 0, size)
        m = _CONTINUE.match(request.path)
        if m:
            found = self.snapshots.resume(m["loc"])
            offset = int(m["offset"])
            if found is None or offset > len(found[0].rows):
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(found[0], offset, size)
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _batch_size(self, request: Request) -> int:
        options = request.header("Sforce-Query-Options")
        m = re.search(r"batchSize\s*=\s*(\d+)", options)
        return max(200, min(2000, int(m.group(1)))) if m else self.batch_size

    def _resolve(self, sobject: str, name: str) -> Path:
        parts = name.split(".")
        lookup = {f.lower(): f for f in FIELDS[sobject]}
        if len(parts) == 1 and parts[0].lower() in lookup:
            return (lookup[parts[0].lower()],)
        if len(parts) == 2:
            rels = {r.lower(): r for r in RELATIONSHIPS.get(sobject, {})}
            rel = rels.get(parts[0].lower())
            if rel is not None:
                target = RELATIONSHIPS[sobject][rel][1]
                target_fields = {f.lower(): f for f in FIELDS[target]}
                if parts[1].lower() in target_fields:
                    return rel, target_fields[parts[1].lower()]
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{sobject}'. "
            "If you are attempting to use a custom field, be sure to append the "
            "'__c' after the custom field name.",
        )

    def _run(self, q: str, now: datetime) -> Snapshot:
        try:
            query = parse_soql(q)
        except SoqlError as exc:
            raise ApiError(400, exc.code, str(exc)) from None
        sobject = next((o for o in FIELDS if o.lower() == query.sobject.lower()), None)
        if sobject is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")
        paths = [self._resolve(sobject, f) for f in query.fields]
        if len(set(paths)) != len(paths):
            raise ApiError(400, "MALFORMED_QUERY", "duplicate field selected")
        conditions = []
        for cond in query.where:
            path = self._resolve(sobject, cond.field)
            if len(path) != 1 or path[0] not in DATETIME_FIELDS:
                raise ApiError(
                    400, "INVALID_FIELD", f"field '{cond.field}' cannot be compared with a dateTime"
                )
            conditions.append((path[0], _OPS[cond.op], cond.value))
        rows: list[Row] = []
        for record, version in self.estate.visible(sobject, now):
            ok = True
            for name, op, value in conditions:
                have = self._value(record, version, (name,), now)
                if have is None or not getattr(have, op)(value):
                    ok = False
                    break
            if ok:
                rows.append((record, version))
        rows.sort(key=lambda r: r[0].id)
        for name, desc in reversed(query.order_by):
            rows.sort(key=self._sort_key(self._resolve(sobject, name), now), reverse=desc)
        if query.limit is not None:
            rows = rows[: query.limit]
        return Snapshot(rows, now, (sobject, paths))

    def _sort_key(self, path: Path, at: datetime) -> Callable[[Row], tuple[int, Any]]:
        def key(row: Row) -> tuple[int, Any]:
            return _nulls_first(self._value(row[0], row[1], path, at))

        return key

    def _value(self, record: Record, version: Version, path: Path, at: datetime) -> Any:
        if len(path) == 1:
            return version.valid_from if path[0] in _MODIFIED else version.state.get(path[0])
        related = self._related(record.kind, version, path[0], at)
        if related is None:
            return None
        return self._value(related[0], related[1], path[1:], at)

    def _related(self, sobject: str, version: Version, rel: str, at: datetime) -> Row | None:
        id_field, target = RELATIONSHIPS[sobject][rel]
        target_id = version.state.get(id_field)
        if not target_id:
            return None
        try:
            record = self.estate.get(target, target_id)
        except KeyError:
            return None
        found = record.at(at)
        return None if found is None else (record, found)

    def _page(self, snapshot: Snapshot, offset: int, size: int) -> Response:
        sobject, paths = snapshot.extra
        chunk = snapshot.rows[offset : offset + size]
        records = [self._render(sobject, paths, r, v, snapshot.at) for r, v in chunk]
        done = offset + size >= len(snapshot.rows)
        body: dict[str, Any] = {"totalSize": len(snapshot.rows), "done": done}
        if not done:
            if snapshot.key is None:
                snapshot.key = self.snapshots.issue(snapshot, 0, _locator)
            locator = snapshot.key
            body["nextRecordsUrl"] = f"{API_ROOT}/query/{locator}-{offset + size}"
        body["records"] = records
        return Response(200, body)

    def _render(
        self,
        sobject: str,
        paths: list[Path],
        record: Record,
        version: Version,
        at: datetime,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": _attributes(sobject, record.id)}
        for path in paths:
            if len(path) == 1:
                out[path[0]] = _fmt(self._value(record, version, path, at))
                continue
            related = self._related(sobject, version, path[0], at)
            if related is None:
                out[path[0]] = None
                continue
            nested = out.get(path[0]) or {"attributes": _attributes(related[0].kind, related[0].id)}
            nested[path[1]] = _fmt(self._value(related[0], related[1], path[1:], at))
            out[path[0]] = nested
        return apply_corruption(self.estate, record, out, only_present=True)


def _attributes(sobject: str, record_id: str) -> dict[str, str]:
    return {"type": sobject, "url": f"{API_ROOT}/sobjects/{sobject}/{record_id}"}


def _locator() -> str:
    return "01g" + "".join(secrets.choice(_ALNUM) for _ in range(15))


def _nulls_first(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)
