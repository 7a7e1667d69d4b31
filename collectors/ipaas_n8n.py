"""n8n executions → sync attempts, with error messages, the failing node and retry lineage.

API: n8n public API v1, https://docs.n8n.io/api/api-reference/ — ``GET /api/v1/executions
?includeData=true&limit=<≤250>&cursor=<nextCursor>`` → ``{"data": [...], "nextCursor": …}`` and
``GET /api/v1/workflows`` for the workflows' names; header ``X-N8N-API-KEY``.

Order: newest first, and the list has no time filter. So the stream polls by the highest
numeric execution id it has stored (ids are strings of digits), with an overlap: it pages from
the newest until a page holds nothing newer than that id minus ``overlap`` and saves the new
high-water id only when the walk completed (the cursor never moves back). The overlap re-reads
executions that were still running at the last poll; one that runs longer than ``overlap``
executions are started is read again only by a backfill. A backfill (``--since``) pages on
until the executions started before that time.

A retry is a new execution with ``mode: "retry"`` and ``retryOf`` (the execution it retries);
the retried one gets ``retrySuccessId`` only when a retry succeeds. The trace key of every attempt
is the first execution of its retry chain (or a configured ``customData`` member), its attempt
number the chain's length; the cursor keeps the lineage of recent retries so that chains that
span polls resolve, and retries whose parent is read later in the same walk are held back and
stored once, with the resolved lineage, at its end. With ``includeData`` the error is
``data.resultData.error`` (``message``; an HTTP node's upstream text in ``description`` and
status in ``httpCode``, a string) and the failing node ``data.resultData.lastNodeExecuted``. No
documented rate limit; 429/5xx are retried by the shared client.

A business record: a retry chain is one run of a workflow, but the record it carries (a customer,
a deal) may be sent again by a fresh run (a new webhook call after someone fixed the data).
``trace_key_path`` names where the record's key is in the execution, so that every run for it
shares one trace key and a later success resolves the earlier failures. A path starting with
``trigger`` reads the first item the workflow's trigger node put out (with ``includeData``:
``data.resultData.runData[<node>][0].data.main[0][0].json``, the trigger being the node that
ran first, by ``executionIndex``, else ``startTime``): ``trigger.body[0].customerId`` for a
webhook called with a JSON list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from collectors.base import (
    Cursor,
    FetchWindow,
    HttpCollector,
    Record,
    optional_timestamp,
    parse_timestamp,
)
from collectors.errors import MappingError
from collectors.mapping import nested, parse_path, required_text, text
from collectors.page_checks import PageContract
from collectors.paging import PageTokenPaginator, iter_records
from store.canonical import Batch, ObjectType, SyncAttemptRow, SyncStatus
from store.signatures import classify, signature

SYSTEM = "n8n"
MAX_LIMIT = 250
LINEAGE_KEPT = 1000  # retries whose lineage the cursor remembers
MAX_ID = 2**63 - 1
STATUS = {
    "success": SyncStatus.SUCCESS,
    "error": SyncStatus.FAILED,
    "crashed": SyncStatus.FAILED,
    "canceled": SyncStatus.FAILED,
    "running": SyncStatus.RUNNING,
    "new": SyncStatus.RUNNING,
    "waiting": SyncStatus.RUNNING,
}
WORKFLOW_NAME = "_workflow_name"
TRACE_ROOT = "_trace_root"
ATTEMPT = "_attempt"


@dataclass(frozen=True)
class N8nConfig:
    """Where n8n runs and how its executions map to integrations, flows and business records.

    ``integrations`` maps a workflow's name or id to the integration it belongs to (default
    ``integration``); the flow is the workflow's name. ``trace_key_path`` and ``object_key_path``
    are dotted paths into an execution (e.g. ``customData.opportunity_id``: execution custom
    data that a workflow sets) naming the business record's trace key and its id in
    ``object_system``/``object_type``.
    """

    base_url: str
    limit: int = 100
    overlap: int = 200
    integration: str = "n8n"
    integrations: Mapping[str, str] = field(default_factory=dict)
    direction: str | None = None
    trace_key_path: str | None = None
    object_key_path: str | None = None
    object_system: str | None = None
    object_type: ObjectType | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit: n8n pages hold 1 to {MAX_LIMIT} executions, not {self.limit}")
        if self.overlap < 0:
            raise ValueError(f"overlap cannot be negative, not {self.overlap}")
        for name in ("trace_key_path", "object_key_path"):
            path = getattr(self, name)
            if path is not None:
                try:
                    parse_path(path)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        if self.object_key_path and not (self.object_system and self.object_type):
            raise ValueError("object_key_path needs object_system and object_type too")


def api_root(base_url: str) -> str:
    """``https://n8n.example.com/`` from that URL with or without the ``/api/v1`` n8n's settings
    page shows (and slashes); the streams add ``api/v1/…``."""
    root = base_url.strip().rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if root.lower().endswith(suffix):
            root = root[: -len(suffix)]
            break
    return root.rstrip("/") + "/"


def _number(value: Any) -> int | None:
    """An execution id as a number (n8n sends strings of digits), or None (also past the
    largest id a database counter holds: taken as the high-water id it would hide the rest)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_ID:
        return value
    return None


def _status(r: Record) -> SyncStatus:
    raw = r.get("status")
    if raw is None:  # older n8n: only `finished`
        if r.get("finished") is True:
            return SyncStatus.SUCCESS
        return SyncStatus.FAILED if r.get("stoppedAt") else SyncStatus.RUNNING
    status = STATUS.get(str(raw))
    if status is None:
        raise MappingError(f"status is not one of {sorted(STATUS)}: {raw!r:.40}")
    return status


def _http_code(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def map_execution(r: Record, config: N8nConfig) -> Batch:
    """One execution → one sync attempt (error class, signature, failing node, lineage)."""
    key = required_text(r, "id")
    if _number(key) is None:
        raise MappingError(f"id is not an n8n execution id (digits): {key!r:.40}")
    status = _status(r)
    started = parse_timestamp(r.get("startedAt"), "startedAt")
    stopped = optional_timestamp(r, "stoppedAt")
    error = nested(r, "data.resultData.error") or {}
    if not isinstance(error, dict):
        raise MappingError("data.resultData.error should be an object")
    message, description = text(error, "message"), text(error, "description")
    if status is SyncStatus.FAILED and message is None:
        message = "The execution was canceled" if r.get("status") == "canceled" else None
    full = f"{message}: {description}" if message and description else message or description
    http_code = _http_code(error.get("httpCode"))
    workflow_id = text(r, "workflowId")
    workflow = text(r, WORKFLOW_NAME) or workflow_id
    if workflow is None:
        raise MappingError("workflowId is missing")
    integration = (
        config.integrations.get(workflow)
        or (config.integrations.get(workflow_id) if workflow_id else None)
        or config.integration
    )
    retry_of = text(r, "retryOf") if r.get("mode") == "retry" or r.get("retryOf") else None
    attempt = r.get(ATTEMPT) or (2 if retry_of else 1)
    trace = _path_text(r, config.trace_key_path) or text(r, TRACE_ROOT) or retry_of or key
    object_key = _path_text(r, config.object_key_path)
    has_object = object_key and config.object_system and config.object_type
    failed = status is SyncStatus.FAILED
    return Batch(
        sync_attempts=[
            SyncAttemptRow(
                source_system=SYSTEM,
                source_key=key,
                integration=integration,
                flow=workflow,
                status=status,
                started_at=started,
                direction=config.direction,
                attempt_number=int(attempt),
                retry_of_key=retry_of,
                error_class=classify(text(error, "code"), http_code, full) if failed else None,
                error_message=full,
                error_signature=signature(full),
                trace_key=trace,
                duration_ms=int((stopped - started).total_seconds() * 1000) if stopped else None,
                object_system=config.object_system if has_object else None,
                object_type=config.object_type if has_object else None,
                object_key=object_key if has_object else None,
                payload={
                    "workflow_id": workflow_id,
                    "mode": text(r, "mode"),
                    "failed_node": text(nested(r, "data.resultData") or {}, "lastNodeExecuted")
                    if failed
                    else None,
                    "http_code": http_code,
                    "retry_success_id": text(r, "retrySuccessId"),
                },
                source_updated_at=stopped or started,
            )
        ]
    )


TRIGGER = "trigger"


def _path_text(r: Record, path: str | None) -> str | None:
    """The text at `path` in the execution (`trigger…`: in its trigger's first item)."""
    if not path:
        return None
    head = parse_path(path)[0]
    if head == TRIGGER and TRIGGER not in r:
        item = trigger_item(r)
        rest = path[len(TRIGGER) :].lstrip(".")
        value = (item if not rest else nested(item, rest)) if item is not None else None
    else:
        value = nested(r, path)
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def trigger_item(r: Record) -> Record | None:
    """The ``json`` of the first item the workflow's first node (its trigger) put out."""
    run_data = nested(r, "data.resultData.runData")
    if not isinstance(run_data, dict):
        return None
    first: tuple[float, float, str] | None = None
    runs: dict[str, Record] = {}
    for node, node_runs in run_data.items():
        if not (isinstance(node_runs, list) and node_runs and isinstance(node_runs[0], dict)):
            continue
        run = runs[str(node)] = node_runs[0]
        index, started = run.get("executionIndex"), run.get("startTime")
        order = (
            float(index) if isinstance(index, int | float) else float("inf"),
            float(started) if isinstance(started, int | float) else float("inf"),
            str(node),
        )
        first = order if first is None or order < first else first
    if first is None:
        return None
    item = nested(runs[first[2]], "data.main[0][0].json")
    return item if isinstance(item, dict) else None


@dataclass(frozen=True)
class ExecutionStream:
    """Executions, newest first, polled by the high-water execution id with an overlap."""

    config: N8nConfig
    name: str = "executions"
    primary_key: str = "id"
    cursor_field: str = "startedAt"
    sorted_by_cursor: bool = False
    lookback: timedelta = timedelta(0)

    def workflow_names(self, client: httpx.Client) -> dict[str, str]:
        """Workflow id → name, from ``GET /api/v1/workflows``."""
        names: dict[str, str] = {}
        paginator = PageTokenPaginator("nextCursor", "cursor")
        contract = PageContract("workflows", "data", key="id", limit=MAX_LIMIT)
        pages = iter_records(
            client, paginator, "GET", "api/v1/workflows", contract, params={"limit": MAX_LIMIT}
        )
        for data in pages:
            for workflow in data:
                if isinstance(workflow, dict) and workflow.get("id") and workflow.get("name"):
                    names[str(workflow["id"])] = str(workflow["name"])
        return names

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        for page, _ in self.fetch_pages(client, window, None):
            yield page

    def fetch_pages(
        self, client: httpx.Client, window: FetchWindow, saved: Cursor | None
    ) -> Iterator[tuple[list[Record], Cursor | None]]:
        saved = saved or {}
        high = _number(saved.get("last_id"))
        floor = high - self.config.overlap if high is not None else None
        lineage = _lineage(saved.get("lineage"))
        names = self.workflow_names(client)
        top, top_started = high, saved.get("since")
        held: dict[int, Record] = {}  # retries read before their parents: stored once, at the end
        params = {"limit": self.config.limit, "includeData": "true"}
        paginator = PageTokenPaginator("nextCursor", "cursor")
        pages = PageContract(self.name, "data", key=self.primary_key, limit=self.config.limit)
        for data in iter_records(
            client, paginator, "GET", "api/v1/executions", pages, params=params
        ):
            page: list[Record] = []
            wanted = False
            for execution in data:
                if not isinstance(execution, dict):
                    page.append(execution)
                    continue
                number = _number(execution.get("id"))
                if number is not None and not self._wanted(execution, number, floor, window):
                    continue
                wanted = wanted or number is not None
                parent = text(execution, "retryOf")
                annotated = self._annotate(execution, names, lineage)
                if number is not None and parent and parent not in lineage:
                    held[number] = annotated
                else:
                    page.append(annotated)
                if number is not None and (top is None or number > top):
                    top, top_started = number, _capped(execution.get("startedAt"), window)
            yield page, None
            if data and not wanted:
                break  # the page is entirely older than what this poll needs
        resolved = self._resolve(held, lineage)
        cursor: Cursor = {
            "last_id": None if top is None else str(top),
            "since": top_started,
            "lineage": _trim(lineage),
        }
        if top is None:
            return
        if resolved or cursor != saved:
            yield resolved, cursor

    def _wanted(
        self, execution: Record, number: int, floor: int | None, window: FetchWindow
    ) -> bool:
        if floor is None or number > floor:
            return True
        if window.since is None:
            return False
        try:
            return parse_timestamp(execution.get("startedAt"), "startedAt") >= window.since
        except MappingError:
            return True  # keep it: the runner quarantines it with the reason

    def _annotate(
        self, execution: Record, names: Mapping[str, str], lineage: dict[str, tuple[str, int]]
    ) -> Record:
        """The execution with its workflow's name and its retry lineage as far as known."""
        out = dict(execution)
        workflow = execution.get("workflowId")
        if workflow is not None and str(workflow) in names:
            out[WORKFLOW_NAME] = names[str(workflow)]
        parent = text(execution, "retryOf")
        if parent:
            root, depth = lineage.get(parent, (parent, 1))
            out[TRACE_ROOT], out[ATTEMPT] = root, depth + 1
            lineage[str(execution["id"])] = (root, depth + 1)
        return out

    def _resolve(
        self, held: dict[int, Record], lineage: dict[str, tuple[str, int]]
    ) -> list[Record]:
        """Retries held back until the walk read their parents (newest first), oldest first,
        each with its chain's root and length."""
        resolved: list[Record] = []
        for number in sorted(held):
            execution = held[number]
            parent = str(execution["retryOf"])
            root, depth = lineage.get(parent, (parent, 1))
            lineage[str(number)] = (root, depth + 1)
            resolved.append({**execution, TRACE_ROOT: root, ATTEMPT: depth + 1})
        return resolved

    def map(self, record: Record) -> Batch:
        return map_execution(record, self.config)


def _capped(value: Any, window: FetchWindow) -> str | None:
    try:
        at = parse_timestamp(value, "startedAt")
    except MappingError:
        return None
    return min(at, window.until).isoformat()


def _lineage(value: Any) -> dict[str, tuple[str, int]]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, tuple[str, int]] = {}
    for key, pair in value.items():
        if isinstance(pair, list | tuple) and len(pair) == 2:
            out[str(key)] = (str(pair[0]), int(pair[1]))
    return out


def _trim(lineage: dict[str, tuple[str, int]]) -> dict[str, list[Any]]:
    newest = sorted(lineage, key=lambda k: _number(k) or 0)[-LINEAGE_KEPT:]
    return {k: [lineage[k][0], lineage[k][1]] for k in newest}


def collector(
    name: str,
    config: N8nConfig,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """An n8n collector (auth: ``ApiKeyHeaderAuth("X-N8N-API-KEY", key)``)."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=[ExecutionStream(config)],
        base_url=api_root(config.base_url),
        auth=auth,
        transport=transport,
    )
