"""Alert episodes: from "should be firing" checks to deduplicated firing/resolved notifications.

An **episode** runs from the first evaluation whose check fires until the first one whose check
no longer fires. Per episode exactly one *firing* and one *resolved* notification are queued per
notification target, however often the SLOs are evaluated in between; a delivery that fails stays
queued and is sent again on the next evaluation, without opening a new episode.

::

    check fires, no open episode      → open an episode, queue "firing"     (transition firing)
    check fires, episode open         → nothing
    check quiet, episode open         → resolve it, queue "resolved"        (transition resolved)
    no check, episode open, SLO paused→ nothing (its burn is unknown while a source is stale)
    no check, episode open, otherwise → resolve it (SLO, group or collector gone from the config)

`reconcile` applies the table above through an `AlertStore` and returns the transitions;
`metrics.slo.notify.dispatch` sends what the store has queued. The store is a Protocol so the
worker can keep episodes and deliveries in the database (the alert-history table);
`InMemoryAlertStore` is the reference implementation used by tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

from metrics.slo.evaluate import AlertCheck, EvaluationRun
from metrics.slo.windows import Severity

EventKind = Literal["firing", "resolved"]
DeliveryState = Literal["pending", "sent", "failed", "expired"]


@dataclass(frozen=True, slots=True)
class Episode:
    """One alert episode. ``opened`` is the check that opened it; ``resolved`` the one that
    closed it (None when it closed because its SLO, group or collector went away)."""

    id: str
    key: str
    severity: Severity
    opened_at: datetime
    opened: AlertCheck
    resolved_at: datetime | None = None
    resolved: AlertCheck | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification of one episode event to one target, and how sending it went."""

    episode_id: str
    event: EventKind
    target: str
    created_at: datetime
    state: DeliveryState = "pending"
    attempts: int = 0
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None

    @property
    def due(self) -> bool:
        """Still to be sent (new, or failed last time)."""
        return self.state in ("pending", "failed")


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one send did: ``ok``, how many HTTP attempts, the last status, a masked error."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """An episode that opened (``firing``) or closed (``resolved``) in this evaluation."""

    event: EventKind
    episode: Episode


class AlertStore(Protocol):
    """Where episodes and their deliveries live (in memory here; a table in production).

    ``open_episode`` and ``resolve_episode`` must queue one pending `Delivery` per target in the
    same transaction as the episode change (an outbox), so a crash cannot lose a notification.
    """

    def open_episodes(self) -> Sequence[Episode]:
        """Episodes not yet resolved."""
        ...

    def open_episode(self, check: AlertCheck, at: datetime, targets: Sequence[str]) -> Episode:
        """Start an episode for ``check`` and queue its firing notification per target."""
        ...

    def resolve_episode(
        self, episode_id: str, at: datetime, check: AlertCheck | None, targets: Sequence[str]
    ) -> Episode:
        """Close an episode and queue its resolved notification per target."""
        ...

    def due_deliveries(self) -> Sequence[tuple[Episode, Delivery]]:
        """Deliveries still to send, oldest first, a firing before its episode's resolve."""
        ...

    def record_delivery(
        self,
        episode_id: str,
        event: EventKind,
        target: str,
        outcome: DeliveryOutcome | None,
        at: datetime,
    ) -> Delivery:
        """Record how a send went (``None``: gave up, the delivery expired)."""
        ...


def reconcile(run: EvaluationRun, store: AlertStore, *, targets: Sequence[str]) -> list[Transition]:
    """Open and resolve episodes so the store matches ``run``'s checks; see the module table."""
    at = run.as_of
    open_by_key = {e.key: e for e in store.open_episodes()}
    checks = {c.key: c for c in run.checks}
    paused = run.paused_slos
    transitions: list[Transition] = []
    for key in sorted(checks):
        check = checks[key]
        episode = open_by_key.get(key)
        if check.firing and episode is None:
            opened = store.open_episode(check, at, targets)
            transitions.append(Transition("firing", opened))
        elif not check.firing and episode is not None:
            closed = store.resolve_episode(episode.id, at, check, targets)
            transitions.append(Transition("resolved", closed))
    for key in sorted(set(open_by_key) - set(checks)):
        episode = open_by_key[key]
        if episode.opened.slo is not None and episode.opened.slo in paused:
            continue
        closed = store.resolve_episode(episode.id, at, None, targets)
        transitions.append(Transition("resolved", closed))
    return transitions


class InMemoryAlertStore:
    """`AlertStore` in memory: the reference implementation and the tests' store."""

    def __init__(self) -> None:
        self.episodes: dict[str, Episode] = {}
        self.deliveries: dict[tuple[str, EventKind, str], Delivery] = {}
        self._ids = itertools.count(1)

    def open_episodes(self) -> list[Episode]:
        return [e for e in self.episodes.values() if e.is_open]

    def open_episode(self, check: AlertCheck, at: datetime, targets: Sequence[str]) -> Episode:
        if any(e.key == check.key for e in self.open_episodes()):
            raise ValueError(f"an episode of {check.key} is already open")
        episode = Episode(
            id=f"ep-{next(self._ids):06d}",
            key=check.key,
            severity=check.severity,
            opened_at=at,
            opened=check,
        )
        self.episodes[episode.id] = episode
        self._queue(episode.id, "firing", targets, at)
        return episode

    def resolve_episode(
        self, episode_id: str, at: datetime, check: AlertCheck | None, targets: Sequence[str]
    ) -> Episode:
        episode = self.episodes[episode_id]
        if not episode.is_open:
            raise ValueError(f"episode {episode_id} is already resolved")
        closed = replace(episode, resolved_at=at, resolved=check)
        self.episodes[episode_id] = closed
        self._queue(episode_id, "resolved", targets, at)
        return closed

    def _queue(
        self, episode_id: str, event: EventKind, targets: Sequence[str], at: datetime
    ) -> None:
        for target in targets:
            self.deliveries[(episode_id, event, target)] = Delivery(episode_id, event, target, at)

    def due_deliveries(self) -> list[tuple[Episode, Delivery]]:
        due = [d for d in self.deliveries.values() if d.due]
        due.sort(key=lambda d: (d.created_at, d.episode_id, d.event != "firing", d.target))
        return [(self.episodes[d.episode_id], d) for d in due]

    def record_delivery(
        self,
        episode_id: str,
        event: EventKind,
        target: str,
        outcome: DeliveryOutcome | None,
        at: datetime,
    ) -> Delivery:
        current = self.deliveries[(episode_id, event, target)]
        if outcome is None:
            updated = replace(current, state="expired", last_attempt_at=at)
        else:
            updated = replace(
                current,
                state="sent" if outcome.ok else "failed",
                attempts=current.attempts + outcome.attempts,
                last_attempt_at=at,
                delivered_at=at if outcome.ok else None,
                last_error=None if outcome.ok else outcome.error,
            )
        self.deliveries[(episode_id, event, target)] = updated
        return updated

    def history(self) -> list[Episode]:
        """Every episode, newest first (the alert history a page shows)."""
        return sorted(self.episodes.values(), key=lambda e: e.opened_at, reverse=True)
