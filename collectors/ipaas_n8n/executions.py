"""The executions stream: newest first, polled by the high-water execution id with an overlap,
retry lineage kept in the cursor."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from collectors.base import (
    Cursor,
    FetchWindow,
    HttpCollector,
    Record,
    parse_timestamp,
)
from collectors.errors import MappingError
from collectors.ipaas_n8n.config import (
    ATTEMPT,
    LINEAGE_KEPT,
    MAX_LIMIT,
    SYSTEM,
    TRACE_ROOT,
    WORKFLOW_NAME,
    N8nConfig,
    api_root,
)
from collectors.ipaas_n8n.mapping import execution_number, map_execution
from collectors.mapping import text
from collectors.page_checks import PageContract
from collectors.paging import PageTokenPaginator, iter_records
from store.canonical import Batch


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
        high = execution_number(saved.get("last_id"))
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
                number = execution_number(execution.get("id"))
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
    newest = sorted(lineage, key=lambda k: execution_number(k) or 0)[-LINEAGE_KEPT:]
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
