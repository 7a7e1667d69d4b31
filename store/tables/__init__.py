"""SQLAlchemy 2.0 typed models of the store (docs/architecture.md, "The event store"), one
module per kind of table:

- `event_log`: objects, events, event-object relations, object links, sync attempts and FX
  rates, as the sources show them (what collectors and imports write);
- `case_facts`: case facts and rollups derived from the event log, and the queue of cases
  whose facts are behind it (what the KPIs read);
- `operations`: collectors' cursors, runs and quarantine, SLO alerts and the stored board,
  and what the dashboard persists (work-queue actions, run requests, the audit log);
- `base`: the declarative base, UTC timestamps and the column types they share.

Importing this package registers every table on `Base.metadata` (the migrations compare it
with the schema). Timestamps are stored in UTC.
"""

from store.tables.base import NAMING, Base, JSONType, Money, UTCDateTime
from store.tables.case_facts import (
    WORK_SETTLED_AT,
    CaseDimension,
    CaseHandoff,
    CaseInvoice,
    CaseWorkBilling,
    CaseWorkItem,
    FactsPending,
    SyncDaily,
    SyncFailure,
    SyncTrace,
)
from store.tables.event_log import Event, EventObject, FxRate, Object, ObjectLink, SyncAttempt
from store.tables.operations import (
    AlertDelivery,
    AlertEpisode,
    AuditEntry,
    CollectorRun,
    CollectorState,
    Quarantine,
    RunRequest,
    StoredSloBoard,
    WorkQueueAction,
)

__all__ = [
    "NAMING",
    "WORK_SETTLED_AT",
    "AlertDelivery",
    "AlertEpisode",
    "AuditEntry",
    "Base",
    "CaseDimension",
    "CaseHandoff",
    "CaseInvoice",
    "CaseWorkBilling",
    "CaseWorkItem",
    "CollectorRun",
    "CollectorState",
    "Event",
    "EventObject",
    "FactsPending",
    "FxRate",
    "JSONType",
    "Money",
    "Object",
    "ObjectLink",
    "Quarantine",
    "RunRequest",
    "StoredSloBoard",
    "SyncAttempt",
    "SyncDaily",
    "SyncFailure",
    "SyncTrace",
    "UTCDateTime",
    "WorkQueueAction",
]
