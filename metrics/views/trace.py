"""Case trace: one deal, project, invoice (or any object) end to end across systems.

From the chosen object the trace walks *up* the links to what it came from (a work item's
project, a project's deal) and *down* to what came of it (a deal's contract and projects, a
project's change orders, milestones, work and invoices, an invoice's payments, credit notes
and re-issue). Events and sync attempts of every object found go on one timeline; the failed
sync trace that kept the case waiting longest is called out; every record links back to its
source system.

Which objects belong to a case is `metrics.views.trace_walk`; their timeline and the delaying
failure are `metrics.views.trace_timeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, or_, select

from metrics.views.access import Access
from metrics.views.common import ViewConfig, frame
from metrics.views.guard import view
from metrics.views.trace_timeline import Delay, delay_of, objects_of, timeline_of
from metrics.views.trace_walk import related
from store.canonical import ObjectType as T
from store.tables import CaseHandoff, CaseInvoice, Object

CASE_TYPES = (T.DEAL, T.PROJECT, T.INVOICE)
MAX_KEY = 200


def case_ref(type_: str, key: str) -> str:
    """The URL form of a case: ``deal:006Dn…``."""
    return f"{type_}:{key}"


def parse_case_ref(ref: str) -> tuple[str, str]:
    """``(type, key)`` of a case reference (ValueError when it is not one)."""
    type_, sep, key = (ref or "").partition(":")
    if not sep or not key or type_ not in {t.value for t in T} or len(key) > MAX_KEY:
        raise ValueError("not a case reference")
    return type_, key


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


@dataclass(frozen=True)
class CaseTrace:
    """One case: its object, every related object, one timeline, the delaying failure."""

    case_type: str
    case_key: str
    case: dict[str, object]
    objects: pd.DataFrame
    timeline: pd.DataFrame
    delay: Delay | None


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
    ids = related(engine, int(start), case_type)
    objects = objects_of(engine, ids, config)
    if access.limited:  # a related record of another practice stays out of the trace
        keep = objects["practice"].isna() | objects["practice"].map(access.allows)
        objects = objects[keep.astype(bool) | (objects["id"] == int(start))]
    timeline = timeline_of(engine, objects, config)
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
        delay=delay_of(engine, objects.assign(id=objects["id"].astype("int64")), as_of),
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
