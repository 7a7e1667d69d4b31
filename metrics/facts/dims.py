"""The reporting dimensions of a business object: legal entity, practice, customer.

Work items, milestones and invoices take them from their project (the PSA's customer name is the
one customer vocabulary shared with the CRM; the ERP only knows its own customer ids), payments
from the invoice they settle, deals and projects from themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection

from metrics.facts.common import Obj, objects
from store.canonical import LinkQualifier, ObjectType
from store.reads import links_from, links_to


@dataclass(frozen=True, slots=True)
class Dims:
    """Legal entity, practice and customer of one object (None when unknown)."""

    legal_entity: str | None = None
    practice: str | None = None
    customer: str | None = None


NO_DIMS = Dims()


def own_dims(obj: Obj | None) -> Dims:
    """The dimensions an object carries itself."""
    if obj is None:
        return NO_DIMS
    return Dims(obj.legal_entity, obj.practice, obj.customer)


def with_project(own: Dims, project: Obj | None) -> Dims:
    """The project's dimensions where it has them, the object's own otherwise."""
    if project is None:
        return own
    return Dims(
        project.legal_entity or own.legal_entity,
        project.practice or own.practice,
        project.customer or own.customer,
    )


def object_dims(conn: Connection, ids: Collection[int]) -> dict[int, Dims]:
    """Dimensions of each object in `ids` (objects not in the store get none)."""
    objs = objects(conn, ids)
    payments = _of(objs, ObjectType.PAYMENT)
    invoice_of = {pay: inv for inv, pay in links_to(conn, payments, LinkQualifier.SETTLED_BY)}
    parents = set(objs) | set(invoice_of.values())
    project_of: dict[int, int] = {}
    for qualifier in (LinkQualifier.PART_OF, LinkQualifier.BILLS):
        for child, parent in links_from(conn, parents, qualifier):
            project_of.setdefault(child, parent)
    projects = objects(conn, set(project_of.values()), ObjectType.PROJECT)
    extra = objects(conn, set(invoice_of.values()) - set(objs))
    out: dict[int, Dims] = {}
    for oid, obj in objs.items():
        owner = invoice_of.get(oid, oid)
        base = own_dims(obj) if owner == oid else own_dims(objs.get(owner) or extra.get(owner))
        project = projects.get(project_of.get(owner, -1))
        out[oid] = (
            base
            if obj.type in (ObjectType.DEAL, ObjectType.PROJECT)
            else with_project(base, project)
        )
    return out


def _of(objs: dict[int, Obj], type_: str) -> set[int]:
    return {oid for oid, o in objs.items() if o.type == type_}
