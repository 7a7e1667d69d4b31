"""Pure mappers from (enriched) Tryton records to canonical rows; Tryton names stop here.

Deals and projects are mapped here; time lines, invoices and payments in `billing`; reading the
decoded values (times, related records, ids) in `values`. Records are `search_read` rows decoded by
`client.decode` (datetimes aware UTC, dates, Decimals, timedeltas), Many2One fields read as
`<field>.` sub-records, plus the `_…` members the streams attach (a deal's sales and audit trail, a
project's deal, a time line's project, an invoice's payments). Every failure is a `MappingError`
naming the field.

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
from datetime import datetime

from collectors.base import Record
from collectors.erp_tryton.values import (
    SYSTEM,
    TrytonMapping,
    day,
    iso_day,
    midnight,
    record_id,
    related,
    related_list,
    related_text,
    required_when,
    when,
)
from collectors.errors import MappingError
from collectors.mapping import amount, text
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

WON_SALE_STATES = frozenset({"confirmed", "processing", "done"})


LOST_SALE_STATES = frozenset({"cancelled"})


#: Tryton's project invoice method → Throughline's billing type.
BILLING_TYPES = {
    "timesheet": "time_and_materials",
    "effort": "fixed_fee",
    "progress": "fixed_fee",
    "manual": "manual",
}


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
    for sale in related_list(r, "_sales"):
        sale_id = record_id(sale)
        timeline.append((required_when(sale, "create_date"), -1, sale_id, "draft"))
        for entry in related_list(sale, "transitions"):
            state = text(entry, "state")
            if state:
                timeline.append((required_when(entry, "at"), record_id(entry), sale_id, state))
    for entry in related_list(r, "_log"):
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
            "start_date": iso_day(day(r, "start_date")),
            "end_date": iso_day(day(r, "end_date")),
            "sales": [record_id(s) for s in related_list(r, "_sales")],
            "stage_time_source": changes[-1].source if changes else None,
        },
        source_updated_at=when(r, "last_modified_at"),
    )
    ref = (EventObject(SYSTEM, ObjectType.DEAL, key, "deal"),)
    events = [EventRow(c.activity, c.at, SYSTEM, key, ref, {"source": c.source}) for c in changes]
    return Batch(objects=[deal], events=events)


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
