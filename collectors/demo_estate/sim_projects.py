"""PSA side, part 1: provisioning won deals into projects (with the crm-psa jobs), second
phases, change orders and fixed-fee milestones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.demo_estate.model import Customer, Person
from collectors.demo_estate.sim_base import (
    RecordBuilder,
    World,
    at_time,
    biz_after,
    biz_time,
    monday,
    money,
    sf_id,
)
from collectors.demo_estate.sim_crm import Deal
from collectors.demo_estate.sim_jobs import Attempt, Error, Incidents, plan_attempts, write_chain
from collectors.demo_estate.sim_people import INTEGRATION_USER, PRACTICE_CODES

TM, FF = "T&M", "Fixed Fee"


@dataclass
class Project:
    """A PSA project and the facts later steps need."""

    id: str
    rec: RecordBuilder
    deal: Deal | None
    customer: Customer | None
    currency: str
    billing_type: str
    budget: Decimal
    created: datetime
    activated: datetime | None
    billing_setup: datetime | None
    cancelled: datetime | None = None
    milestones: list[tuple[RecordBuilder, datetime | None]] = field(default_factory=list)


def provision(
    world: World,
    deals: list[Deal],
    people: tuple[Person, ...],
    customers: tuple[Customer, ...],
    incidents: Incidents,
    bad_day: date,
    checks_from: datetime,
) -> tuple[list[Project], list[str]]:
    """Projects for won deals, with the provisioning jobs; also the stuck deals' ids.

    Until ``checks_from`` provisioning is smooth: most deals are provisioned by the integration
    within minutes (touchless); deals sales flag for a custom set-up are left to the project
    managers, who create the project by hand within a business day (no provisioning job). From
    ``checks_from`` on, the PSA checks customer master data (a VAT id, an unambiguous name):
    deals of customers that fail it, and a few with other data problems, fail provisioning and
    wait for a project manager to fix the data and create the project by hand, two to eight
    business days later, if at all: about a third of them, and those still waiting at the end of
    history, stay stuck for good, and so do two deals won one to three weeks before its end (the
    stuck handoffs).
    """
    rng = world.rng
    pms = [p for p in people if p.role == "pm"]
    twins = _duplicate_names(customers)
    wins = sorted((d for d in deals if d.first_won and not d.no_project), key=lambda d: d.wins[0])
    recent = [
        d.id
        for d in wins
        if world.history_end - timedelta(days=21) <= d.wins[0]
        and d.wins[0] < world.history_end - timedelta(days=7)
    ]
    forced = set(rng.sample(recent, min(2, len(recent))))
    projects: list[Project] = []
    stuck: list[str] = []
    for deal in wins:
        won = deal.wins[0]
        first = won + timedelta(minutes=rng.randint(1, 8), seconds=rng.randint(0, 59))
        r = rng.random()
        bad_data = deal.customer.tax_id is None or deal.customer.number in twins
        fixed: datetime | None = None
        if deal.id in forced:
            path = "stuck"
        elif won >= checks_from and (bad_data or r < 0.12):
            path = "fix"
            fixed = biz_after(rng, won, rng.randint(2, 8))
            if won < world.history_end and (fixed >= world.history_end or rng.random() < 0.35):
                path = "stuck"  # nobody gets to it (before the end of history, nor after)
        else:
            path = "touchless" if r < 0.85 else "manual"
        attempts: list[Attempt] = []
        if won.date() == bad_day and path != "manual":
            release = (
                "VALIDATION",
                400,
                f"Field 'practice_code' is required (opportunity "
                f"{deal.id}, mapping release 2.14.0)",
            )
            attempts.append(Attempt(first, release, {"practice_code": None}))
            first = biz_after(rng, at_time(bad_day, 18), 1).replace(hour=9) + timedelta(
                minutes=rng.randint(0, 90)
            )
        pm = rng.choice(pms)
        created: datetime | None
        if path == "touchless":
            attempts += plan_attempts(world, "crm-psa", first, incidents)
            created, creator = (
                attempts[-1].at + timedelta(seconds=rng.randint(2, 9)),
                INTEGRATION_USER,
            )
        elif path == "manual":
            created, creator = biz_after(rng, won, rng.randint(0, 1)), pm.username
        elif path == "stuck":
            error = _data_error(world, deal, twins)
            attempts.append(Attempt(first, error))
            for _ in range(rng.randint(0, 2)):
                attempts.append(Attempt(biz_after(rng, attempts[-1].at, rng.randint(1, 6)), error))
            created, creator = None, ""
            stuck.append(deal.id)
        else:
            assert fixed is not None
            attempts.append(Attempt(first, _data_error(world, deal, twins)))
            created = max(fixed, first + timedelta(minutes=rng.randint(20, 90)))
            attempts.append(Attempt(created + timedelta(minutes=rng.randint(10, 180))))
            creator = pm.username
        if attempts:
            write_chain(
                world,
                "crm-psa",
                "project_provisioning",
                {"system": "crm", "type": "opportunity", "id": deal.id},
                _payload(deal),
                attempts,
            )
        if created is not None:
            projects.append(_project(world, deal, created, creator, pm, deal.amount))
    projects += _second_phases(world, projects, pms)
    return sorted(projects, key=lambda p: p.created), stuck


def _duplicate_names(customers: tuple[Customer, ...]) -> dict[str, Customer]:
    by_name: dict[str, list[Customer]] = {}
    for c in customers:
        by_name.setdefault(c.name, []).append(c)
    out: dict[str, Customer] = {}
    for group in by_name.values():
        if len(group) > 1:
            out[group[0].number], out[group[1].number] = group[1], group[0]
    return out


def _data_error(world: World, deal: Deal, twins: dict[str, Customer]) -> Error:
    rng, c = world.rng, deal.customer
    if c.tax_id is None:
        return "VALIDATION", 422, f"Customer '{c.number}' has no tax id (VAT) on record {c.erp_id}"
    if c.number in twins:
        twin = twins[c.number]
        return (
            "DUPLICATE",
            409,
            f"Duplicate customer: '{c.name}' matches {c.number} and {twin.number}",
        )
    return rng.choice(
        (
            (
                "VALIDATION",
                422,
                f"Practice '{deal.practice}' has no mapping for legal entity "
                f"{c.legal_entity} (rule {rng.randint(10, 99)})",
            ),
            (
                "VALIDATION",
                422,
                f"Billing contact missing for account {c.crm_id} (customer {c.number})",
            ),
            (
                "DUPLICATE",
                409,
                f"Project for opportunity {deal.id} already exists in draft "
                f"{rng.randint(10000, 99999)}",
            ),
        )
    )


def _payload(deal: Deal) -> dict[str, Any]:
    c = deal.customer
    return {
        "opportunity_id": deal.id,
        "opportunity_name": deal.opp.changes[0][1]["Name"],
        "account_id": c.crm_id,
        "customer_number": c.number,
        "customer_name": c.name,
        "legal_entity": c.legal_entity,
        "practice_code": PRACTICE_CODES[deal.practice],
        "amount": str(deal.amount),
        "currency": deal.currency,
        "tax_id": c.tax_id,
        "iban": c.iban,
        "billing_email": c.email,
    }


def _project(
    world: World,
    deal: Deal,
    created: datetime,
    creator: str,
    pm: Person,
    budget: Decimal,
    phase: int = 1,
) -> Project:
    rng = world.rng
    pid = f"PRJ-{world.next_number('project', 101):05d}"
    billing_type = TM if rng.random() < 0.7 else FF
    c = deal.customer
    name = deal.opp.changes[0][1]["Name"].split(" - ", 1)[1]
    rec = world.new(
        "project",
        pid,
        created,
        id=pid,
        name=f"{c.name.split()[0]} {name}" + (f" - Phase {phase}" if phase > 1 else ""),
        customer_id=c.number,
        customer_name=c.name,
        legal_entity=c.legal_entity,
        practice=deal.practice,
        manager=pm.username,
        crm_opportunity_id=deal.id,
        billing_type=billing_type,
        budget=budget,
        currency=deal.currency,
        status="Draft",
        created_at=created,
        created_by=creator,
        activated_at=None,
        billing_setup_at=None,
    )
    activated = biz_after(rng, created, rng.randint(1, 8)) if rng.random() < 0.96 else None
    if activated is not None:
        rec.update(activated, status="Active", activated_at=activated)
    base = activated or created
    setup: datetime | None = base + timedelta(minutes=rng.randint(5, 600))
    if rng.random() < 0.04 and billing_type == TM:
        setup = biz_after(rng, base, rng.randint(2, 8))  # billing set up a few days late
    project = Project(
        pid, rec, deal, c, deal.currency, billing_type, budget, created, activated, setup
    )
    if deal.reopened_lost and deal.lost_at is not None:
        project.cancelled = biz_after(rng, max(deal.lost_at, created), rng.randint(1, 3))
        rec.update(project.cancelled, status="Cancelled")
    return project


def _second_phases(world: World, projects: list[Project], pms: list[Person]) -> list[Project]:
    rng = world.rng
    out: list[Project] = []
    for p in projects:
        if p.deal is None or p.activated is None or p.cancelled or rng.random() >= 0.03:
            continue
        created = biz_after(rng, p.activated, rng.randint(25, 90))
        budget = money(p.budget * Decimal(str(round(rng.uniform(0.3, 0.6), 2))))
        out.append(
            _project(
                world, p.deal, created, rng.choice(pms).username, rng.choice(pms), budget, phase=2
            )
        )
    return out


def set_up_billing(world: World, projects: list[Project]) -> list[str]:
    """Write billing set-up times; three T&M projects never get billing.

    They start about three months before the end of history, so their work passes 60 days
    unbilled in its last weeks (old unbilled work, burning the unbilled-aging budget then and
    not all year).
    """
    rng = world.rng
    lo, hi = world.history_end - timedelta(days=96), world.history_end - timedelta(days=86)
    old = [
        p
        for p in projects
        if p.billing_type == TM and p.activated and lo <= p.created < hi and not p.cancelled
    ]
    never = {p.id for p in rng.sample(old, min(3, len(old)))}
    for p in projects:
        if p.id in never:
            p.billing_setup = None
        if p.billing_setup is not None:
            p.rec.update(p.billing_setup, billing_setup_at=p.billing_setup)
    return sorted(never)


def change_orders(world: World, projects: list[Project]) -> None:
    """Change orders on about a tenth of active projects; approved ones raise the budget."""
    rng = world.rng
    for p in projects:
        if p.deal is None or p.activated is None or p.cancelled or rng.random() >= 0.1:
            continue
        t = p.activated
        for _ in range(rng.randint(1, 2)):
            t = biz_after(rng, t, rng.randint(15, 80))
            n = world.next_number("change-order")
            co_id = sf_id("a0X", n)
            amount = money(p.budget * Decimal(str(round(rng.uniform(0.05, 0.4), 2))))
            co = world.new(
                "Change_Order__c",
                co_id,
                t,
                Id=co_id,
                Name=f"CO-{n:05d}",
                Opportunity__c=p.deal.id,
                Project_Code__c=p.id,
                Amount__c=amount,
                CurrencyIsoCode=p.currency,
                Status__c="Submitted",
                Approved_At__c=None,
                CreatedDate=t,
            )
            decided = biz_after(rng, t, rng.randint(2, 10))
            if rng.random() < 0.8:
                co.update(decided, Status__c="Approved", Approved_At__c=decided)
                p.budget += amount
                p.rec.update(decided + timedelta(hours=rng.randint(1, 30)), budget=p.budget)
            else:
                co.update(decided, Status__c="Rejected")


def milestones(world: World, projects: list[Project], weeks_of: dict[str, int]) -> None:
    """Two to four milestones per fixed-fee project, accepted across its delivery."""
    rng = world.rng
    for p in projects:
        if p.billing_type != FF or p.activated is None:
            continue
        n = rng.randint(2, 4)
        shares = [rng.uniform(1, 3) for _ in range(n)]
        amounts = [money(p.budget * Decimal(str(s / sum(shares)))) for s in shares[:-1]]
        amounts.append(p.budget - sum(amounts, Decimal(0)))
        start = monday(p.activated.date()) + timedelta(days=7)
        span = weeks_of.get(p.id, 4) * 7
        for k, amount in enumerate(amounts):
            mid = f"MS-{world.next_number('milestone', 1):05d}"
            rec = world.new(
                "milestone",
                mid,
                p.activated + timedelta(minutes=rng.randint(5, 120)),
                id=mid,
                project_id=p.id,
                name=f"Milestone {k + 1} of {n}",
                amount=amount,
                currency=p.currency,
                status="planned",
                due_date=start + timedelta(days=span * (k + 1) // n),
                accepted_at=None,
            )
            target = start + timedelta(days=span * (k + 1) // n + rng.randint(-3, 12))
            accepted: datetime | None = biz_time(rng, target)
            if rng.random() < 0.06 or (p.cancelled and accepted and accepted > p.cancelled):
                accepted = None
            if accepted is not None:
                accepted = max(accepted, rec.created + timedelta(hours=2))
                rec.update(accepted, status="accepted", accepted_at=accepted)
            p.milestones.append((rec, accepted))


def internal_projects(world: World, pms: list[Person]) -> list[Project]:
    """Three internal, non-billable projects with no customer and no CRM deal."""
    out: list[Project] = []
    created = world.start - timedelta(days=40)
    for name in ("Internal - Training", "Internal - Presales", "Internal - Tooling"):
        pid = f"PRJ-{world.next_number('project', 101):05d}"
        rec = world.new(
            "project",
            pid,
            created,
            id=pid,
            name=name,
            customer_id=None,
            customer_name=None,
            legal_entity="US",
            practice="Strategy",
            manager=pms[0].username,
            crm_opportunity_id=None,
            billing_type=TM,
            budget=Decimal("0.00"),
            currency="USD",
            status="Active",
            created_at=created,
            created_by=pms[0].username,
            activated_at=created,
            billing_setup_at=None,
        )
        out.append(Project(pid, rec, None, None, "USD", TM, Decimal(0), created, created, None))
    return out
