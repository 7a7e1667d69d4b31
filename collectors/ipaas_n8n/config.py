"""Where n8n runs and how its executions map to integrations, flows and business records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from collectors.mapping import parse_path
from store.canonical import ObjectType, SyncStatus

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
