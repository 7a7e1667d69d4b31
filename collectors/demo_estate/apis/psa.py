"""PSA REST: ``GET /psa/api/v1/{projects|time-entries|expenses|milestones}``.

Query: ``modified_since`` (ISO-8601, inclusive: ``updated_at >= modified_since``),
``page_size`` (1-500, default 100), ``page_token`` (opaque, from the previous page; it carries the
query, so other parameters are ignored with it). Answer: ``{"data": [...], "next_page_token":
"<opaque>" | null}`` sorted by ``(updated_at, id)``, from a result set fixed at query time.
Datetimes are ``2026-01-05T14:03:00Z``; money, hours and rates are decimal strings; errors are
``{"error": {"code", "message"}}``.
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
from collectors.demo_estate.model import Estate

RESOURCES = {
    "projects": "project",
    "time-entries": "time_entry",
    "expenses": "expense",
    "milestones": "milestone",
}
BASE = "/api/v1/"


class PsaApi:
    """The simulated PSA REST API."""

    prefix = "/psa"
    codes = {
        400: "invalid_parameter",
        401: "unauthorized",
        404: "not_found",
        405: "method_not_allowed",
        429: "rate_limited",
        500: "internal_error",
        503: "unavailable",
        504: "gateway_timeout",
    }

    def __init__(self, estate: Estate, page_size: int = 100, max_page_size: int = 500) -> None:
        self.estate = estate
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.snapshots = SnapshotStore()

    def error_body(self, status: int, code: str | None, message: str) -> Any:
        """``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": code or self.codes.get(status, "error"), "message": message}}

    def handle(self, request: Request) -> Response:
        """One page of a resource."""
        name = request.path.removeprefix(BASE) if request.path.startswith(BASE) else None
        kind = RESOURCES.get(name or "")
        if kind is None:
            raise ApiError(404, "not_found", f"no such resource: {request.path}")
        if request.method != "GET":
            raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")
        token = request.query.get("page_token")
        if token:
            found = self.snapshots.resume(token)
            if found is None or found[0].extra[0] != kind:
                raise ApiError(400, "invalid_page_token", "page_token is invalid or has expired")
            snapshot, offset = found
            size = snapshot.extra[1]
        else:
            size = int_param(request.query, "page_size", self.page_size, 1, self.max_page_size)
            since = time_param(request.query, "modified_since")
            rows: list[Row] = [
                (r, v)
                for r, v in self.estate.visible(kind, request.now)
                if since is None or v.valid_from >= since
            ]
            rows.sort(key=lambda rv: (rv[1].valid_from, rv[0].id))
            snapshot, offset = Snapshot(rows, request.now, (kind, size)), 0
        chunk = snapshot.rows[offset : offset + size]
        next_token = None
        if offset + size < len(snapshot.rows):
            next_token = self.snapshots.issue(snapshot, offset + size, random_token)
        data = [self._render(r, v) for r, v in chunk]
        return Response(200, {"data": data, "next_page_token": next_token})

    def _render(self, record: Any, version: Any) -> dict[str, Any]:
        out: dict[str, Any] = plain(dict(version.state), dt=iso_z, decimal=str)
        out["updated_at"] = iso_z(version.valid_from)
        return apply_corruption(self.estate, record, out)
