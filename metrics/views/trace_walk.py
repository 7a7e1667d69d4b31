"""Which objects belong to a case: from the chosen object up the links to what it came from (a
work item's project, a project's deal) and down to what came of it (a deal's contract and
projects, a project's change orders, milestones, work and invoices, an invoice's payments,
credit notes and re-issue), plus what an ancestor still shows beside it (a deal's contract)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine, select

from store.canonical import LinkQualifier as Q
from store.canonical import ObjectType as T
from store.tables import Object, ObjectLink

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
#: At most this many objects are gathered in each direction.
MAX_OBJECTS = 3000


def related(engine: Engine, start: int, case_type: str) -> set[int]:
    """The ids of the case `start` (a `case_type` object) and of every object related to it."""
    types = {start: case_type}
    ancestors = _walk(engine, start, types, UP)
    descendants = _walk(engine, start, types, DOWN)
    beside: set[int] = set()
    for type_, steps in BESIDE.items():
        beside |= _neighbours(engine, {i for i in ancestors if types.get(i) == type_}, steps)
    return ancestors | descendants | beside


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
