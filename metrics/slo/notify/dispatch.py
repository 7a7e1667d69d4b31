"""Sending what is due: deliveries in order per episode and target, retried on the next
evaluation until they expire."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from metrics.slo.alerts import AlertStore, Delivery, Transition, reconcile
from metrics.slo.evaluate import EvaluationRun
from metrics.slo.notify.message import message_for
from metrics.slo.notify.webhooks import Notifier

logger = logging.getLogger("throughline.slo.notify")


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one `dispatch` did."""

    sent: tuple[Delivery, ...] = ()
    failed: tuple[Delivery, ...] = ()
    expired: tuple[Delivery, ...] = ()


def dispatch(
    store: AlertStore,
    notifier: Notifier,
    *,
    at: datetime,
    give_up_after: timedelta = timedelta(days=1),
) -> DispatchReport:
    """Send every due delivery the store holds (new ones and ones that failed before).

    Per episode and target the order is kept: while a firing notification is still failing, its
    resolve waits. Deliveries queued more than ``give_up_after`` before ``at`` expire.
    """
    sent: list[Delivery] = []
    failed: list[Delivery] = []
    expired: list[Delivery] = []
    blocked: set[tuple[str, str]] = set()
    for episode, delivery in store.due_deliveries():
        lane = (episode.id, delivery.target)
        if lane in blocked:
            continue
        if at - delivery.created_at > give_up_after:
            expired.append(
                store.record_delivery(episode.id, delivery.event, delivery.target, None, at)
            )
            logger.warning(
                "gave up on the %s notification of %s to %s after %s",
                delivery.event,
                episode.key,
                delivery.target,
                give_up_after,
            )
            continue
        outcome = notifier.send(delivery.target, message_for(episode, delivery.event))
        recorded = store.record_delivery(episode.id, delivery.event, delivery.target, outcome, at)
        if outcome.ok:
            sent.append(recorded)
        else:
            failed.append(recorded)
            blocked.add(lane)
    return DispatchReport(sent=tuple(sent), failed=tuple(failed), expired=tuple(expired))


def process(
    run: EvaluationRun,
    store: AlertStore,
    notifier: Notifier,
    *,
    give_up_after: timedelta = timedelta(days=1),
) -> tuple[list[Transition], DispatchReport]:
    """One alerting step after an evaluation: `reconcile`, then `dispatch` at ``run.as_of``."""
    transitions = reconcile(run, store, targets=notifier.target_names)
    report = dispatch(store, notifier, at=run.as_of, give_up_after=give_up_after)
    return transitions, report
