"""Which cases a batch of new rows touches: the only rows the incremental refresh recomputes.

Read after the batch is stored (same transaction), from the batch's objects, events, links and
sync attempts plus the links already in the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from store.canonical import Activity, Batch, LinkQualifier, ObjectType
from store.reads import SyncGroup, among, links_from, links_to
from store.tables import CaseInvoice, SyncAttempt, SyncTrace

Q = LinkQualifier


@dataclass
class Affected:
    """Ids of the cases to recompute, per fact table."""

    deals: set[int] = field(default_factory=set)
    invoices: set[int] = field(default_factory=set)
    work_items: set[int] = field(default_factory=set)
    sync_groups: set[SyncGroup] = field(default_factory=set)
    sync_traces: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return (
            len(self.deals)
            + len(self.invoices)
            + len(self.work_items)
            + len(self.sync_groups)
            + len(self.sync_traces)
        )


def _touched(batch: Batch) -> dict[str, set[int]]:
    """Object ids in the batch (objects, event objects, link ends) by object type."""
    out: dict[str, set[int]] = {t.value: set() for t in ObjectType}
    for o in batch.objects:
        out[o.type].add(o.id)
    for e in batch.events:
        for ref in e.objects:
            out[ref.type].add(ref.object_id)
    for lk in batch.links:
        out[lk.from_type].add(lk.from_id)
        out[lk.to_type].add(lk.to_id)
    return out


def affected_by(conn: Connection, batch: Batch) -> Affected:
    """The cases `batch` can change."""
    t = _touched(batch)
    # A changed project changes its cases' dimensions; events and links that merely mention a
    # project do not (or every time entry would recompute its whole project).
    projects = {o.id for o in batch.objects if o.type == ObjectType.PROJECT}
    out = Affected()
    created = {
        ref.object_id
        for e in batch.events
        if e.activity == Activity.PROJECT_CREATED
        for ref in e.objects
        if ref.type == ObjectType.PROJECT
    }
    out.deals = t[ObjectType.DEAL] | {
        d for d, _ in links_to(conn, projects | created, Q.PROVISIONS)
    }
    out.invoices = _invoices(conn, t, projects)
    out.work_items = (
        t[ObjectType.WORK_ITEM]
        | {w for w, _ in links_to(conn, projects, Q.PART_OF)}
        | {w for w, _ in links_to(conn, _with_reissues(conn, t[ObjectType.INVOICE]), Q.BILLED_ON)}
    )
    out.sync_groups, out.sync_traces = _sync(conn, batch)
    return out


def _invoices(conn: Connection, t: dict[str, set[int]], projects: set[int]) -> set[int]:
    invoices = set(t[ObjectType.INVOICE])
    invoices |= {i for i, _ in links_to(conn, t[ObjectType.PAYMENT], Q.SETTLED_BY)}
    invoices |= {i for _, i in links_from(conn, t[ObjectType.WORK_ITEM], Q.BILLED_ON)}
    invoices |= {i for i, _ in links_to(conn, projects, Q.BILLS)}
    for condition in among(conn, CaseInvoice.milestone_id, t[ObjectType.MILESTONE]):
        invoices |= set(conn.execute(select(CaseInvoice.invoice_id).where(condition)).scalars())
    return invoices


def _with_reissues(conn: Connection, invoices: set[int]) -> set[int]:
    """`invoices` and every re-issue of them, transitively."""
    out, frontier = set(invoices), set(invoices)
    while frontier:
        frontier = {new for _, new in links_from(conn, frontier, Q.REISSUED_AS)} - out
        out |= frontier
    return out


def _sync(conn: Connection, batch: Batch) -> tuple[set[SyncGroup], set[str]]:
    groups: set[SyncGroup] = set()
    traces: set[str] = set()
    for a in batch.sync_attempts:
        groups.add((a.integration, a.flow, a.started_at.date()))
        if a.trace_key:
            traces.add(a.trace_key)
    # Objects that arrive after the attempts about them change those attempts' dimensions.
    about: set[str] = set()
    for condition in among(conn, SyncTrace.object_id, {o.id for o in batch.objects}):
        about.update(conn.execute(select(SyncTrace.trace_key).where(condition)).scalars())
    return groups | _days_of(conn, about), traces | about


def _days_of(conn: Connection, trace_keys: Iterable[str]) -> set[SyncGroup]:
    out: set[SyncGroup] = set()
    columns = select(SyncAttempt.integration, SyncAttempt.flow, SyncAttempt.started_at)
    for condition in among(conn, SyncAttempt.trace_key, set(trace_keys)):
        out.update((i, f, at.date()) for i, f, at in conn.execute(columns.where(condition)))
    return out
