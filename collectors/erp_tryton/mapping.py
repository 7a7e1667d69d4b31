"""Pure mappers from (enriched) Tryton records to canonical rows; Tryton names stop here.

Records are `search_read` rows decoded by `client.decode` (datetimes aware UTC, dates, Decimals,
timedeltas), Many2One fields read as `<field>.` sub-records, plus the `_…` members the streams
attach (a deal's sales and audit trail, a project's deal, a time line's project, an invoice's
payments). Every failure is a `MappingError` naming the field.

Where the events come from (core Tryton 8.2 keeps no state-change times as fields):

- `deal.won` / `deal.lost` / `deal.reopened`: Tryton derives an opportunity's state from its
  sales (`sale.opportunity.process`: won once every sale is confirmed, processing, done or
  cancelled and one is not cancelled; lost once every sale is cancelled). The opportunity's own
  won/lost transitions are not written to the audit log (the transition methods write the
  state themselves), but each sale's are (`ir.model.log`, event `transition`, target
  `state:<state>`), so `stage_changes` replays that rule over the sales' history. Fallbacks:
  the `lost` button in the opportunity's log; a `won`/`lost` state with no history at all is
  dated from `end_date` (00:00 UTC) and flagged `stage_time_source = "end_date"`.
- `project.created`: the project's `create_date`.
- `work.logged` and `work.approved`: the time line's `create_date` (Tryton has no approval
  step: an entered line is billable work).
- `invoice.created`: `create_date`; `invoice.posted`: the creation of the invoice's account
  move (a customer invoice's move is created by the posting, whichever path posted it);
  `invoice.voided`: the cancel move's creation, or the last change of an invoice cancelled
  before posting.
- `payment.received`: the creation of each move line in the invoice's `payment_lines`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from collectors.base import Record
from collectors.errors import MappingError
from collectors.mapping import amount, decimal_text, text
from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
)

SYSTEM = "tryton"
WON_SALE_STATES = frozenset({"confirmed", "processing", "done"})
LOST_SALE_STATES = frozenset({"cancelled"})
#: Tryton's project invoice method → Throughline's billing type.
BILLING_TYPES = {
    "timesheet": "time_and_materials",
    "effort": "fixed_fee",
    "progress": "fixed_fee",
    "manual": "manual",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class TrytonMapping:
    """How Tryton values become Throughline dimensions."""

    #: Company name (its `rec_name`) → legal entity code; unlisted companies keep their name.
    legal_entities: Mapping[str, str]
    #: Logins of integration users: a project they created counts as a touchless handoff.
    integration_users: frozenset[str] = frozenset()

    def entity(self, company: str | None) -> str | None:
        return None if company is None else self.legal_entities.get(company, company)


# ---------------------------------------------------------------------------- record access


def when(record: Record, field: str) -> datetime | None:
    """An optional timestamp (decoded datetimes are aware UTC)."""
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MappingError(f"{field} is not a timestamp: {value!r:.60}")
    return value


def required_when(record: Record, field: str) -> datetime:
    value = when(record, field)
    if value is None:
        raise MappingError(f"{field} is missing")
    return value


def day(record: Record, field: str) -> date | None:
    """An optional date (a datetime is refused: Tryton dates carry no time)."""
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise MappingError(f"{field} is not a date: {value!r:.60}")
    return value


def related(record: Record, field: str) -> Record:
    """The sub-record of a Many2One read as `<field>.<name>` (empty when the field is empty)."""
    value = record.get(f"{field}.")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{field} is not a related record: {value!r:.60}")
    return value


def related_text(record: Record, path: str) -> str | None:
    """`party.rec_name`-style access to a related record's field."""
    head, _, name = path.partition(".")
    return text(related(record, head), name)


def record_id(record: Record, field: str = "id") -> int:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{field} is not a record id: {value!r:.40}")
    return value


def reference_id(value: Any, model: str) -> int | None:
    """The id in a Reference value `"<model>,<id>"` (None for another model or no value)."""
    if not isinstance(value, str) or "," not in value:
        return None
    name, _, ident = value.partition(",")
    return int(ident) if name == model and ident.lstrip("-").isdigit() else None


def midnight(value: date) -> datetime:
    return datetime.combine(value, time(), tzinfo=UTC)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# ----------------------------------------------------------------------------------- deals


@dataclass(frozen=True, slots=True)
class StageChange:
    """One change of a deal's outcome."""

    activity: Activity
    at: datetime
    source: str


def _outcome(states: Mapping[int, str]) -> str:
    """Tryton's `is_won` / `is_lost` over the current states of an opportunity's sales."""
    if not states:
        return "open"
    values = set(states.values())
    if values <= WON_SALE_STATES | LOST_SALE_STATES and values & WON_SALE_STATES:
        return "won"
    if values <= LOST_SALE_STATES:
        return "lost"
    return "open"


def stage_changes(r: Record) -> list[StageChange]:
    """The deal's won / lost / reopened times, replayed from its sales' and its own history.

    `_sales`: `[{"id", "create_date", "transitions": [{"at", "id", "state"}]}]`;
    `_log`: the opportunity's own audit entries `[{"at", "id", "event", "target"}]`.
    """
    timeline: list[tuple[datetime, int, int, str]] = []  # at, order, sale (0: the deal), state
    for sale in _list(r, "_sales"):
        sale_id = record_id(sale)
        timeline.append((required_when(sale, "create_date"), -1, sale_id, "draft"))
        for entry in _list(sale, "transitions"):
            state = text(entry, "state")
            if state:
                timeline.append((required_when(entry, "at"), record_id(entry), sale_id, state))
    for entry in _list(r, "_log"):
        if entry.get("event") == "button" and entry.get("target") in ("lost", "lead"):
            at = required_when(entry, "at")
            timeline.append((at, record_id(entry), 0, str(entry["target"])))
    timeline.sort(key=lambda t: (t[0], t[1], t[2]))
    states: dict[int, str] = {}
    status, changes = "open", []
    for at, _, sale_id, state in timeline:
        if sale_id == 0:  # the opportunity's own buttons: marked lost, or back to lead
            new = "lost" if state == "lost" else "open"
        else:
            states[sale_id] = state
            new = _outcome(states)
        if new == status:
            continue
        source = "sales" if sale_id else "button"
        if new == "won":
            changes.append(StageChange(Activity.DEAL_WON, at, source))
        elif new == "lost":
            changes.append(StageChange(Activity.DEAL_LOST, at, source))
        else:
            changes.append(StageChange(Activity.DEAL_REOPENED, at, source))
        status = new
    if not changes:
        state, end = r.get("state"), day(r, "end_date")
        if state in ("won", "lost") and end is not None:
            activity = Activity.DEAL_WON if state == "won" else Activity.DEAL_LOST
            changes.append(StageChange(activity, midnight(end), "end_date"))
    return changes


def first_win(r: Record) -> datetime | None:
    """When the opportunity was first won (None if never)."""
    return next((c.at for c in stage_changes(r) if c.activity is Activity.DEAL_WON), None)


def _list(record: Record, field: str) -> list[Record]:
    value = record.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MappingError(f"{field} is not a list of records")
    return value


def map_opportunity(r: Record, m: TrytonMapping) -> Batch:
    """`sale.opportunity` → `deal` and its stage events."""
    key = str(record_id(r))
    changes = stage_changes(r)
    deal = ObjectRow(
        type=ObjectType.DEAL,
        source_system=SYSTEM,
        source_key=key,
        customer=related_text(r, "party.rec_name"),
        legal_entity=m.entity(related_text(r, "company.rec_name")),
        owner=related_text(r, "employee.rec_name"),
        currency=related_text(r, "currency.code"),
        amount=amount(r, "amount"),
        attributes={
            "number": text(r, "number"),
            "description": text(r, "description"),
            "state": text(r, "state"),
            "party_id": related(r, "party").get("id"),
            "start_date": _iso(day(r, "start_date")),
            "end_date": _iso(day(r, "end_date")),
            "sales": [record_id(s) for s in _list(r, "_sales")],
            "stage_time_source": changes[-1].source if changes else None,
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    ref = (EventObject(SYSTEM, ObjectType.DEAL, key, "deal"),)
    events = [EventRow(c.activity, c.at, SYSTEM, key, ref, {"source": c.source}) for c in changes]
    return Batch(objects=[deal], events=events)


# -------------------------------------------------------------------------------- projects


def map_project(r: Record, m: TrytonMapping) -> Batch:
    """`project.work` of type project → `project`, `project.created`, deal → project link."""
    key = str(record_id(r))
    deal = r.get("_deal")
    if deal is not None and (isinstance(deal, bool) or not isinstance(deal, int)):
        raise MappingError(f"_deal is not an opportunity id: {deal!r:.40}")
    method = text(r, "project_invoice_method")
    project = ObjectRow(
        type=ObjectType.PROJECT,
        source_system=SYSTEM,
        source_key=key,
        customer=related_text(r, "party.rec_name"),
        legal_entity=m.entity(related_text(r, "company.rec_name")),
        currency=related_text(r, "currency.code"),
        attributes={
            "name": text(r, "name"),
            "number": text(r, "number"),
            "status": related_text(r, "status.rec_name"),
            "invoice_method": method,
            "billing_type": BILLING_TYPES.get(method or ""),
            "party_id": related(r, "party").get("id"),
            "deal_id": None if deal is None else str(deal),
            "deal_rule": r.get("_deal_rule"),
            "created_by": related_text(r, "create_uid.login"),
            "touchless": related_text(r, "create_uid.login") in m.integration_users,
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    refs = [EventObject(SYSTEM, ObjectType.PROJECT, key, "project")]
    links = []
    if deal is not None:
        refs.append(EventObject(SYSTEM, ObjectType.DEAL, str(deal), "deal"))
        links.append(
            LinkRow(
                SYSTEM,
                ObjectType.DEAL,
                str(deal),
                SYSTEM,
                ObjectType.PROJECT,
                key,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        )
    created = EventRow(
        Activity.PROJECT_CREATED,
        required_when(r, "create_date"),
        SYSTEM,
        key,
        tuple(refs),
        {"by": project.attributes["created_by"]},
    )
    return Batch(objects=[project], events=[created], links=links)


def deal_for_project(
    project: Record, wins: Iterable[tuple[int, int | None, int | None, datetime]]
) -> int | None:
    """Rule `party`: the same party's and company's opportunity won last at or before the
    project's creation. `wins` are (opportunity id, party id, company id, first won at)."""
    created = required_when(project, "create_date")
    party, company = related(project, "party").get("id"), related(project, "company").get("id")
    if party is None:
        return None
    best: tuple[datetime, int] | None = None
    for opportunity, o_party, o_company, won in wins:
        if o_party == party and o_company == company and won <= created:
            best = max(best, (won, opportunity)) if best else (won, opportunity)
    return best[1] if best else None


# ------------------------------------------------------------------------------ work items


def line_amount(hours: Decimal, price: Decimal | None) -> Decimal | None:
    """What the hours are worth at the work's list price, rounded to the cent."""
    if price is None:
        return None
    return (hours * price).quantize(CENT, ROUND_HALF_UP)


def map_timesheet_line(r: Record, m: TrytonMapping) -> Batch:
    """`timesheet.line` → `work_item` (time), logged/approved, part of its project, billed on
    its invoice (and that invoice bills the project)."""
    key = str(record_id(r))
    duration = r.get("duration")
    if not isinstance(duration, timedelta):
        raise MappingError(f"duration is not a time span: {duration!r:.40}")
    micros = Decimal(duration // timedelta(microseconds=1))
    hours = micros / Decimal(3_600_000_000)
    project = r.get("_project") or {}
    if not isinstance(project, dict):
        raise MappingError("_project is not a record")
    project_key = str(record_id(project)) if project else None
    billable = project.get("invoice_method") == "timesheet"
    price = amount(project, "list_price") if project else None
    invoice_line = related(r, "invoice_line")
    invoice = invoice_line.get("invoice")
    invoice_key = None if invoice is None else str(invoice)
    item = ObjectRow(
        type=ObjectType.WORK_ITEM,
        source_system=SYSTEM,
        source_key=key,
        legal_entity=m.entity(related_text(r, "company.rec_name")),
        owner=related_text(r, "employee.rec_name"),
        currency=text(project, "currency") if project else None,
        amount=line_amount(hours, price) if billable else None,
        attributes={
            "kind": "time",
            "project_id": project_key,
            "work_id": related(r, "work").get("id"),
            "work_date": _iso(day(r, "date")),
            "hours": decimal_text(hours),
            "billable": billable,
            "status": "invoiced" if invoice_line else "open",
            "invoice_id": invoice_key,
            "description": text(r, "description"),
            "unit_price": None if price is None else str(price),
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    batch = Batch(objects=[item])
    refs = [EventObject(SYSTEM, ObjectType.WORK_ITEM, key, "work_item")]
    if project_key is not None:
        refs.append(EventObject(SYSTEM, ObjectType.PROJECT, project_key, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.PROJECT,
                project_key,
                LinkQualifier.PART_OF,
                SYSTEM,
            )
        )
    if invoice_key is not None:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.INVOICE,
                invoice_key,
                LinkQualifier.BILLED_ON,
                SYSTEM,
            )
        )
        if project_key is not None:
            batch.links.append(
                LinkRow(
                    SYSTEM,
                    ObjectType.INVOICE,
                    invoice_key,
                    SYSTEM,
                    ObjectType.PROJECT,
                    project_key,
                    LinkQualifier.BILLS,
                    SYSTEM,
                )
            )
    entered = required_when(r, "create_date")
    for activity in (Activity.WORK_LOGGED, Activity.WORK_APPROVED):
        batch.events.append(EventRow(activity, entered, SYSTEM, key, tuple(refs)))
    return batch


# -------------------------------------------------------------------------------- invoices


def invoice_times(r: Record) -> dict[Activity, datetime]:
    """Created, posted and voided times of a customer invoice (see the module docstring)."""
    out = {Activity.INVOICE_CREATED: required_when(r, "create_date")}
    state = r.get("state")
    move, cancel = related(r, "move"), related(r, "cancel_move")
    posted = when(move, "create_date") if move else None
    if posted is not None and state in ("posted", "paid", "cancelled"):
        out[Activity.INVOICE_POSTED] = posted
    if state == "cancelled":
        voided = when(cancel, "create_date") if cancel else None
        out[Activity.INVOICE_VOIDED] = voided or required_when(r, "last_modified_at")
    return out


def map_invoice(r: Record, m: TrytonMapping) -> Batch:
    """`account.invoice` (customer) → `invoice` with its lifecycle events and its payments."""
    key = str(record_id(r))
    total = amount(r, "total_amount")
    currency = related_text(r, "currency.code")
    invoice = ObjectRow(
        type=ObjectType.INVOICE,
        source_system=SYSTEM,
        source_key=key,
        customer=related_text(r, "party.rec_name"),
        legal_entity=m.entity(related_text(r, "company.rec_name")),
        currency=currency,
        amount=total,
        attributes={
            "kind": "credit_note" if total is not None and total < 0 else "invoice",
            "number": text(r, "number"),
            "state": text(r, "state"),
            "invoice_date": _iso(day(r, "invoice_date")),
            "party_id": related(r, "party").get("id"),
            "payment_lines": [record_id(p) for p in _list(r, "_payments")],
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    batch = Batch(objects=[invoice])
    ref = EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")
    for activity, at in invoice_times(r).items():
        batch.events.append(EventRow(activity, at, SYSTEM, key, (ref,)))
    for line in _list(r, "_payments"):
        batch.extend(map_payment_line(line, key, currency))
    return batch


def map_payment_line(line: Record, invoice_key: str, invoice_currency: str | None) -> Batch:
    """A move line in an invoice's `payment_lines` → `payment`, `payment.received`, the
    invoice → payment `settled_by` link. Amount: credit − debit (the company's currency)."""
    key = str(record_id(line))
    credit, debit = amount(line, "credit") or Decimal(0), amount(line, "debit") or Decimal(0)
    payment = ObjectRow(
        type=ObjectType.PAYMENT,
        source_system=SYSTEM,
        source_key=key,
        customer=related_text(line, "party.rec_name"),
        currency=related_text(line, "currency.code") or invoice_currency,
        amount=credit - debit,
        attributes={
            "invoice_id": invoice_key,
            "date": _iso(day(line, "date")),
            "move": related_text(line, "move.rec_name"),
        },
        source_updated_at=when(line, "last_modified_at"),
    )
    refs = (
        EventObject(SYSTEM, ObjectType.PAYMENT, key, "payment"),
        EventObject(SYSTEM, ObjectType.INVOICE, invoice_key, "invoice"),
    )
    return Batch(
        objects=[payment],
        events=[
            EventRow(
                Activity.PAYMENT_RECEIVED, required_when(line, "create_date"), SYSTEM, key, refs
            )
        ],
        links=[
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                invoice_key,
                SYSTEM,
                ObjectType.PAYMENT,
                key,
                LinkQualifier.SETTLED_BY,
                SYSTEM,
            )
        ],
    )
