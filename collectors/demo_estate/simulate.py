"""``simulate``: build the whole estate from one seed (``random.Random(seed)``, never the clock).

Order of play: people and customers, deals and their stage history, the planted incidents
(ERP outage, bad release day), provisioning (projects and crm-psa jobs), billing set-up, change
orders, delivery (time, expenses, psa-erp jobs), milestones, invoicing (with erp-crm jobs and
payments), FX rates. Everything is generated up to ``horizon_end`` so that live mode has future
records to reveal; nothing at or after ``horizon_end`` is kept.
"""

from __future__ import annotations

import gc
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from collectors.demo_estate.model import Estate, Scenario
from collectors.demo_estate.sim_base import DAY, World, at_time
from collectors.demo_estate.sim_billing import Billing, fx_rates
from collectors.demo_estate.sim_crm import Deal, make_deals
from collectors.demo_estate.sim_jobs import Incidents
from collectors.demo_estate.sim_people import (
    LEGAL_ENTITIES,
    PRACTICES,
    make_customers,
    make_people,
)
from collectors.demo_estate.sim_projects import (
    change_orders,
    internal_projects,
    milestones,
    provision,
    set_up_billing,
)
from collectors.demo_estate.sim_work import deliver

DEFAULT_START = datetime(2025, 11, 1, tzinfo=UTC)
#: The PSA checks customer master data on new projects for the last three weeks of history.
CHECKS_BEFORE_END = timedelta(days=21)


def add_months(t: datetime, n: int) -> datetime:
    """``t`` moved by ``n`` calendar months (day of month capped at 28)."""
    month0 = t.month - 1 + n
    return t.replace(year=t.year + month0 // 12, month=month0 % 12 + 1, day=min(t.day, 28))


def simulate(
    seed: int = 7,
    start: datetime = DEFAULT_START,
    months: int = 12,
    horizon_months: int = 3,
) -> Estate:
    """The estate for ``seed``: history ``[start, start + months)`` plus ``horizon_months``."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if months < 2 or horizon_months < 0:
        raise ValueError("need at least 2 months of history and a non-negative horizon")
    # Generation makes a few hundred thousand long-lived containers and no reference cycles;
    # pausing the cyclic GC meanwhile saves about a third of the time.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _simulate(seed, start.astimezone(UTC), months, horizon_months)
    finally:
        if paused:
            gc.enable()


def _simulate(seed: int, start: datetime, months: int, horizon_months: int) -> Estate:
    history_end = add_months(start, months)
    world = World(seed, start, history_end, add_months(start, months + horizon_months))
    people = make_people(world)
    customers = make_customers(world)
    deals = make_deals(world, customers, people)
    incidents = _outage(world)
    bad_day = _bad_release_day(world, deals, incidents)
    checks_from = history_end - CHECKS_BEFORE_END
    projects, stuck = provision(world, deals, people, customers, incidents, bad_day, checks_from)
    projects = internal_projects(world, [p for p in people if p.role == "pm"]) + projects
    never_billed = set_up_billing(world, projects)
    change_orders(world, projects)
    items, weeks = deliver(world, projects, people, incidents)
    milestones(world, projects, weeks)
    Billing(world, incidents).run(projects, items)
    missing_fx = fx_rates(world)
    scenario = Scenario(
        stuck_handoff_deals=tuple(stuck),
        erp_outage=(incidents.outage_start, incidents.outage_end),
        bad_release_day=bad_day,
        fx_missing_dates=(missing_fx,),
        projects_never_billed=tuple(never_billed),
        provisioning_checks_from=checks_from,
    )
    return Estate(
        seed=seed,
        start=start,
        history_end=history_end,
        horizon_end=world.horizon_end,
        legal_entities=LEGAL_ENTITIES,
        practices=PRACTICES,
        people=people,
        customers=customers,
        records=world.freeze(),
        scenario=scenario,
    )


def _outage(world: World) -> Incidents:
    """Six hours on a Tuesday to Thursday around the middle of history."""
    days = (world.history_end - world.start).days
    d = (world.start + timedelta(days=int(days * world.rng.uniform(0.45, 0.7)))).date()
    while d.weekday() not in (1, 2, 3):
        d += DAY
    begin = at_time(d, 9)
    return Incidents(begin, begin + timedelta(hours=6))


def _bad_release_day(world: World, deals: list[Deal], incidents: Incidents) -> date:
    """The busiest weekday for wins in the middle of history (not the outage day)."""
    days = (world.history_end - world.start).days
    lo = (world.start + timedelta(days=int(days * 0.3))).date()
    hi = (world.start + timedelta(days=int(days * 0.75))).date()
    wins = Counter(
        d.wins[0].date()
        for d in deals
        if d.wins
        and lo <= d.wins[0].date() <= hi
        and d.wins[0].date().weekday() < 5
        and d.wins[0].date() != incidents.outage_start.date()
    )
    if not wins:
        return lo
    return min(wins, key=lambda day: (-wins[day], day))
