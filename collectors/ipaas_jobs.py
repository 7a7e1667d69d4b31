"""Integration-platform job log (the demo estate's iPaaS): one sync attempt per job.

Endpoint: `GET /api/v1/jobs?updated_after=<ISO>&limit=<≤500>&cursor=<opaque>` →
`{"jobs": [...], "next_cursor": …}`, sorted by (`updated_at`, `id`), `updated_after` inclusive.
A retry is a new job with `retry_of` and a higher `attempt`; `correlation_id` is the trace key
shared by all attempts for one business record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp, parse_timestamp
from collectors.errors import MappingError
from collectors.mapping import required_text, text
from collectors.page_checks import PageContract
from collectors.paging import PageTokenPaginator, iter_records
from collectors.spec import ConnectorSpec, Context
from store.canonical import Batch, ObjectType, SyncAttemptRow, SyncStatus
from store.signatures import classify, signature

SYSTEM = "ipaas"
STATUS = {"success": SyncStatus.SUCCESS, "error": SyncStatus.FAILED, "running": SyncStatus.RUNNING}
RECORD_TYPES: dict[tuple[str, str], ObjectType] = {
    ("crm", "opportunity"): ObjectType.DEAL,
    ("crm", "account"): ObjectType.ACCOUNT,
    ("psa", "project"): ObjectType.PROJECT,
    ("psa", "time_entry"): ObjectType.WORK_ITEM,
    ("psa", "expense"): ObjectType.WORK_ITEM,
    ("psa", "milestone"): ObjectType.MILESTONE,
    ("erp", "invoice"): ObjectType.INVOICE,
    ("erp", "customer"): ObjectType.ACCOUNT,
    ("erp", "payment"): ObjectType.PAYMENT,
}


def _int(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MappingError(f"{field} is not a whole number: {value!r:.40}")
    try:
        return int(value)
    except ValueError as exc:
        raise MappingError(f"{field} is not a whole number: {value!r:.40}") from exc


def map_job(r: Record) -> Batch:
    """One job → one sync attempt, with its error class, signature and business record."""
    status = STATUS.get(str(r.get("status")))
    if status is None:
        raise MappingError(f"status is not one of {sorted(STATUS)}: {r.get('status')!r:.40}")
    error = r.get("error") or {}
    if not isinstance(error, dict):
        raise MappingError("error should be an object")
    message = text(error, "message")
    record = r.get("record") or {}
    if not isinstance(record, dict):
        raise MappingError("record should be an object")
    system, kind, key = text(record, "system"), text(record, "type"), text(record, "id")
    object_type = RECORD_TYPES.get((system or "", kind or ""))
    payload = r.get("payload")
    failed = status is SyncStatus.FAILED
    return Batch(
        sync_attempts=[
            SyncAttemptRow(
                source_system=SYSTEM,
                source_key=required_text(r, "id"),
                integration=required_text(r, "integration"),
                flow=required_text(r, "flow"),
                status=status,
                started_at=parse_timestamp(r.get("started_at"), "started_at"),
                direction=text(r, "direction"),
                attempt_number=_int(r.get("attempt"), "attempt") or 1,
                retry_of_key=text(r, "retry_of"),
                error_class=classify(
                    text(error, "code"),
                    _int(error.get("http_status"), "error.http_status"),
                    message,
                )
                if failed
                else None,
                error_message=message,
                error_signature=signature(message),
                trace_key=text(r, "correlation_id"),
                duration_ms=_int(r.get("duration_ms"), "duration_ms"),
                object_system=system if object_type else None,
                object_type=object_type,
                object_key=key if object_type else None,
                payload=payload if isinstance(payload, dict) else None,
                source_updated_at=optional_timestamp(r, "updated_at"),
            )
        ]
    )


@dataclass(frozen=True)
class JobStream:
    """The job log, read by `updated_after`."""

    name: str = "jobs"
    path: str = "api/v1/jobs"
    limit: int = 200
    primary_key: str = "id"
    cursor_field: str = "updated_at"
    sorted_by_cursor: bool = True
    lookback: timedelta = timedelta(minutes=5)

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        params: dict[str, str | int] = {"limit": self.limit}
        if window.since is not None:
            params["updated_after"] = window.since.astimezone(UTC).isoformat()
        paginator = PageTokenPaginator("next_cursor", "cursor")
        pages = PageContract(
            self.name,
            "jobs",
            key=self.primary_key,
            version=self.cursor_field,
            limit=self.limit,
            floor=(self.cursor_field, window.since) if window.since is not None else None,
        )
        yield from iter_records(client, paginator, "GET", self.path, pages, params=params)

    def map(self, record: Record) -> Batch:
        return map_job(record)


def collector(
    name: str,
    base_url: str,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
    limit: int = 200,
) -> HttpCollector:
    """An iPaaS job-log collector."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=[JobStream(limit=limit)],
        base_url=base_url.rstrip("/") + "/",
        auth=auth,
        transport=transport,
    )


def _build(c: Context) -> HttpCollector:
    return collector(c.name, c.demo_url(), c.demo_auth(), transport=c.transport)


SPEC = ConnectorSpec(
    name="demo_ipaas",
    kind="demo",
    description="Demo iPaaS job log",
    build=_build,
    streams=("jobs",),
    path="ipaas",
)
