"""What Throughline's model expects of imported rows, so that a mapping that contradicts it is an
error rather than a quiet zero: which way each link goes, the attributes the KPIs read and their
types, the object an activity is about, and which legal entities have a business calendar.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from store.canonical import Activity, LinkQualifier, ObjectType

ValueType = Literal["string", "integer", "number", "boolean", "date", "timestamp"]
T = ObjectType

#: Each link qualifier's from-types and to-types (`store.canonical.LinkQualifier`).
LINK_ENDS: Mapping[LinkQualifier, tuple[tuple[ObjectType, ...], tuple[ObjectType, ...]]] = {
    LinkQualifier.PROVISIONS: ((T.DEAL,), (T.PROJECT,)),
    LinkQualifier.PART_OF: ((T.WORK_ITEM, T.MILESTONE), (T.PROJECT,)),
    LinkQualifier.BILLED_ON: ((T.WORK_ITEM,), (T.INVOICE,)),
    LinkQualifier.SETTLED_BY: ((T.INVOICE,), (T.PAYMENT,)),
    LinkQualifier.AMENDS: ((T.CHANGE_ORDER,), (T.PROJECT,)),
    LinkQualifier.CONTRACTED_BY: ((T.DEAL,), (T.CONTRACT,)),
    LinkQualifier.BILLS: ((T.INVOICE,), (T.PROJECT,)),
    LinkQualifier.REISSUED_AS: ((T.INVOICE,), (T.INVOICE,)),
    LinkQualifier.CREDITS: ((T.INVOICE,), (T.INVOICE,)),
}

#: Object attributes the case facts read, and the type they must have to count
#: (`metrics.facts`): a billable flag stored as the text "true" counts as not billable.
READ_ATTRIBUTES: Mapping[tuple[ObjectType, str], ValueType] = {
    (T.DEAL, "no_project_required"): "boolean",
    (T.PROJECT, "touchless"): "boolean",
    (T.WORK_ITEM, "billable"): "boolean",
    (T.WORK_ITEM, "work_date"): "date",
    (T.WORK_ITEM, "project_id"): "string",
    (T.WORK_ITEM, "invoice_id"): "string",
    (T.WORK_ITEM, "kind"): "string",
    (T.WORK_ITEM, "status"): "string",
    (T.INVOICE, "period_end"): "date",
    (T.INVOICE, "project_code"): "string",
    (T.INVOICE, "milestone_id"): "string",
    (T.INVOICE, "kind"): "string",
    (T.INVOICE, "billing_type"): "string",
}

_SUBJECT = {
    "deal": T.DEAL,
    "contract": T.CONTRACT,
    "change_order": T.CHANGE_ORDER,
    "project": T.PROJECT,
    "work": T.WORK_ITEM,
    "milestone": T.MILESTONE,
    "invoice": T.INVOICE,
    "payment": T.PAYMENT,
}


def a(noun: str) -> str:
    """`noun` with its indefinite article: "an invoice", "a deal"."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def subject_type(activity: Activity) -> ObjectType:
    """The type of object an activity is about: `work.logged` → work_item."""
    return _SUBJECT[activity.split(".", 1)[0]]


def link_problem(from_: ObjectType, to: ObjectType, qualifier: LinkQualifier) -> str | None:
    """Why a `qualifier` link from a `from_` to a `to` contradicts the model (None: it fits)."""
    froms, tos = LINK_ENDS[qualifier]
    if from_ in froms and to in tos:
        return None
    expected = f"{' or '.join(froms)} → {' or '.join(tos)}"
    if to in froms and from_ in tos:
        return f"{qualifier} links {expected}, not {from_} → {to}: swap from and to"
    return f"{qualifier} links {expected}, not {from_} → {to}"


def attribute_type(type_: ObjectType, name: str) -> ValueType | None:
    """The type the KPIs need for an attribute they read (None: they do not read it)."""
    return READ_ATTRIBUTES.get((type_, name))


def calendar_problem(code: str | None, calendars: Collection[str]) -> str | None:
    """Why a legal entity code cannot be used: no calendar is configured for it."""
    if code is None or code in calendars:
        return None
    known = ", ".join(sorted(calendars)) or "none"
    return (
        f"legal entity {code!r:.40} has no business calendar: add it to the settings' "
        f"`legal_entities` (code, name, country, currency); configured: {known}"
    )
