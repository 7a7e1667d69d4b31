"""PSA side, part 2: weekly time entries and expenses, their approval flow, and the psa-erp
time-posting jobs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from collectors.demo_estate.model import Person
from collectors.demo_estate.sim_base import (
    RecordBuilder,
    World,
    at_time,
    biz_after,
    monday,
    money,
)
from collectors.demo_estate.sim_jobs import Attempt, Incidents, plan_attempts, write_chain
from collectors.demo_estate.sim_projects import FF, Project

RATES_USD = (140, 175, 220, 280)
FX_RATE_FACTOR = {"USD": 1.0, "GBP": 0.8, "EUR": 0.92}
#: Share of time postings that fail on an unknown project code after the ERP's restore.
UNKNOWN_AFTER_RESTORE_P = 0.3
CATEGORIES = (
    ("travel", "Lufthansa"),
    ("hotel", "Marriott"),
    ("meals", "Pret A Manger"),
    ("travel", "Deutsche Bahn"),
    ("software", "JetBrains"),
    ("hotel", "Premier Inn"),
)


@dataclass
class WorkItem:
    """A time entry or an expense, as billing sees it."""

    rec: RecordBuilder
    project: Project
    billable: bool
    amount: Decimal
    work_date: date
    approved_at: datetime | None
    written_off: bool
    is_time: bool
    invoice_id: str | None = None


def deliver(
    world: World,
    projects: list[Project],
    people: tuple[Person, ...],
    incidents: Incidents,
) -> tuple[list[WorkItem], dict[str, int]]:
    """Work on every active project; returns the items and each project's planned weeks."""
    rng = world.rng
    consultants = [p for p in people if p.role == "consultant"]
    items: list[WorkItem] = []
    weeks_of: dict[str, int] = {}
    for p in projects:
        if p.activated is None:
            continue
        internal = p.deal is None
        team = rng.sample(consultants, 2 if internal else rng.choices((1, 2, 3), (4, 4, 2))[0])
        rates = {c.id: _rate(c, p.currency) for c in team}
        burn = sum(rates.values()) * 30
        weeks = (
            (world.horizon_end - p.activated).days // 7
            if internal
            else max(2, min(30, round(float(p.budget) / float(burn))))
        )
        weeks_of[p.id] = weeks
        target = p.budget * Decimal(str(round(rng.uniform(0.9, 1.1), 2)))
        spent = Decimal(0)
        first_week = max(monday(p.activated.date()), monday(world.start.date())) + timedelta(7)
        for w in range(weeks + 4):
            week = first_week + timedelta(days=7 * w)
            if (not internal and spent >= target) or (
                p.cancelled and at_time(week, 0) > p.cancelled
            ):
                break
            if at_time(week, 0) >= world.horizon_end:
                break
            for c in team:
                if rng.random() < (0.5 if internal else 0.1):
                    continue
                hours = Decimal(
                    rng.choice((4, 6, 8))
                    if internal
                    else rng.choices((8, 16, 24, 32, 36, 40), (1, 2, 3, 4, 3, 3))[0]
                )
                billable = not internal and p.billing_type != FF and rng.random() < 0.93
                item = _time_entry(world, p, c, week, hours, rates[c.id], billable)
                items.append(item)
                spent += item.amount
                if rng.random() < 0.12:
                    items.append(_expense(world, p, c, week))
    _time_posting(world, items, incidents)
    return items, weeks_of


def _rate(c: Person, currency: str) -> Decimal:
    raw = RATES_USD[min(c.rate_tier, 3)] * FX_RATE_FACTOR[currency]
    return Decimal(int(round(raw / 5) * 5))


def _submitted(world: World, week: date) -> datetime:
    rng = world.rng
    if rng.random() < 0.7:
        return at_time(week + timedelta(days=4), 14) + timedelta(seconds=rng.randrange(5 * 3600))
    return at_time(week + timedelta(days=7), 8) + timedelta(seconds=rng.randrange(3 * 3600))


def _flow(world: World, rec: RecordBuilder, submitted: datetime) -> tuple[datetime | None, bool]:
    """Approve, reject and resubmit, hold, or write off; (approved_at, written_off)."""
    rng = world.rng
    r = rng.random()
    t = submitted
    if r < 0.04:
        t = biz_after(rng, t, rng.randint(1, 2))
        rec.update(t, status="rejected", rejected_at=t)
        t = biz_after(rng, t, rng.randint(1, 3))
        rec.update(t, status="submitted", resubmitted_at=t)
    elif r < 0.08:
        t = biz_after(rng, t, rng.randint(1, 3))
        rec.update(t, status="on_hold", on_hold_at=t)
        if rng.random() < 0.2:
            return None, False
        # a question to the consultant or the client, answered within about a week
        t += timedelta(days=rng.randint(2, 8))
    approved = biz_after(rng, t, rng.randint(0, 4))
    rec.update(approved, status="approved", approved_at=approved)
    if 0.08 <= r < 0.11:
        off = biz_after(rng, approved, rng.randint(2, 20))
        rec.update(off, status="written_off", written_off_at=off)
        return approved, True
    return approved, False


def _time_entry(
    world: World,
    p: Project,
    c: Person,
    week: date,
    hours: Decimal,
    rate: Decimal,
    billable: bool,
) -> WorkItem:
    tid = f"TE-{world.next_number('time-entry', 1):07d}"
    submitted = _submitted(world, week)
    hours, rate = money(hours), money(rate)
    amount = money(hours * rate)
    rec = world.new(
        "time_entry",
        tid,
        submitted,
        id=tid,
        project_id=p.id,
        person=c.username,
        work_date=week,
        hours=hours,
        rate=rate,
        amount=amount,
        currency=p.currency,
        billable=billable,
        status="submitted",
        submitted_at=submitted,
        rejected_at=None,
        resubmitted_at=None,
        on_hold_at=None,
        approved_at=None,
        written_off_at=None,
        invoice_id=None,
    )
    approved, off = _flow(world, rec, submitted)
    return WorkItem(rec, p, billable, amount, week, approved, off, is_time=True)


def _expense(world: World, p: Project, c: Person, week: date) -> WorkItem:
    rng = world.rng
    eid = f"EXP-{world.next_number('expense', 1):06d}"
    category, merchant = rng.choice(CATEGORIES)
    spent_on = week + timedelta(days=rng.randint(0, 4))
    submitted = _submitted(world, week)
    amount = money(rng.uniform(25, 1500))
    billable = p.deal is not None and p.billing_type != FF and rng.random() < 0.8
    rec = world.new(
        "expense",
        eid,
        submitted,
        id=eid,
        project_id=p.id,
        person=c.username,
        expense_date=spent_on,
        category=category,
        merchant=merchant,
        amount=amount,
        currency=p.currency,
        billable=billable,
        receipt_attached=rng.random() < 0.9,
        status="submitted",
        submitted_at=submitted,
        rejected_at=None,
        resubmitted_at=None,
        on_hold_at=None,
        approved_at=None,
        written_off_at=None,
        invoice_id=None,
    )
    approved, off = _flow(world, rec, submitted)
    return WorkItem(rec, p, billable, amount, spent_on, approved, off, is_time=False)


def _time_posting(world: World, items: list[WorkItem], incidents: Incidents) -> None:
    """One psa-erp job chain per project and approval day."""
    rng = world.rng
    batches: dict[tuple[str, date], list[WorkItem]] = defaultdict(list)
    for item in items:
        if item.is_time and item.approved_at is not None:
            batches[(item.project.id, item.approved_at.date())].append(item)
    for (project_id, _day), batch in sorted(batches.items(), key=lambda kv: kv[0]):
        last = max(i.approved_at for i in batch if i.approved_at is not None)
        t = last + timedelta(minutes=rng.randint(10, 40), seconds=rng.randint(0, 59))
        attempts: list[Attempt] = []
        first_id = batch[0].rec.id
        restored = incidents.outage_end <= t and t.date() == incidents.outage_end.date()
        if restored and rng.random() < UNKNOWN_AFTER_RESTORE_P:
            # the ERP came back from the night's backup: projects synced that morning are
            # missing until the master-data sync runs again overnight
            message = f"Unknown project code '{project_id}' (time entry {first_id})"
            attempts.append(Attempt(t, ("VALIDATION", 422, message)))
            t = biz_after(rng, t, 1)
        attempts += plan_attempts(world, "psa-erp", t, incidents)
        c = batch[0].project.customer
        payload = {
            "project_code": project_id,
            "time_entry_ids": [i.rec.id for i in batch],
            "hours": str(sum(Decimal(i.rec.changes[0][1]["hours"]) for i in batch)),
            "amount": str(sum((i.amount for i in batch), Decimal(0))),
            "currency": batch[0].project.currency,
            "customer_number": c.number if c else None,
            "tax_id": c.tax_id if c else None,
            "iban": c.iban if c else None,
            "billing_email": c.email if c else None,
        }
        write_chain(
            world,
            "psa-erp",
            "time_posting",
            {"system": "psa", "type": "time_entry", "id": first_id},
            payload,
            attempts,
        )
