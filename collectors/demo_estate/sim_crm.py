"""CRM side of the simulation: opportunities, their stage history and contracts."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.demo_estate.model import Customer, Person
from collectors.demo_estate.sim_base import (
    DAY,
    RecordBuilder,
    World,
    add_bdays,
    biz_after,
    biz_time,
    is_bday,
    money,
    month_starts,
    sf_id,
)
from collectors.demo_estate.sim_people import LEGAL_ENTITIES, PRACTICES

WON, LOST = "Closed Won", "Closed Lost"
PROBABILITY = {"Prospecting": 10, "Proposal": 40, "Negotiation": 70, WON: 100, LOST: 0}
_KINDS = [
    "Assessment",
    "Implementation",
    "Roadmap",
    "Migration",
    "Rollout",
    "Upgrade",
    "Discovery",
    "Support",
]


@dataclass
class Deal:
    """One opportunity and what happened to it."""

    id: str
    opp: RecordBuilder
    customer: Customer
    practice: str
    owner: Person
    currency: str
    amount: Decimal
    created: datetime
    no_project: bool
    wins: list[datetime] = field(default_factory=list)
    lost_at: datetime | None = None
    reopened_at: datetime | None = None

    @property
    def first_won(self) -> datetime | None:
        """The first time the deal reached Closed Won."""
        return self.wins[0] if self.wins else None

    @property
    def reopened_lost(self) -> bool:
        """Won, reopened, then lost."""
        return bool(self.wins) and self.lost_at is not None and self.lost_at > self.wins[0]


def make_deals(
    world: World, customers: tuple[Customer, ...], people: tuple[Person, ...]
) -> list[Deal]:
    """About 120 opportunities a month over history and horizon, with stage history."""
    rng = world.rng
    owners = [p for p in people if p.role == "sales"]
    weights = [1 / math.pow(r + 1, 0.8) for r in range(len(customers))]
    rng.shuffle(weights)
    cum_weights = list(itertools.accumulate(weights))
    currency = {e.code: e.currency for e in LEGAL_ENTITIES}
    deals: list[Deal] = []
    starts = month_starts(world.start.date(), world.horizon_end.date())
    created_times: list[datetime] = []
    for m in starts:
        days = [
            m + timedelta(days=i) for i in range(31) if (m + timedelta(days=i)).month == m.month
        ]
        for _ in range(rng.randint(112, 132)):
            created_times.append(biz_time(rng, rng.choice(days)))
    created_times = sorted(t for t in created_times if world.start <= t < world.horizon_end)
    for n, created in enumerate(created_times, start=1):
        while True:
            customer = rng.choices(customers, cum_weights=cum_weights)[0]
            if customer.created_at < created - timedelta(days=7):
                break
        practice = rng.choices(PRACTICES, weights=(2, 3, 3, 2))[0]
        amount = money(min(400_000, max(5_000, round(rng.lognormvariate(10.3, 0.7) / 500) * 500)))
        deal_id = sf_id("006", n)
        no_project = rng.random() < 0.025
        owner = rng.choice(owners)
        opp = world.new(
            "Opportunity",
            deal_id,
            created,
            Id=deal_id,
            Name=f"{customer.name} - {practice} {rng.choice(_KINDS)}",
            AccountId=customer.crm_id,
            StageName="Prospecting",
            Probability=10,
            Amount=amount,
            CurrencyIsoCode=currency[customer.legal_entity],
            CloseDate=(created + timedelta(days=rng.randint(30, 90))).date(),
            Practice__c=practice,
            Legal_Entity__c=customer.legal_entity,
            OwnerId=owner.id,
            No_Project_Required__c=no_project,
            CreatedDate=created,
        )
        deal = Deal(
            deal_id,
            opp,
            customer,
            practice,
            owner,
            currency[customer.legal_entity],
            amount,
            created,
            no_project,
        )
        _play_stages(world, deal)
        deals.append(deal)
    return deals


def _history(world: World, deal: Deal, t: datetime, name: str, old: Any, new: Any) -> None:
    n = world.next_number("ofh")
    hid = sf_id("017", n)
    world.new(
        "OpportunityFieldHistory",
        hid,
        t,
        Id=hid,
        OpportunityId=deal.id,
        Field=name,
        OldValue=old,
        NewValue=new,
        CreatedDate=t,
        CreatedById=deal.owner.id,
    )


def _stage(world: World, deal: Deal, t: datetime, old: str, new: str) -> None:
    changes: dict[str, Any] = {"StageName": new, "Probability": PROBABILITY[new]}
    if new in (WON, LOST):
        changes["CloseDate"] = t.date()
    deal.opp.update(t, **changes)
    _history(world, deal, t, "StageName", old, new)
    if new == WON:
        deal.wins.append(t)
    elif new == LOST:
        deal.lost_at = t


def _quarter_push(world: World, t: datetime) -> datetime:
    """Sales pull wins into the last days of the quarter."""
    q_month = ((t.month - 1) // 3 + 1) * 3
    last = date(t.year + (q_month == 12), q_month % 12 + 1, 1) - DAY
    while not is_bday(last):
        last -= DAY
    if 0 <= (last - t.date()).days <= 20 and world.rng.random() < 0.4:
        pushed = biz_time(world.rng, last - timedelta(days=world.rng.randint(0, 2)))
        if pushed > t:
            return pushed
    return t


def _play_stages(world: World, deal: Deal) -> None:
    rng = world.rng
    t = deal.created
    stage = "Prospecting"
    for nxt, p_reach in (("Proposal", 0.85), ("Negotiation", 0.8)):
        t = biz_after(rng, t, rng.randint(3, 13))
        if rng.random() > p_reach:
            _stage(world, deal, t, stage, LOST)
            return
        _stage(world, deal, t, stage, nxt)
        stage = nxt
        if nxt == "Negotiation" and rng.random() < 0.15:
            new_amount = money(deal.amount * Decimal(str(round(rng.uniform(0.8, 1.2), 2))))
            deal.opp.update(t + timedelta(minutes=3), Amount=new_amount)
            _history(world, deal, t + timedelta(minutes=3), "Amount", deal.amount, new_amount)
            deal.amount = new_amount
    if rng.random() < 0.04:
        return  # stalled in the pipeline
    t = biz_after(rng, t, rng.randint(2, 15))
    if rng.random() > 0.72:
        _stage(world, deal, t, stage, LOST)
        return
    t = _quarter_push(world, t)
    _stage(world, deal, t, stage, WON)
    if rng.random() < 0.2:
        edit = biz_after(rng, t, rng.randint(1, 8))
        old = t.date()
        new = old.replace(day=28) if old.day < 28 else old - timedelta(days=rng.randint(1, 5))
        deal.opp.update(edit, CloseDate=new)
        _history(world, deal, edit, "CloseDate", old, new)
    if rng.random() < 0.035:
        deal.reopened_at = biz_after(rng, t, rng.randint(2, 12))
        _stage(world, deal, deal.reopened_at, WON, "Negotiation")
        again = biz_after(rng, deal.reopened_at, rng.randint(3, 12))
        _stage(world, deal, again, "Negotiation", WON if rng.random() < 0.65 else LOST)
    _contract(world, deal, t)


def _contract(world: World, deal: Deal, won: datetime) -> None:
    rng = world.rng
    n = world.next_number("contract")
    cid = sf_id("800", n)
    created = won + timedelta(minutes=rng.randint(10, 240))
    contract = world.new(
        "Contract",
        cid,
        created,
        Id=cid,
        AccountId=deal.customer.crm_id,
        Opportunity__c=deal.id,
        ContractNumber=f"{n:08d}",
        Status="Draft",
        Signed_At__c=None,
        CreatedDate=created,
    )
    if rng.random() < 0.97:
        signed = max(biz_after(rng, won, rng.randint(0, 6)), created + timedelta(minutes=30))
        contract.update(signed, Status="Activated", Signed_At__c=signed)
    else:
        contract.update(add_bdays(created, 2), Status="In Approval Process")
