"""iPaaS job log: ``GET /ipaas/api/v1/jobs``.

Query: ``updated_after`` (ISO-8601, exclusive: ``updated_at > updated_after``), ``limit`` (1-500,
default 100), ``cursor`` (opaque, from the previous page; it carries the query). Answer:
``{"jobs": [...], "next_cursor": "<opaque>" | null}`` sorted by ``(updated_at, id)`` from a result
set fixed at query time. Datetimes carry milliseconds (``2026-01-05T14:03:00.123Z``). Errors are
``{"status": <int>, "error": "<code>", "message": "..."}``.
"""

from __future__ import annotations

from typing import Any

from collectors.demo_estate.apis.base import (
    ApiError,
    Request,
    Response,
    Row,
    Snapshot,
    SnapshotStore,
    apply_corruption,
    int_param,
    iso_z,
    plain,
    random_token,
    time_param,
)
from collectors.demo_estate.model import Estate, Record, Version

PATH = "/api/v1/jobs"


def _ms(t: Any) -> str:
    return iso_z(t, millis=True)


class IpaasApi:
    """The simulated integration platform's job log."""

    prefix = "/ipaas"
    codes = {
        400: "bad_request",
        401: "unauthorized",
        404: "not_found",
        405: "method_not_allowed",
        429: "too_many_requests",
        500: "internal_error",
        503: "service_unavailable",
        504: "gateway_timeout",
    }

    def __init__(self, estate: Estate, limit: int = 100, max_limit: int = 500) -> None:
        self.estate = estate
        self.limit = limit
        self.max_limit = max_limit
        self.snapshots = SnapshotStore()

    def error_body(self, status: int, code: str | None, message: str) -> Any:
        """``{"status": ..., "error": ..., "message": ...}``."""
        if code == "invalid_parameter":
            code = "bad_request"
        return {
            "status": status,
            "error": code or self.codes.get(status, "error"),
            "message": message,
        }

    def handle(self, request: Request) -> Response:
        """One page of jobs."""
        if request.path != PATH:
            raise ApiError(404, "not_found", f"no such resource: {request.path}")
        if request.method != "GET":
            raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")
        cursor = request.query.get("cursor")
        if cursor:
            found = self.snapshots.resume(cursor)
            if found is None:
                raise ApiError(400, "invalid_cursor", "cursor is invalid or has expired")
            snapshot, offset = found
            size = snapshot.extra
        else:
            size = int_param(request.query, "limit", self.limit, 1, self.max_limit)
            after = time_param(request.query, "updated_after")
            rows: list[Row] = [
                (r, v)
                for r, v in self.estate.visible("job", request.now)
                if after is None or v.valid_from > after
            ]
            rows.sort(key=lambda rv: (rv[1].valid_from, rv[0].id))
            snapshot, offset = Snapshot(rows, request.now, size), 0
        chunk = snapshot.rows[offset : offset + size]
        next_cursor = None
        if offset + size < len(snapshot.rows):
            next_cursor = self.snapshots.issue(snapshot, offset + size, random_token)
        jobs = [self._render(r, v) for r, v in chunk]
        return Response(200, {"jobs": jobs, "next_cursor": next_cursor})

    def _render(self, record: Record, version: Version) -> dict[str, Any]:
        out: dict[str, Any] = plain(dict(version.state), dt=_ms, decimal=str)
        out["updated_at"] = _ms(version.valid_from)
        return apply_corruption(self.estate, record, out)
