"""Project setup and the PMO's work queue: won deals with no project, who owns each, how long
it has waited, the sync error blocking it, and the actions the PMO took (assign, snooze, note).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Engine, false, insert, select

from metrics.kpis.common import Filters, period_start
from metrics.kpis.setup_latency import SetupLatency
from metrics.views import audit
from metrics.views.access import Access
from metrics.views.common import ViewConfig, frame
from metrics.views.guard import view
from metrics.views.kpiset import setup
from store.masking import scrub_for_storage
from store.tables import CaseHandoff, SyncAttempt, SyncTrace, WorkQueueAction

Action = Literal["assign", "snooze", "note"]
ACTIONS: tuple[Action, ...] = ("assign", "snooze", "note")
QUEUE_COLUMNS = [
    "deal_key",
    "customer",
    "age_business_days",
    "blocking_error",
    "owner",
    "assignee",
    "snoozed_until",
    "last_note",
    "amount_rc",
    "legal_entity",
    "practice",
    "won_at",
    "error_since",
    "deal_id",
]
CLOSED_COLUMNS = [
    "deal_key",
    "customer",
    "legal_entity",
    "practice",
    "won_at",
    "project_key",
    "project_created_at",
    "business_days",
    "touchless",
]
MAX_TEXT = 2000


@dataclass(frozen=True)
class HandoffView:
    """Setup latency and the work queue (snoozed deals are flagged, not dropped)."""

    kpi: SetupLatency
    queue: pd.DataFrame
    closed: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.kpi.stats.cases == 0 and self.queue.empty


def _deal_ids(engine: Engine, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    query = select(CaseHandoff.deal_key, CaseHandoff.deal_id).where(CaseHandoff.deal_key.in_(keys))
    with engine.connect() as conn:
        return {str(k): int(i) for k, i in conn.execute(query).all()}


def blocking_errors(engine: Engine, object_ids: list[int]) -> pd.DataFrame:
    """Per object, its newest sync trace that is still failing and that trace's last message."""
    columns = ["object_id", "blocking_error", "error_since", "trace_key", "flow"]
    if not object_ids:
        return pd.DataFrame(columns=columns)
    t = SyncTrace
    traces = frame(
        engine,
        select(
            t.object_id,
            t.trace_key,
            t.flow,
            t.first_failed_at,
            t.latest_attempt_at,
            t.latest_error_class,
        )
        .where(t.object_id.in_(object_ids), t.latest_status == "failed")
        .order_by(t.latest_attempt_at.desc()),
        ("first_failed_at", "latest_attempt_at"),
    )
    if traces.empty:
        return pd.DataFrame(columns=columns)
    traces = traces.drop_duplicates("object_id")
    a = SyncAttempt
    messages = frame(
        engine,
        select(a.trace_key, a.error_message, a.started_at)
        .where(a.trace_key.in_(list(traces["trace_key"])), a.status == "failed")
        .order_by(a.started_at.desc()),
    ).drop_duplicates("trace_key")
    out = traces.merge(messages, on="trace_key", how="left")
    out["blocking_error"] = (
        out["latest_error_class"].fillna("unknown") + ": " + out["error_message"].fillna("")
    )
    out["error_since"] = out["first_failed_at"]
    return out[columns]


def latest_actions(engine: Engine, case_type: str, case_ids: list[int]) -> pd.DataFrame:
    """Per case: the current assignee, snooze date and latest note (with who and when)."""
    columns = ["case_id", "assignee", "snoozed_until", "last_note", "note_by", "note_at"]
    if not case_ids:
        return pd.DataFrame(columns=columns)
    w = WorkQueueAction
    rows = frame(
        engine,
        select(w.case_id, w.action, w.assignee, w.snoozed_until, w.note, w.actor, w.created_at)
        .where(w.case_type == case_type, w.case_id.in_(case_ids))
        .order_by(w.created_at, w.id),
        ("created_at",),
    )
    out = pd.DataFrame({"case_id": case_ids})
    for action, picks in (
        ("assign", {"assignee": "assignee"}),
        ("snooze", {"snoozed_until": "snoozed_until"}),
        ("note", {"note": "last_note", "actor": "note_by", "created_at": "note_at"}),
    ):
        latest = rows[rows["action"] == action].drop_duplicates("case_id", keep="last")
        part = latest[["case_id", *picks]].rename(columns=picks)
        out = out.merge(part, on="case_id", how="left")
    return out[columns]


@view("handoffs")
def handoff_view(
    access: Access, engine: Engine, config: ViewConfig, filters: Filters, as_of: datetime
) -> HandoffView:
    """Setup latency, its closed cases and the work queue of stuck handoffs."""
    kpi = setup(engine, config, filters, as_of)
    stuck = kpi.stuck.copy()
    ids = _deal_ids(engine, [str(k) for k in stuck["deal_key"]])
    stuck["deal_id"] = stuck["deal_key"].map(ids).astype("Int64")
    known = [int(i) for i in stuck["deal_id"].dropna()]
    errors = blocking_errors(engine, known).rename(columns={"object_id": "deal_id"})
    actions = latest_actions(engine, "deal", known).rename(columns={"case_id": "deal_id"})
    for extra in (errors, actions):
        extra["deal_id"] = extra["deal_id"].astype("Int64")
        stuck = stuck.merge(extra, on="deal_id", how="left")
    if "amount_rc" not in stuck:
        stuck["amount_rc"] = float("nan")
    queue = stuck[QUEUE_COLUMNS] if len(stuck) else pd.DataFrame(columns=QUEUE_COLUMNS)
    closed = kpi.cases
    closed = (
        closed.sort_values("project_created_at", ascending=False)[CLOSED_COLUMNS]
        if len(closed)
        else pd.DataFrame(columns=CLOSED_COLUMNS)
    )
    return HandoffView(kpi, queue.reset_index(drop=True), closed.reset_index(drop=True))


def visible_queue(queue: pd.DataFrame, today: date, *, show_snoozed: bool) -> pd.DataFrame:
    """The queue without deals snoozed past `today` (unless `show_snoozed`)."""
    if show_snoozed or queue.empty:
        return queue
    until = pd.to_datetime(queue["snoozed_until"], errors="coerce")
    hidden = until.notna() & (until > pd.Timestamp(today))
    return queue[~hidden.astype(bool)].reset_index(drop=True)


def closed_in_week(view: HandoffView, week: date) -> pd.DataFrame:
    """Handoffs whose project was created in the week starting `week` (a Monday)."""
    closed = view.closed
    if closed.empty:
        return closed
    return closed[period_start(closed["project_created_at"], "W") == week].reset_index(drop=True)


class ActionRefused(ValueError):
    """An action the work queue cannot store; the message says what to fix."""


def _in_scope(engine: Engine, access: Access, case_id: int) -> bool:
    """Whether the deal `case_id` is one the visitor's practices cover."""
    if not access.limited:
        return True
    query = select(CaseHandoff.practice).where(CaseHandoff.deal_id == case_id)
    with engine.connect() as conn:
        return access.allows(conn.execute(query).scalar())


@view("handoffs")
def record_action(
    access: Access,
    engine: Engine,
    *,
    case_type: str,
    case_id: int,
    case_key: str | None,
    action: str,
    actor: str | None = None,
    assignee: str | None = None,
    snoozed_until: date | None = None,
    note: str | None = None,
    now: datetime | None = None,
    today: date | None = None,
) -> None:
    """Store one work-queue action and its audit entry (raises `ActionRefused` with a sentence
    when incomplete, or when the deal lies outside the visitor's practices).

    The actor is the signed-in visitor; without sign-in (the demo), the name they typed.
    `now` stamps the action (default: the wall clock); `today` is the day a snooze must be
    after — the reporting clock's day, the one the queue hides snoozed deals by.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    today = today or now.date()
    actor = (access.user if access.signed_in else actor or "").strip()[:200]
    if case_type != "deal":
        raise ActionRefused("Only deals are in the work queue.")
    if not _in_scope(engine, access, case_id):
        raise ActionRefused("This deal is not in your practices' work queue.")
    if action not in ACTIONS:
        raise ActionRefused(f"Unknown action {action!r}: choose assign, snooze or note.")
    if not actor:
        raise ActionRefused("Say who you are before changing the work queue.")
    values: dict[str, object] = {}
    if action == "assign":
        name = (assignee or "").strip()[:200]
        if not name:
            raise ActionRefused("Enter the person to assign this deal to.")
        values["assignee"] = name
    elif action == "snooze":
        if snoozed_until is None or snoozed_until <= today:
            raise ActionRefused("Pick a date after today to snooze until.")
        values["snoozed_until"] = snoozed_until
    else:
        text = (note or "").strip()
        if not text:
            raise ActionRefused("Write the note first.")
        values["note"] = scrub_for_storage(text)[:MAX_TEXT]
    with engine.begin() as conn:
        conn.execute(
            insert(WorkQueueAction).values(
                case_type=case_type,
                case_id=case_id,
                case_key=case_key,
                action=action,
                actor=actor,
                created_at=now,
                **values,
            )
        )
        detail = f"{action} {case_type} {case_key or case_id}"
        audit.record(conn, actor, access.role, "work_queue", detail, subject=access.subject, at=now)


@view("handoffs")
def action_history(access: Access, engine: Engine, case_type: str, case_id: int) -> pd.DataFrame:
    """Every action taken on one case, newest first (none for a case outside the visitor's
    practices)."""
    w = WorkQueueAction
    query = (
        select(w.created_at, w.actor, w.action, w.assignee, w.snoozed_until, w.note)
        .where(w.case_type == case_type, w.case_id == case_id)
        .order_by(w.created_at.desc(), w.id.desc())
    )
    if not _in_scope(engine, access, case_id):
        query = query.where(false())
    return frame(engine, query, ("created_at",))
