"""One n8n execution → a sync attempt: status, error, failing node, trace key and attempt."""

from __future__ import annotations

from typing import Any

from collectors.base import (
    Record,
    optional_timestamp,
    parse_timestamp,
)
from collectors.errors import MappingError
from collectors.ipaas_n8n.config import (
    ATTEMPT,
    MAX_ID,
    STATUS,
    SYSTEM,
    TRACE_ROOT,
    WORKFLOW_NAME,
    N8nConfig,
)
from collectors.mapping import nested, parse_path, required_text, text
from store.canonical import Batch, SyncAttemptRow, SyncStatus
from store.signatures import classify, signature


def execution_number(value: Any) -> int | None:
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
    if execution_number(key) is None:
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
