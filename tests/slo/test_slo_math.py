"""The SLO math, table-driven: budgets, burn rates, each window pair, aging, pause, groups, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slo_helpers import hourly, make_slo, utc

from foundation.business_time import BusinessCalendar, weekends_only
from metrics.slo.evaluate import (
    OVERALL,
    Ratio,
    aging_burn,
    attainment,
    burn_alert_key,
    burn_rate,
    case_budget,
    days_past_deadline,
    error_budget,
    evaluate_all,
    evaluate_slo,
    history,
)
from metrics.slo.inputs import Occurrence, OpenItem, SloInputs, SourceFreshness
from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow

WED_NOON = utc(2024, 5, 15, 12)  # a Wednesday: business windows reach back over one weekend


# --- budget and burn rate ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "budget"), [(0.95, 0.05), (0.99, 0.01), (0.9, 0.1), (0.999, 0.001)]
)
def test_error_budget_is_one_minus_target(target: float, budget: float) -> None:
    assert error_budget(target) == pytest.approx(budget)


@pytest.mark.parametrize(
    ("sli", "target", "rate"),
    [
        (0.95, 0.95, 1.0),  # spending exactly the budget
        (1.0, 0.95, 0.0),
        (0.0, 0.95, 20.0),  # everything bad: 1 / (1 - target)
        (0.9, 0.99, 10.0),
        (0.856, 0.99, 14.4),
        (0.94, 0.99, 6.0),
        (0.98, 0.9, 0.2),
    ],
)
def test_burn_rate_is_the_slo_generator_formula(sli: float, target: float, rate: float) -> None:
    assert burn_rate(sli, target) == pytest.approx(rate)


@pytest.mark.parametrize(
    ("good", "total", "target", "allowed", "remaining", "fraction", "exhausted"),
    [
        (97, 100, 0.95, 5.0, 2.0, 0.4, False),
        (95, 100, 0.95, 5.0, 0.0, 0.0, False),  # at target: spent, not overspent
        (90, 100, 0.95, 5.0, -5.0, -1.0, True),
        (100, 100, 0.95, 5.0, 5.0, 1.0, False),
        (0, 0, 0.95, 0.0, 0.0, 1.0, False),  # nothing decided: budget untouched
        (990, 1000, 0.99, 10.0, 0.0, 0.0, False),
        (1980.0, 2000.0, 0.995, 10.0, -10.0, -1.0, True),  # weighted (money)
    ],
)
def test_budget_in_cases(
    good: float,
    total: float,
    target: float,
    allowed: float,
    remaining: float,
    fraction: float,
    exhausted: bool,
) -> None:
    budget = case_budget(Ratio(good, total, int(total)), target)
    assert budget.allowed == pytest.approx(allowed)
    assert budget.remaining == pytest.approx(remaining)
    assert budget.remaining_fraction == pytest.approx(fraction)
    assert budget.exhausted is exhausted


# --- windows ----------------------------------------------------------------------------------


def test_rolling_and_calendar_windows_pick_their_occurrences() -> None:
    occurrences = [
        Occurrence(WED_NOON - timedelta(days=10), False),
        Occurrence(WED_NOON - timedelta(days=1), True),
        Occurrence(WED_NOON, False),  # decided at as_of: the next evaluation's
    ]
    week = evaluate_slo(make_slo(), occurrences, as_of=WED_NOON)
    month = evaluate_slo(
        make_slo(spec__timeWindow=[{"duration": "28d"}]), occurrences, as_of=WED_NOON
    )
    assert (week.overall.attainment.count, week.overall.attainment.sli) == (1, 1.0)
    assert (month.overall.attainment.count, month.overall.attainment.sli) == (2, 0.5)
    start = WED_NOON - timedelta(days=7)
    assert attainment([Occurrence(start, False)], start, WED_NOON).count == 1  # start included


def test_a_calendar_month_starts_at_local_midnight() -> None:
    slo = make_slo(
        spec__timeWindow=[
            {
                "duration": "1M",
                "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Berlin"},
            }
        ]
    )
    occurrences = [
        Occurrence(utc(2024, 4, 30, 21, 30), False),  # 23:30 in Berlin: April
        Occurrence(utc(2024, 4, 30, 22, 30), True),  # 00:30 in Berlin: May
    ]
    report = evaluate_slo(slo, occurrences, as_of=WED_NOON)
    assert report.overall.window_start == utc(2024, 4, 30, 22)
    assert (report.overall.attainment.count, report.overall.attainment.sli) == (1, 1.0)


def _baseline(share: float) -> Callable[[datetime], float]:
    return lambda hour: share


def _outage(start: datetime, end: datetime, base: float = 0.002) -> Callable[[datetime], float]:
    return lambda hour: 1.0 if start <= hour < end else base


def _degraded(since: datetime, share: float, base: float = 0.002) -> Callable[[datetime], float]:
    return lambda hour: share if hour >= since else base


WINDOW_SCENARIOS = [
    pytest.param(_baseline(0.005), set(), id="quiet-0.5%"),
    pytest.param(_baseline(0.01), set(), id="exactly-at-budget-does-not-fire"),
    pytest.param(_baseline(0.02), {"slow"}, id="slow-burn-2%-tickets"),
    pytest.param(
        _outage(WED_NOON - timedelta(hours=4), WED_NOON), {"fast", "slow"}, id="outage-ongoing"
    ),
    pytest.param(
        _outage(WED_NOON - timedelta(hours=8), WED_NOON - timedelta(hours=3)),
        {"slow"},
        id="outage-over-short-window-resets-fast",
    ),
    pytest.param(
        _degraded(utc(2024, 5, 10, 12), 0.08), {"medium", "slow"}, id="degraded-8%-for-3-bd"
    ),
    pytest.param(_degraded(utc(2024, 5, 1), 0.30), {"fast", "medium", "slow"}, id="bad-release"),
]


@pytest.mark.parametrize(("bad_share", "firing"), WINDOW_SCENARIOS)
def test_each_window_pair_fires_only_when_both_windows_exceed_its_factor(
    bad_share: Callable[[datetime], float], firing: set[str]
) -> None:
    occurrences = list(hourly(utc(2024, 5, 1), WED_NOON, bad_share))
    report = evaluate_slo(make_slo(), occurrences, as_of=WED_NOON)
    fired = {b.window.name for b in report.overall.burns if b.firing}
    assert fired == firing
    assert {c.window.name for c in report.checks if c.firing and c.window} == firing
    assert report.status in (("burning", "breached") if firing else ("ok",))


def test_window_pairs_measure_business_time() -> None:
    # Outage on Friday afternoon, checked early on Monday: the weekend holds no business time,
    # so the 1-business-day window still sees Friday's outage; a 24-hour window would not.
    friday_outage = _outage(utc(2024, 5, 10, 14), utc(2024, 5, 11))
    monday = utc(2024, 5, 13, 1)
    occurrences = [
        o
        for o in hourly(utc(2024, 5, 1), monday, friday_outage)
        if o.at.weekday() < 5  # nothing happens at weekends
    ]
    report = evaluate_slo(make_slo(), occurrences, as_of=monday)
    fast = next(b for b in report.overall.burns if b.window.name == "fast")
    assert fast.long_rate == pytest.approx(41.78, abs=0.01)  # Fri 01:00 → Mon 01:00
    assert fast.short_rate == pytest.approx(50.1, abs=0.01)  # Fri 23:00 → Mon 01:00
    assert fast.firing
    calendar_time = (
        BurnWindow("fast", "page", timedelta(days=1), timedelta(hours=2), 14.4, False),
    )
    report = evaluate_slo(make_slo(), occurrences, as_of=monday, windows=calendar_time)
    assert not report.overall.burns[0].firing
    assert report.overall.burns[0].long_rate == pytest.approx(0.2)  # Sun 01:00 → Mon 01:00


def test_low_volume_guard_and_empty_short_window() -> None:
    slo = make_slo(
        spec__objectives=[{"target": 0.95}],
        spec__timeWindow=[{"duration": "28d"}],
        **{"spec__x-throughline": {"alerting": {"min_occurrences": 5}}},
    )
    late = utc(2024, 5, 15, 23)
    bad = [Occurrence(utc(2024, 5, 15, h), False) for h in (9, 10, 11, 12)]

    def fast(occurrences: list[Occurrence]) -> Any:
        report = evaluate_slo(slo, occurrences, as_of=late)
        return next(b for b in report.overall.burns if b.window.name == "fast")

    assert not fast(bad).firing  # 4 < min_occurrences
    five = [*bad, Occurrence(utc(2024, 5, 15, 13), False)]
    assert fast(five).short_rate is None  # nothing decided in the last 2 hours …
    assert fast(five).firing  # … so the short window defers to the long one
    recovered = [*five, Occurrence(utc(2024, 5, 15, 22), True)]
    assert not fast(recovered).firing  # a good case in the short window resets it


def test_business_windows_use_each_groups_calendar() -> None:
    calendars = {"DE": BusinessCalendar("DE"), "UK": BusinessCalendar("GB")}
    slo = make_slo(**{"spec__x-throughline": {"grouping": ["legal_entity"]}})
    thursday = utc(2024, 5, 2, 10)  # May 1 is a holiday in Germany, not in the UK
    occurrences = [
        Occurrence(at, good, group={"legal_entity": entity})
        for entity in ("DE", "UK")
        for at, good in ((utc(2024, 4, 30, 12), False), (utc(2024, 5, 2, 9), True))
    ]
    report = evaluate_slo(
        slo,
        occurrences,
        as_of=thursday,
        calendars=lambda g: calendars.get(g.get("legal_entity", ""), BusinessCalendar()),
    )

    def fast_long(entity: str) -> float | None:
        scope = report.scope(legal_entity=entity)
        return next(b.long_rate for b in scope.burns if b.window.name == "fast")

    assert fast_long("DE") == pytest.approx(50.0)  # window reaches back to Tuesday 10:00
    assert fast_long("UK") == 0.0  # window starts Wednesday 10:00


# --- aging budgets ----------------------------------------------------------------------------

AS_OF = utc(2024, 5, 15)  # Wednesday 00:00; the 28-day window starts Wednesday 2024-04-17


def item(deadline: datetime, closed: datetime | None = None, weight: float = 1.0) -> OpenItem:
    return OpenItem(
        "x", since=deadline - timedelta(days=2), deadline=deadline, weight=weight, closed_at=closed
    )


@pytest.mark.parametrize(
    ("aging", "days", "business_days"),
    [
        pytest.param(item(utc(2024, 5, 12)), 3.0, 2.0, id="open-past-deadline"),
        pytest.param(item(utc(2024, 3, 10)), 28.0, 20.0, id="clipped-to-the-window"),
        pytest.param(item(utc(2024, 5, 20)), 0.0, 0.0, id="not-yet-due"),
        pytest.param(item(utc(2024, 5, 5), utc(2024, 5, 11)), 6.0, 5.0, id="closed-late"),
        pytest.param(item(utc(2024, 4, 1), utc(2024, 4, 10)), 0.0, 0.0, id="closed-before"),
        pytest.param(item(utc(2024, 5, 14, 12)), 0.5, 0.5, id="half-a-day"),
    ],
)
def test_each_day_past_the_deadline_burns_one_day(
    aging: OpenItem, days: float, business_days: float
) -> None:
    start = AS_OF - timedelta(days=28)
    calendar = BusinessCalendar()
    assert days_past_deadline(aging, start, AS_OF, unit="days", calendar=calendar) == pytest.approx(
        days
    )
    assert days_past_deadline(
        aging, start, AS_OF, unit="business_days", calendar=calendar
    ) == pytest.approx(business_days)


def test_weighted_aging_counts_weight_days_and_late_items() -> None:
    items = [item(utc(2024, 5, 12), weight=2.0), item(utc(2024, 5, 20), weight=5.0)]
    start = AS_OF - timedelta(days=28)
    assert aging_burn(items, start, AS_OF, unit="days") == (3.0, 1)
    assert aging_burn(items, start, AS_OF, unit="days", weighted=True) == (6.0, 1)


def test_aging_burns_on_the_items_own_calendar() -> None:
    de_item = OpenItem("deal-1", utc(2024, 4, 26), utc(2024, 4, 30), group={"legal_entity": "DE"})
    calendars = {"DE": BusinessCalendar("DE"), "UK": BusinessCalendar("GB")}
    burned, _ = aging_burn(
        [de_item],
        utc(2024, 4, 1),
        utc(2024, 5, 3),
        unit="business_days",
        calendars=lambda g: calendars[g["legal_entity"]],
    )
    assert burned == 2.0  # Tue Apr 30 and Thu May 2; May 1 is a German holiday


AGING_SLO: dict[str, Any] = {
    "spec__objectives": [{"target": 0.95}],
    "spec__timeWindow": [{"duration": "28d"}],
    "spec__indicator": {
        "kpi": "setup_latency",
        "threshold": {"op": "lte", "value": 2, "unit": "business_days"},
    },
    "spec__x-throughline": {"aging": {"budget": {"value": 10, "unit": "business_days"}}},
}


def test_aging_budget_left_in_days() -> None:
    slo = make_slo(**AGING_SLO)
    items = [item(utc(2024, 5, 12)), item(utc(2024, 5, 5), utc(2024, 5, 11)), item(utc(2024, 6, 1))]
    scope = evaluate_slo(slo, [], items, as_of=AS_OF).overall
    assert scope.days is not None
    assert (scope.days.allowed, scope.days.burned, scope.days.items_late) == (10.0, 7.0, 2)
    assert scope.days.remaining == pytest.approx(3.0)
    assert scope.days.remaining_fraction == pytest.approx(0.3)
    # 5 business days burned in the last 5: twice the sustainable rate → the slow row tickets
    assert {b.window.name for b in scope.burns if b.firing} == {"slow"}
    assert scope.status == "burning"


@pytest.mark.parametrize(
    ("stuck", "overdue_for", "firing", "status"),
    [
        pytest.param(15, timedelta(days=30), {"fast", "medium", "slow"}, "breached", id="15-stuck"),
        pytest.param(1, timedelta(days=2), set(), "ok", id="one-late-deal"),
        pytest.param(3, timedelta(days=6), {"slow"}, "breached", id="three-for-a-week"),
    ],
)
def test_aging_burn_rate_per_window_pair(
    stuck: int, overdue_for: timedelta, firing: set[str], status: str
) -> None:
    slo = make_slo(**AGING_SLO)
    items = [
        OpenItem(f"deal-{n}", WED_NOON - overdue_for - timedelta(days=3), WED_NOON - overdue_for)
        for n in range(stuck)
    ]
    report = evaluate_slo(slo, [], items, as_of=WED_NOON)
    days_burns = [b for b in report.overall.burns if b.budget == "days"]
    assert {b.window.name for b in days_burns if b.firing} == firing
    assert report.status == status
    if stuck == 15:  # 15 item-days per business day against 10 days per 20 business days
        assert days_burns[0].long_rate == pytest.approx(30.0)


# --- stale sources ----------------------------------------------------------------------------


def test_a_stale_collector_pauses_the_slos_it_feeds_and_raises_its_own_alert() -> None:
    slo, other = make_slo(), make_slo(metadata={"name": "other"})
    last = WED_NOON - timedelta(hours=5)
    # all good until the collector stopped, then (say) half-read rows look like failures
    occurrences = list(hourly(utc(2024, 5, 9), WED_NOON, lambda h: 1.0 if h >= last else 0.0))
    fresh = [SourceFreshness("ipaas", last, timedelta(hours=2))]
    feeds = {"ipaas": {"sync-first-attempts"}}
    run = evaluate_all(
        [slo, other],
        {s: SloInputs(tuple(occurrences)) for s in ("sync-first-attempts", "other")},
        as_of=WED_NOON,
        freshness=fresh,
        feeds=feeds,
    )
    paused, unaffected = run.reports
    assert paused.status == "paused" and paused.paused_by == ("ipaas",)
    assert paused.overall.data_until == last
    assert paused.overall.attainment.sli == 1.0  # nothing after the last success counts
    assert paused.overall.burns == () and paused.checks == ()
    assert unaffected.status == "breached"  # fed by nothing stale: evaluated as usual
    assert any(c.firing for c in unaffected.checks)
    (freshness_check,) = [c for c in run.checks if c.kind == "freshness"]
    assert freshness_check.firing and freshness_check.paused_slos == ("sync-first-attempts",)
    assert run.paused_slos == {"sync-first-attempts"}

    recovered = evaluate_all(
        [slo],
        {"sync-first-attempts": SloInputs(tuple(occurrences))},
        as_of=WED_NOON,
        freshness=[SourceFreshness("ipaas", WED_NOON - timedelta(minutes=5), timedelta(hours=2))],
        feeds=feeds,
    )
    assert recovered.reports[0].status == "breached"
    assert not any(c.firing for c in recovered.checks if c.kind == "freshness")


def test_a_collector_that_never_succeeded_pauses_with_no_data() -> None:
    report = evaluate_slo(
        make_slo(),
        [Occurrence(WED_NOON - timedelta(hours=1), False)],
        as_of=WED_NOON,
        freshness=[SourceFreshness("ipaas", None, timedelta(hours=2))],
        feeds={"ipaas": ["sync-first-attempts"]},
    )
    assert report.status == "paused"
    assert report.overall.attainment.count == 0


# --- grouping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "keys"),
    [
        ("overall", {"*"}),
        ("groups", {"legal_entity=DE", "legal_entity=UK", "legal_entity=%28none%29"}),
        ("both", {"*", "legal_entity=DE", "legal_entity=UK", "legal_entity=%28none%29"}),
    ],
)
def test_grouping_evaluates_each_group_and_overall(scope: str, keys: set[str]) -> None:
    slo = make_slo(
        **{"spec__x-throughline": {"grouping": ["legal_entity"], "alerting": {"scope": scope}}}
    )
    start = utc(2024, 5, 1)
    occurrences = [
        *hourly(start, WED_NOON, lambda h: 0.0, group={"legal_entity": "DE"}),
        *hourly(start, WED_NOON, lambda h: 0.5, group={"legal_entity": "UK"}),
        *hourly(start, WED_NOON, lambda h: 0.0, group={"practice": "Cloud"}),
    ]
    report = evaluate_slo(slo, occurrences, as_of=WED_NOON)
    assert [s.label for s in report.groups] == [
        "legal_entity=(none)",
        "legal_entity=DE",
        "legal_entity=UK",
    ]
    assert report.scope(legal_entity="DE").status == "ok"
    assert report.scope(legal_entity="UK").status == "breached"
    assert report.overall.attainment.sli == pytest.approx(5 / 6)
    assert report.status == "breached"
    assert {c.key.rsplit(":", 1)[1] for c in report.checks} == keys
    firing = {c.key for c in report.checks if c.firing}
    assert burn_alert_key(slo.name, "cases", "fast", (("legal_entity", "DE"),)) not in firing
    if scope != "overall":
        assert burn_alert_key(slo.name, "cases", "fast", (("legal_entity", "UK"),)) in firing
    assert (
        burn_alert_key(slo.name, "cases", "fast", OVERALL) == "slo:sync-first-attempts:cases:fast:*"
    )


# --- history ----------------------------------------------------------------------------------


def test_history_per_month_and_week() -> None:
    slo = make_slo(spec__objectives=[{"target": 0.9}], **AGING_SLO_DAYS)
    occurrences = [
        *(Occurrence(utc(2024, 4, 10, h), True) for h in range(10)),
        *(Occurrence(utc(2024, 5, 10, h), h != 0) for h in range(10)),
        *(Occurrence(utc(2024, 6, 10, h), h >= 5) for h in range(10)),
    ]
    stuck = [OpenItem("p-1", utc(2024, 4, 20), utc(2024, 5, 1), closed_at=utc(2024, 6, 1))]
    months = history(slo, occurrences, stuck, start=utc(2024, 4, 1), end=utc(2024, 7, 1))
    assert [m.start for m in months] == [utc(2024, 4, 1), utc(2024, 5, 1), utc(2024, 6, 1)]
    assert [m.attainment.sli for m in months] == pytest.approx([1.0, 0.9, 0.5])
    assert [m.met for m in months] == [True, True, False]
    assert [m.budget_consumed for m in months] == pytest.approx([0.0, 1.0, 5.0])
    assert [m.days.burned for m in months if m.days] == pytest.approx([0.0, 31.0, 0.0])
    assert [m.days.allowed for m in months if m.days] == pytest.approx(
        [10 * 30 / 28, 10 * 31 / 28, 10 * 30 / 28]
    )
    weeks = history(slo, occurrences, start=utc(2024, 5, 1), end=utc(2024, 5, 15), period="week")
    assert [w.start for w in weeks] == [utc(2024, 5, 1), utc(2024, 5, 6), utc(2024, 5, 13)]
    assert [w.attainment.count for w in weeks] == [0, 10, 0]  # May 10 is in the week of May 6
    assert weeks[0].met is None and weeks[0].budget_consumed is None


AGING_SLO_DAYS: dict[str, Any] = {
    "spec__timeWindow": [{"duration": "28d"}],
    "spec__indicator": {
        "kpi": "setup_latency",
        "threshold": {"op": "lte", "value": 2, "unit": "days"},
    },
    "spec__x-throughline": {"aging": {"budget": {"value": 10, "unit": "days"}}},
}


# --- properties -------------------------------------------------------------------------------

_offsets = st.integers(min_value=0, max_value=7 * 24 * 60 - 1)


@settings(max_examples=60, deadline=None)
@given(
    good=st.integers(min_value=0, max_value=40),
    bad=st.integers(min_value=0, max_value=40),
    more=st.integers(min_value=1, max_value=10),
    target=st.sampled_from([0.9, 0.95, 0.99, 0.999]),
)
def test_budget_left_never_grows_with_more_bad_occurrences(
    good: int, bad: int, more: int, target: float
) -> None:
    slo = make_slo(spec__objectives=[{"target": target}])

    def budget(bad_count: int) -> tuple[float, float]:
        occurrences = [Occurrence(WED_NOON - timedelta(hours=1), True)] * good + [
            Occurrence(WED_NOON - timedelta(hours=2), False)
        ] * bad_count
        cases = evaluate_slo(slo, occurrences, as_of=WED_NOON).overall.cases
        return cases.remaining, cases.remaining_fraction

    before, after = budget(bad), budget(bad + more)
    assert after[0] <= before[0] + 1e-9
    assert after[1] <= before[1] + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    cases=st.lists(
        st.tuples(_offsets, st.booleans(), st.floats(min_value=0, max_value=1e6)), max_size=60
    ),
    target=st.floats(min_value=0.5, max_value=0.9999),
)
def test_burn_rates_are_never_negative_and_attainment_stays_in_0_1(
    cases: list[tuple[int, bool, float]], target: float
) -> None:
    start = WED_NOON - timedelta(days=7)
    occurrences = [Occurrence(start + timedelta(minutes=m), g, w) for m, g, w in cases]
    slo = make_slo(spec__objectives=[{"target": target}])
    report = evaluate_slo(slo, occurrences, as_of=WED_NOON)
    sli = report.overall.attainment.sli
    assert sli is None or 0.0 <= sli <= 1.0
    for burn in report.overall.burns:
        for rate in (burn.long_rate, burn.short_rate):
            assert rate is None or rate >= 0.0
    assert report.overall.cases.bad <= report.overall.cases.allowed / (1 - target) + 1e-6


def test_default_resolver_is_weekends_only() -> None:
    assert weekends_only({"legal_entity": "DE"}).country is None
    assert [w.name for w in DEFAULT_BURN_WINDOWS] == ["fast", "medium", "slow"]
