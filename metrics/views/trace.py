"""Case trace: one deal, project, invoice (or any object) end to end across systems.

From the chosen object the trace walks *up* the links to what it came from (a work item's
project, a project's deal) and *down* to what came of it (a deal's contract and projects, a
project's change orders, milestones, work and invoices, an invoice's payments, credit notes
and re-issue). Events and sync attempts of every object found go on one timeline; the failed
sync trace that kept the case waiting longest is called out; every record links back to its
source system.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

import pandas as pd
from sqlalchemy import Engine, func, or_, select

from metrics.kpis.common import utc
from metrics.views.access import Access
from metrics.views.common import ViewConfig, frame
from metrics.views.guard import view
from store.canonical import LinkQualifier as Q
from store.canonical import ObjectType as T
from store.tables import (
    CaseHandoff,
    CaseInvoice,
    Event,
    EventObject,
    Object,
    ObjectLink,
    SyncAttempt,
    SyncTrace,
)

Direction = Literal["out", "in"]
Step = tuple[str, Direction]
#: Where an object came from (followed transitively from the case).
UP: dict[str, list[Step]] = {
    T.WORK_ITEM: [(Q.PART_OF, "out"), (Q.BILLED_ON, "out")],
    T.MILESTONE: [(Q.PART_OF, "out")],
    T.INVOICE: [(Q.BILLS, "out"), (Q.REISSUED_AS, "in"), (Q.CREDITS, "out")],
    T.PAYMENT: [(Q.SETTLED_BY, "in")],
    T.CHANGE_ORDER: [(Q.AMENDS, "out")],
    T.CONTRACT: [(Q.CONTRACTED_BY, "in")],
    T.PROJECT: [(Q.PROVISIONS, "in")],
}
#: What came of an object (followed transitively from the case).
DOWN: dict[str, list[Step]] = {
    T.DEAL: [(Q.CONTRACTED_BY, "out"), (Q.PROVISIONS, "out")],
    T.PROJECT: [(Q.AMENDS, "in"), (Q.PART_OF, "in"), (Q.BILLS, "in")],
    T.INVOICE: [
        (Q.SETTLED_BY, "out"),
        (Q.CREDITS, "in"),
        (Q.REISSUED_AS, "out"),
        (Q.BILLED_ON, "in"),
    ],
}
#: Related objects an ancestor still shows (a deal's contract).
BESIDE: dict[str, list[Step]] = {T.DEAL: [(Q.CONTRACTED_BY, "out")]}
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
CASE_TYPES = (T.DEAL, T.PROJECT, T.INVOICE)
MAX_OBJECTS = 3000
MAX_KEY = 200
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


def case_ref(type_: str, key: str) -> str:
    """The URL form of a case: ``deal:006Dn…``."""
    return f"{type_}:{key}"


def parse_case_ref(ref: str) -> tuple[str, str]:
    """``(type, key)`` of a case reference (ValueError when it is not one)."""
    type_, sep, key = (ref or "").partition(":")
    if not sep or not key or type_ not in {t.value for t in T} or len(key) > MAX_KEY:
        raise ValueError("not a case reference")
    return type_, key


def deep_link(source_urls: Mapping[str, str], system: str, type_: str, key: str) -> str | None:
    """The record's address in its source system (None when the system's URL is unknown)."""
    base = source_urls.get(system)
    if not base:
        return None
    return f"{base.rstrip('/')}/{quote(type_, safe='')}/{quote(key, safe='')}"


@view("trace")
def find_cases(access: Access, engine: Engine, text: str, limit: int = 25) -> pd.DataFrame:
    """Deals, projects and invoices of the visitor's practices whose key or customer contains
    `text` (a case's practice is the one its case facts resolved, else its record's)."""
    text = (text or "").strip()
    columns = ["type", "source_key", "customer", "legal_entity", "practice", "amount", "currency"]
    if not text:
        return pd.DataFrame(columns=columns)
    o, h, i = Object, CaseHandoff, CaseInvoice
    practice = func.coalesce(h.practice, i.practice, o.practice)
    query = (
        select(
            o.type,
            o.source_key,
            o.customer,
            o.legal_entity,
            practice.label("practice"),
            o.amount,
            o.currency,
        )
        .outerjoin(h, h.deal_id == o.id)
        .outerjoin(i, i.invoice_id == o.id)
        .where(
            o.type.in_([str(t) for t in CASE_TYPES]),
            or_(
                o.source_key.icontains(text, autoescape=True),
                o.customer.icontains(text, autoescape=True),
            ),
        )
        .order_by(o.type, o.source_key)
        .limit(limit)
    )
    clause = access.practice_clause(practice)
    return frame(engine, query if clause is None else query.where(clause))


def _neighbours(engine: Engine, ids: set[int], steps: list[tuple[str, Direction]]) -> set[int]:
    found: set[int] = set()
    if not ids:
        return found
    link = ObjectLink
    for qualifier, direction in steps:
        here, there = (
            (link.from_object_id, link.to_object_id)
            if direction == "out"
            else (link.to_object_id, link.from_object_id)
        )
        query = select(there).where(link.qualifier == qualifier, here.in_(sorted(ids)))
        with engine.connect() as conn:
            found.update(int(v) for v in conn.execute(query).scalars())
    return found


def _walk(
    engine: Engine, start: int, types: dict[int, str], rules: dict[str, list[Step]]
) -> set[int]:
    seen, frontier = {start}, {start}
    while frontier and len(seen) < MAX_OBJECTS:
        by_type: dict[str, set[int]] = {}
        for oid in frontier:
            by_type.setdefault(types.get(oid, ""), set()).add(oid)
        found: set[int] = set()
        for type_, ids in by_type.items():
            found |= _neighbours(engine, ids, rules.get(type_, []))
        frontier = found - seen
        seen |= frontier
        types.update(_types(engine, frontier))
    return seen


def _types(engine: Engine, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(Object.id, Object.type).where(Object.id.in_(sorted(ids)))
    with engine.connect() as conn:
        return {int(i): str(t) for i, t in conn.execute(query).all()}


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


@dataclass(frozen=True)
class CaseTrace:
    """One case: its object, every related object, one timeline, the delaying failure."""

    case_type: str
    case_key: str
    case: dict[str, object]
    objects: pd.DataFrame
    timeline: pd.DataFrame
    delay: Delay | None


def _objects(engine: Engine, ids: set[int], config: ViewConfig) -> pd.DataFrame:
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


def _delay(engine: Engine, objects: pd.DataFrame, as_of: datetime) -> Delay | None:
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


@view("trace")
def case_trace(
    access: Access,
    engine: Engine,
    config: ViewConfig,
    case_type: str,
    case_key: str,
    as_of: datetime,
) -> CaseTrace | None:
    """The trace of the object `case_type` `case_key`: None when the store has no such object
    or it lies outside the visitor's practices (the two look the same). Related records of
    another practice are left out."""
    query = select(Object.id, Object.practice).where(
        Object.type == case_type, Object.source_key == case_key
    )
    with engine.connect() as conn:
        found = conn.execute(query.limit(1)).first()
    if found is None:
        return None
    start, own_practice = found
    dims = _fact_dims(engine, case_type, int(start))
    if not access.allows(dims.get("practice", own_practice)):
        return None
    types = {int(start): case_type}
    ancestors = _walk(engine, int(start), types, UP)
    descendants = _walk(engine, int(start), types, DOWN)
    beside: set[int] = set()
    for type_, steps in BESIDE.items():
        beside |= _neighbours(engine, {i for i in ancestors if types.get(i) == type_}, steps)
    objects = _objects(engine, ancestors | descendants | beside, config)
    if access.limited:  # a related record of another practice stays out of the trace
        keep = objects["practice"].isna() | objects["practice"].map(access.allows)
        objects = objects[keep.astype(bool) | (objects["id"] == int(start))]
    parts = [p for p in (_events(engine, objects), _attempts(engine, objects, config)) if len(p)]
    timeline = (
        pd.concat(parts, ignore_index=True).sort_values("at", kind="stable").reset_index(drop=True)
        if parts
        else pd.DataFrame(columns=TIMELINE_COLUMNS)
    )
    timeline["at"] = utc(timeline["at"])
    row = objects[objects["id"] == int(start)].iloc[0]
    case = {k: (None if _missing(v) else v) for k, v in row.to_dict().items()}
    case.update(dims)
    case["id"] = str(case["id"])
    objects = objects.assign(id=objects["id"].astype(str)).sort_values(["type", "source_key"])
    return CaseTrace(
        case_type=case_type,
        case_key=case_key,
        case=case,
        objects=objects.reset_index(drop=True),
        timeline=timeline,
        delay=_delay(engine, objects.assign(id=objects["id"].astype("int64")), as_of),
    )


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fact_dims(engine: Engine, case_type: str, object_id: int) -> dict[str, object]:
    """The reporting dimensions the case facts resolved (an invoice's customer is the PSA's)."""
    if case_type == T.DEAL:
        h = CaseHandoff
        query = select(h.customer, h.legal_entity, h.practice).where(h.deal_id == object_id)
    elif case_type == T.INVOICE:
        i = CaseInvoice
        query = select(i.customer, i.legal_entity, i.practice).where(i.invoice_id == object_id)
    else:
        return {}
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return {}
    return {k: v for k, v in row._asdict().items() if v is not None}


@view("sync", "trace")
def case_of_object(access: Access, engine: Engine, object_id: int) -> tuple[str, str] | None:
    """``(type, key)`` of a stored object in the visitor's practices (to open its trace from a
    sync attempt)."""
    o = Object
    query = select(o.type, o.source_key, o.practice).where(o.id == object_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or not access.allows(row[2]):
        return None
    return str(row[0]), str(row[1])
