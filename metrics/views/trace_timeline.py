"""What happened to a case's objects: their rows with a link back to each source system, one
timeline of their events and sync attempts (a lane per object, a lane per sync flow), and the
failed sync trace that kept the case waiting longest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import pandas as pd
from sqlalchemy import Engine, select

from metrics.kpis.common import utc
from metrics.views.common import ViewConfig, frame
from store.canonical import ObjectType as T
from store.tables import Event, EventObject, Object, SyncAttempt, SyncTrace

ACTIVITY_TYPE = {
    "deal": T.DEAL,
    "contract": T.CONTRACT,
    "change_order": T.CHANGE_ORDER,
    "project": T.PROJECT,
    "work": T.WORK_ITEM,
    "milestone": T.MILESTONE,
    "invoice": T.INVOICE,
    "payment": T.PAYMENT,
}
OBJECT_COLUMNS = [
    "id",
    "type",
    "source_system",
    "source_key",
    "customer",
    "legal_entity",
    "practice",
    "owner",
    "currency",
    "amount",
    "link",
]
TIMELINE_COLUMNS = [
    "at",
    "lane",
    "kind",
    "what",
    "status",
    "object_type",
    "object_key",
    "source_system",
    "detail",
    "link",
]


def deep_link(source_urls: Mapping[str, str], system: str, type_: str, key: str) -> str | None:
    """The record's address in its source system (None when the system's URL is unknown)."""
    base = source_urls.get(system)
    if not base:
        return None
    return f"{base.rstrip('/')}/{quote(type_, safe='')}/{quote(key, safe='')}"


@dataclass(frozen=True)
class Delay:
    """The failed sync trace that kept the case waiting longest."""

    flow: str
    trace_key: str
    object_key: str
    first_failed_at: datetime
    resolved_at: datetime | None
    hours: float
    attempts: int
    error: str


def objects_of(engine: Engine, ids: set[int], config: ViewConfig) -> pd.DataFrame:
    """The objects `ids`, each with the address of its record in its source system."""
    o = Object
    found = frame(
        engine,
        select(
            o.id,
            o.type,
            o.source_system,
            o.source_key,
            o.customer,
            o.legal_entity,
            o.practice,
            o.owner,
            o.currency,
            o.amount,
        ).where(o.id.in_(sorted(ids))),
    )
    found["link"] = [
        deep_link(config.source_urls, s, t, k)
        for s, t, k in zip(found["source_system"], found["type"], found["source_key"], strict=True)
    ]
    return found[OBJECT_COLUMNS]


def timeline_of(engine: Engine, objects: pd.DataFrame, config: ViewConfig) -> pd.DataFrame:
    """The events and sync attempts of `objects` on one timeline, oldest first (times in UTC)."""
    parts = [p for p in (_events(engine, objects), _attempts(engine, objects, config)) if len(p)]
    timeline = (
        pd.concat(parts, ignore_index=True).sort_values("at", kind="stable").reset_index(drop=True)
        if parts
        else pd.DataFrame(columns=TIMELINE_COLUMNS)
    )
    timeline["at"] = utc(timeline["at"])
    return timeline


def _events(engine: Engine, objects: pd.DataFrame) -> pd.DataFrame:
    ids = [int(i) for i in objects["id"]]
    e, eo = Event, EventObject
    refs = frame(
        engine,
        select(eo.event_id, eo.object_id, e.activity, e.occurred_at, e.source_system, e.source_key)
        .join(e, e.id == eo.event_id)
        .where(eo.object_id.in_(ids)),
        ("occurred_at",),
    )
    if refs.empty:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    info = objects.set_index("id")
    refs["object_type"] = refs["object_id"].map(info["type"])
    refs["wanted"] = refs["activity"].str.split(".").str[0].map(ACTIVITY_TYPE)
    # An event goes on the lane of the object it is about (a work item's `work.logged`, not the
    # project it also names); events about objects outside the trace are left out.
    refs = refs[(refs["object_type"] == refs["wanted"]) | refs["wanted"].isna()]
    refs = refs.sort_values("event_id", kind="stable").drop_duplicates("event_id")
    refs["object_key"] = refs["object_id"].map(info["source_key"])
    refs["lane"] = [
        "work items" if t == T.WORK_ITEM else f"{t} {k}"
        for t, k in zip(refs["object_type"], refs["object_key"], strict=True)
    ]
    return pd.DataFrame(
        {
            "at": refs["occurred_at"],
            "lane": refs["lane"],
            "kind": "event",
            "what": refs["activity"],
            "status": "",
            "object_type": refs["object_type"],
            "object_key": refs["object_key"],
            "source_system": refs["source_system"],
            "detail": "",
            "link": refs["object_id"].map(info["link"]),
        }
    )


def _attempts(engine: Engine, objects: pd.DataFrame, config: ViewConfig) -> pd.DataFrame:
    a = SyncAttempt
    ids = [int(i) for i in objects["id"]]
    rows = frame(
        engine,
        select(
            a.started_at,
            a.flow,
            a.status,
            a.attempt_number,
            a.error_class,
            a.error_message,
            a.object_id,
            a.source_system,
            a.source_key,
            a.trace_key,
        ).where(a.object_id.in_(ids)),
        ("started_at",),
    )
    if rows.empty:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    info = objects.set_index("id")
    what = (
        "sync "
        + rows["status"]
        + rows["attempt_number"].map(lambda n: " (retry)" if n and n > 1 else "")
    )
    detail = (rows["error_class"].fillna("") + ": " + rows["error_message"].fillna("")).where(
        rows["status"] == "failed", ""
    )
    return pd.DataFrame(
        {
            "at": rows["started_at"],
            "lane": "sync " + rows["flow"],
            "kind": "sync",
            "what": what,
            "status": rows["status"],
            "object_type": rows["object_id"].map(info["type"]),
            "object_key": rows["object_id"].map(info["source_key"]),
            "source_system": rows["source_system"],
            "detail": detail,
            "link": [
                deep_link(config.source_urls, s, "job", k)
                for s, k in zip(rows["source_system"], rows["source_key"], strict=True)
            ],
        }
    )


def delay_of(engine: Engine, objects: pd.DataFrame, as_of: datetime) -> Delay | None:
    """The failed sync trace of `objects` that kept the case waiting longest (None: none failed)."""
    t = SyncTrace
    ids = [int(i) for i in objects["id"]]
    traces = frame(
        engine,
        select(
            t.flow,
            t.trace_key,
            t.object_id,
            t.first_failed_at,
            t.resolved_at,
            t.attempts,
            t.latest_status,
            t.first_error_class,
            t.first_error_signature,
        ).where(t.object_id.in_(ids), t.first_failed_at.is_not(None)),
        ("first_failed_at", "resolved_at"),
    )
    if traces.empty:
        return None
    end = traces["resolved_at"].where(traces["resolved_at"].notna(), pd.Timestamp(as_of))
    traces["hours"] = (end - traces["first_failed_at"]).dt.total_seconds() / 3600
    worst = traces.sort_values("hours", ascending=False).iloc[0]
    key = objects.set_index("id")["source_key"].get(worst["object_id"], "")
    signature = worst["first_error_signature"]
    return Delay(
        flow=str(worst["flow"]),
        trace_key=str(worst["trace_key"]),
        object_key=str(key),
        first_failed_at=worst["first_failed_at"].to_pydatetime(),
        resolved_at=None if pd.isna(worst["resolved_at"]) else worst["resolved_at"].to_pydatetime(),
        hours=float(worst["hours"]),
        attempts=int(worst["attempts"]),
        error=f"{worst['first_error_class']}: {_first_message(engine, worst) or signature}",
    )


def _first_message(engine: Engine, trace: pd.Series) -> str | None:
    """The raw message of a trace's first failed attempt (masked in the store)."""
    a = SyncAttempt
    query = (
        select(a.error_message)
        .where(a.trace_key == trace["trace_key"], a.flow == trace["flow"], a.status == "failed")
        .order_by(a.started_at)
        .limit(1)
    )
    with engine.connect() as conn:
        message = conn.execute(query).scalar_one_or_none()
    return str(message) if message else None
