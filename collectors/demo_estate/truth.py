"""Ground truth: the canonical content a correct collector run must produce, from the model.

Computed from the internal records (never by re-parsing HTTP payloads), for the states visible
at ``as_of``. ``MAPPINGS`` is the mapping table collectors follow; links are counted from each
record's state at ``as_of`` (a work item moved from a voided invoice to its re-issue has one
``billed_on`` link, to the re-issue; ``links_superseded`` counts such moves).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from collectors.demo_estate.model import KIND_SYSTEM, Estate, Record, State, Version

WON, LOST = "Closed Won", "Closed Lost"
OPEN_STAGES = ("Prospecting", "Proposal", "Negotiation")
WIP_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (120, "91-120"), (None, "120+"))


@dataclass(frozen=True)
class SourceMapping:
    """How one kind of source record maps to a canonical object, its events and links."""

    kind: str
    source_system: str
    object_type: str
    amount_field: str | None
    events: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()


_WORK_EVENTS = (
    ("work.logged", "submitted_at"),
    ("work.approved", "approved_at"),
    ("work.written_off", "written_off_at"),
)
_WORK_LINKS = (("part_of", "project_id"), ("billed_on", "invoice_id"))
_INVOICE_EVENTS = (
    ("invoice.created", "createddate"),
    ("invoice.posted", "custbody_tl_posted_at"),
    ("invoice.sent", "custbody_tl_sent_at"),
    ("invoice.voided", "custbody_tl_voided_at"),
)

MAPPINGS: tuple[SourceMapping, ...] = (
    SourceMapping("Account", "crm", "account", None),
    SourceMapping("Opportunity", "crm", "deal", "Amount"),
    SourceMapping(
        "Contract",
        "crm",
        "contract",
        None,
        (("contract.signed", "Signed_At__c"),),
        (("contracted_by", "Opportunity__c"),),
    ),
    SourceMapping(
        "Change_Order__c",
        "crm",
        "change_order",
        "Amount__c",
        (("change_order.approved", "Approved_At__c"),),
        (("amends", "Project_Code__c"),),
    ),
    SourceMapping(
        "project",
        "psa",
        "project",
        "budget",
        (("project.created", "created_at"), ("project.activated", "activated_at")),
        (("provisions", "crm_opportunity_id"),),
    ),
    SourceMapping("time_entry", "psa", "work_item", "amount", _WORK_EVENTS, _WORK_LINKS),
    SourceMapping("expense", "psa", "work_item", "amount", _WORK_EVENTS, _WORK_LINKS),
    SourceMapping(
        "milestone",
        "psa",
        "milestone",
        "amount",
        (("milestone.accepted", "accepted_at"),),
        (("part_of", "project_id"),),
    ),
    SourceMapping("customer", "erp", "account", None),
    SourceMapping(
        "CustInvc",
        "erp",
        "invoice",
        "foreigntotal",
        _INVOICE_EVENTS,
        (("bills", "custbody_tl_project_code"), ("reissued_as", "custbody_tl_replaces")),
    ),
    SourceMapping(
        "CustCred",
        "erp",
        "invoice",
        "foreigntotal",
        _INVOICE_EVENTS,
        (("bills", "custbody_tl_project_code"), ("credits", "custbody_tl_credits")),
    ),
    SourceMapping(
        "CustPymt",
        "erp",
        "payment",
        "foreigntotal",
        (("payment.received", "createddate"),),
        (("settled_by", "custbody_tl_applied_invoice"),),
    ),
)

ACTIVITIES: tuple[str, ...] = (
    "deal.won",
    "deal.lost",
    "deal.reopened",
    *dict.fromkeys(a for m in MAPPINGS for a, _ in m.events),
)


@dataclass
class GroundTruth:
    """Expected canonical content at ``as_of`` (see the module docstring for the rules)."""

    as_of: datetime
    objects: dict[str, int]
    events: dict[str, int]
    links: dict[str, int]
    links_superseded: dict[str, int]
    sync_attempts: int
    sync_attempts_failed: int
    sync_open_exceptions: int
    object_keys_checksum: dict[str, str]
    amount_totals: dict[str, str]
    source_counts: dict[str, int]
    fx_missing_dates: list[date]
    wip_amounts: dict[str, dict[str, str]]
    wip_items: dict[str, int]
    scenario: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes and dates as ISO strings)."""
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _visible(estate: Estate, kind: str, as_of: datetime) -> Iterator[tuple[Record, State]]:
    for record, version in estate.visible(kind, as_of):
        yield record, version.state


def ground_truth(estate: Estate, as_of: datetime) -> GroundTruth:
    """The canonical counts, checksums and scenario facts visible at ``as_of``."""
    objects: Counter[str] = Counter({m.object_type: 0 for m in MAPPINGS})
    events: Counter[str] = Counter({a: 0 for a in ACTIVITIES})
    links: Counter[str] = Counter({q: 0 for m in MAPPINGS for q, _ in m.links})
    superseded: Counter[str] = Counter()
    amounts = {m.object_type: Decimal("0.00") for m in MAPPINGS if m.amount_field}
    keys: dict[str, list[str]] = {m.object_type: [] for m in MAPPINGS}
    for m in MAPPINGS:
        for record, version in estate.visible(m.kind, as_of):
            state = version.state
            objects[m.object_type] += 1
            keys[m.object_type].append(f"{m.source_system}|{record.id}")
            if m.amount_field and state.get(m.amount_field) is not None:
                amounts[m.object_type] += state[m.amount_field]
            for activity, name in m.events:
                if state.get(name) is not None and state[name] <= as_of:
                    events[activity] += 1
            for qualifier, name in m.links:
                if state.get(name) is not None:
                    links[qualifier] += 1
                superseded[qualifier] += _moves(record, version, name)
    for _, state in _visible(estate, "OpportunityFieldHistory", as_of):
        stage_event = _stage_event(state)
        if stage_event:
            events[stage_event] += 1
    jobs = [state for _, state in _visible(estate, "job", as_of)]
    source_counts = dict(
        sorted(
            (f"{KIND_SYSTEM[kind]}.{kind}", sum(1 for _ in estate.visible(kind, as_of)))
            for kind in estate.records
        )
    )
    wip_amounts, wip_items = _wip(estate, as_of)
    return GroundTruth(
        as_of=as_of,
        objects=dict(sorted(objects.items())),
        events=dict(sorted(events.items())),
        links=dict(sorted(links.items())),
        links_superseded={k: v for k, v in sorted(superseded.items()) if v},
        sync_attempts=len(jobs),
        sync_attempts_failed=sum(1 for j in jobs if j["status"] == "error"),
        sync_open_exceptions=_open_exceptions(jobs),
        object_keys_checksum={t: _checksum(lines) for t, lines in sorted(keys.items())},
        amount_totals={t: str(v) for t, v in sorted(amounts.items())},
        source_counts=source_counts,
        fx_missing_dates=[d for d in estate.scenario.fx_missing_dates if d <= as_of.date()],
        wip_amounts=wip_amounts,
        wip_items=wip_items,
        scenario=_scenario(estate, as_of),
    )


def _checksum(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def _moves(record: Record, version: Version, name: str) -> int:
    """How many earlier non-null values of ``name`` were replaced by the time of ``version``."""
    values: list[Any] = []
    for v in record.versions:
        value = v.state.get(name)
        if value is not None and (not values or values[-1] != value):
            values.append(value)
        if v is version:
            break
    current = version.state.get(name)
    return len(values) - (1 if current is not None else 0)


def _stage_event(state: State) -> str | None:
    if state["Field"] != "StageName":
        return None
    if state["NewValue"] == WON:
        return "deal.won"
    if state["NewValue"] == LOST:
        return "deal.lost"
    if state["OldValue"] in (WON, LOST) and state["NewValue"] in OPEN_STAGES:
        return "deal.reopened"
    return None


def _open_exceptions(jobs: list[State]) -> int:
    latest: dict[str, State] = {}
    for job in jobs:
        known = latest.get(job["correlation_id"])
        if known is None or job["attempt"] > known["attempt"]:
            latest[job["correlation_id"]] = job
    return sum(1 for j in latest.values() if j["status"] == "error")


def _wip(estate: Estate, as_of: datetime) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """Approved billable work not on a posted (non-voided) invoice, by age bucket and currency."""
    posted = {
        r.id
        for r, s in _visible(estate, "CustInvc", as_of)
        if s["custbody_tl_posted_at"] is not None and s["status"] != "Voided"
    }
    amounts: dict[str, dict[str, Decimal]] = {
        label: defaultdict(Decimal) for _, label in WIP_BUCKETS
    }
    items: Counter[str] = Counter({label: 0 for _, label in WIP_BUCKETS})
    for kind, day_field in (("time_entry", "work_date"), ("expense", "expense_date")):
        for _, s in _visible(estate, kind, as_of):
            if s["status"] != "approved" or not s["billable"] or s["invoice_id"] in posted:
                continue
            age = (as_of.date() - s[day_field]).days
            label = next(lbl for limit, lbl in WIP_BUCKETS if limit is None or age <= limit)
            amounts[label][s["currency"]] += s["amount"]
            items[label] += 1
    return (
        {
            label: {c: str(v) for c, v in sorted(by_cur.items())}
            for label, by_cur in amounts.items()
        },
        dict(items),
    )


def _scenario(estate: Estate, as_of: datetime) -> dict[str, Any]:
    history: dict[str, list[State]] = defaultdict(list)
    for _, s in _visible(estate, "OpportunityFieldHistory", as_of):
        if s["Field"] == "StageName":
            history[s["OpportunityId"]].append(s)
    won: dict[str, list[State]] = {
        opp: sorted(rows, key=lambda r: r["CreatedDate"])
        for opp, rows in history.items()
        if any(r["NewValue"] == WON for r in rows)
    }
    reopened_lost = sorted(o for o, rows in won.items() if rows[-1]["NewValue"] == LOST)
    no_project = sorted(
        r.id
        for r, s in _visible(estate, "Opportunity", as_of)
        if s["No_Project_Required__c"] and r.id in won
    )
    projects: Counter[str] = Counter(
        s["crm_opportunity_id"]
        for _, s in _visible(estate, "project", as_of)
        if s["crm_opportunity_id"]
    )
    excluded = set(reopened_lost) | set(no_project)
    invoices = list(_visible(estate, "CustInvc", as_of))
    outage = estate.scenario.erp_outage
    return {
        "stuck_handoff_deals": sorted(d for d in estate.scenario.stuck_handoff_deals if d in won),
        "deals_without_project": sorted(o for o in won if o not in excluded and not projects[o]),
        "erp_outage": [outage[0], outage[1]],
        "bad_release_day": estate.scenario.bad_release_day,
        "provisioning_checks_from": estate.scenario.provisioning_checks_from,
        "deals_won_twice": sorted(
            o for o, rows in won.items() if sum(r["NewValue"] == WON for r in rows) >= 2
        ),
        "deals_reopened_lost": reopened_lost,
        "deals_no_project_required": no_project,
        "deals_with_two_projects": sorted(o for o, n in projects.items() if n >= 2),
        "voided_reissued_invoices": sorted(
            [s["custbody_tl_replaces"], r.id] for r, s in invoices if s["custbody_tl_replaces"]
        ),
        "credit_notes": sorted(
            [r.id, s["custbody_tl_credits"]] for r, s in _visible(estate, "CustCred", as_of)
        ),
        "projects_never_billed": [
            p
            for p in estate.scenario.projects_never_billed
            if any(r.id == p for r, _ in _visible(estate, "project", as_of))
        ],
    }
