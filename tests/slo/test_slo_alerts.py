"""Alert episodes: one firing and one resolve per episode, pauses leave episodes alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from slo_helpers import hourly, make_slo, utc

from metrics.slo.alerts import AlertStore, DeliveryOutcome, InMemoryAlertStore, reconcile
from metrics.slo.evaluate import AlertCheck, EvaluationRun, evaluate_all
from metrics.slo.inputs import SloInputs, SourceFreshness
from metrics.slo.sql_store import SqlAlertStore
from metrics.slo.windows import DEFAULT_BURN_WINDOWS
from store.migrate import upgrade

T0 = utc(2024, 5, 14, 8)
KEY = "slo:sync-first-attempts:cases:fast:*"
TARGETS = ("slack", "json")


def check(
    at: datetime, firing: bool, key: str = KEY, slo: str = "sync-first-attempts"
) -> AlertCheck:
    return AlertCheck(
        key=key,
        kind="burn_rate",
        severity="page",
        firing=firing,
        as_of=at,
        slo=slo,
        slo_display="First attempts succeed",
        budget="cases",
        window=DEFAULT_BURN_WINDOWS[0],
        long_rate=20.0 if firing else 0.5,
        short_rate=30.0 if firing else 0.0,
        budget_remaining=0.4,
        budget_left=4.0,
        budget_unit="cases",
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> AlertStore:
    """The in-memory reference store and the SQL store on both databases."""
    if request.param == "memory":
        return InMemoryAlertStore()
    engine = request.getfixturevalue(
        f"{'sqlite' if request.param == 'sqlite' else 'pg_schema'}_engine"
    )
    upgrade(engine)
    return SqlAlertStore(engine)


def run_of(at: datetime, *checks: AlertCheck) -> EvaluationRun:
    return EvaluationRun(as_of=at, reports=(), freshness=(), checks=checks)


@pytest.mark.parametrize(
    ("states", "events"),
    [
        ([False, False], []),
        ([True, True, True], [(0, "firing")]),
        ([False, True, True, True, False, False], [(1, "firing"), (4, "resolved")]),
        (
            [True, False, True, True, False],
            [(0, "firing"), (1, "resolved"), (2, "firing"), (4, "resolved")],
        ),
    ],
)
def test_transitions_are_deduplicated_per_episode(
    store: AlertStore, states: list[bool], events: list[tuple[int, str]]
) -> None:
    seen: list[tuple[int, str]] = []
    for step, firing in enumerate(states):
        at = T0 + timedelta(hours=step)
        for transition in reconcile(run_of(at, check(at, firing)), store, targets=TARGETS):
            seen.append((step, transition.event))
    assert seen == events
    episodes = store.history()
    assert len(episodes) == sum(1 for _, event in events if event == "firing")
    assert len(store.due_deliveries()) == len(events) * len(TARGETS)  # one per event and target


def test_an_episode_remembers_what_opened_and_what_resolved_it(store: AlertStore) -> None:
    reconcile(run_of(T0, check(T0, True)), store, targets=TARGETS)
    later = T0 + timedelta(hours=3)
    (transition,) = reconcile(run_of(later, check(later, False)), store, targets=TARGETS)
    episode = transition.episode
    assert (episode.opened_at, episode.resolved_at) == (T0, later)
    assert episode.opened.long_rate == 20.0
    assert episode.resolved is not None and episode.resolved.long_rate == 0.5
    assert not episode.is_open and store.open_episodes() == []


def test_a_paused_slo_keeps_its_episode_open_until_it_is_evaluated_again(
    store: AlertStore,
) -> None:
    slo = make_slo()
    occurrences = tuple(hourly(utc(2024, 5, 1), utc(2024, 5, 16), lambda h: 0.5))
    inputs = {slo.name: SloInputs(occurrences)}
    feeds = {"ipaas": {slo.name}}

    def step(at: datetime, last_success: datetime) -> list[tuple[str, str]]:
        fresh = [SourceFreshness("ipaas", last_success, timedelta(hours=2))]
        run = evaluate_all([slo], inputs, as_of=at, freshness=fresh, feeds=feeds)
        return [(t.event, t.episode.key) for t in reconcile(run, store, targets=TARGETS)]

    opened = step(T0, T0)
    assert ("firing", KEY) in opened
    burn_keys = {key for _, key in opened}
    # the collector goes stale: the burn alerts stay open, the freshness alert fires
    assert step(T0 + timedelta(hours=5), T0) == [("firing", "freshness:ipaas")]
    assert burn_keys <= {e.key for e in store.open_episodes()}
    # fresh again: the freshness alert resolves; the burn alerts are still burning (no news)
    assert step(T0 + timedelta(hours=6), T0 + timedelta(hours=6)) == [
        ("resolved", "freshness:ipaas")
    ]
    assert len(store.history()) == len(burn_keys) + 1


def test_an_alert_whose_slo_is_gone_is_resolved(store: AlertStore) -> None:
    reconcile(run_of(T0, check(T0, True)), store, targets=TARGETS)
    later = T0 + timedelta(hours=1)
    (transition,) = reconcile(run_of(later), store, targets=TARGETS)
    assert transition.event == "resolved" and transition.episode.resolved is None


def test_failed_deliveries_stay_due_without_a_new_episode(store: AlertStore) -> None:
    (opened,) = reconcile(run_of(T0, check(T0, True)), store, targets=TARGETS)
    episode_id = opened.episode.id
    failure = DeliveryOutcome(ok=False, attempts=3, status=500, error="HTTP 500")
    store.record_delivery(episode_id, "firing", "slack", failure, T0)
    store.record_delivery(episode_id, "firing", "json", DeliveryOutcome(True, 1, 200), T0)
    due = store.due_deliveries()
    assert [(d.target, d.state, d.attempts) for _, d in due] == [("slack", "failed", 3)]
    later = T0 + timedelta(hours=1)
    assert reconcile(run_of(later, check(later, True)), store, targets=TARGETS) == []
    assert len(store.history()) == 1
    with pytest.raises(ValueError, match="already open"):
        store.open_episode(check(later, True), later, TARGETS)
