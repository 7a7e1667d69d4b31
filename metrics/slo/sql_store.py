"""`AlertStore` on the database: alert episodes and their deliveries (an outbox), so alert
history survives restarts and every worker sees the same open episodes.

Each episode change and the delivery rows it queues are written in one transaction. Checks are
stored as JSON (`check_to_json` / `check_from_json` round-trip them exactly).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from metrics.slo.alerts import Delivery, DeliveryOutcome, Episode, EventKind
from metrics.slo.evaluate import AlertCheck
from metrics.slo.windows import BurnWindow
from store.tables import AlertDelivery, AlertEpisode


def check_to_json(check: AlertCheck) -> dict[str, Any]:
    """A JSON-ready dict of an alert check."""
    out: dict[str, Any] = {}
    for f in fields(check):
        value = getattr(check, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, timedelta):
            value = value.total_seconds()
        elif isinstance(value, BurnWindow):
            value = {
                "name": value.name,
                "severity": value.severity,
                "long": value.long.total_seconds(),
                "short": value.short.total_seconds(),
                "factor": value.factor,
                "business_time": value.business_time,
            }
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


def check_from_json(data: dict[str, Any]) -> AlertCheck:
    """The alert check `check_to_json` produced."""
    values = dict(data)
    for name in ("as_of", "last_success"):
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    if values.get("stale_after") is not None:
        values["stale_after"] = timedelta(seconds=values["stale_after"])
    if values.get("window") is not None:
        w = values["window"]
        values["window"] = BurnWindow(
            w["name"],
            w["severity"],
            timedelta(seconds=w["long"]),
            timedelta(seconds=w["short"]),
            w["factor"],
            w["business_time"],
        )
    values["group"] = tuple(tuple(pair) for pair in values.get("group", ()))
    values["paused_slos"] = tuple(values.get("paused_slos", ()))
    return AlertCheck(**values)


def _episode(row: AlertEpisode) -> Episode:
    return Episode(
        id=row.id,
        key=row.key,
        severity=row.severity,  # type: ignore[arg-type]
        opened_at=row.opened_at,
        opened=check_from_json(row.opened),
        resolved_at=row.resolved_at,
        resolved=check_from_json(row.resolved) if row.resolved else None,
    )


def _delivery(row: AlertDelivery) -> Delivery:
    return Delivery(
        episode_id=row.episode_id,
        event=row.event,  # type: ignore[arg-type]
        target=row.target,
        created_at=row.created_at,
        state=row.state,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )


class SqlAlertStore:
    """Alert episodes and deliveries in the store's `alert_episodes` / `alert_deliveries`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open_episodes(self) -> list[Episode]:
        query = select(AlertEpisode).where(AlertEpisode.resolved_at.is_(None))
        with Session(self.engine) as session:
            return [_episode(row) for row in session.scalars(query)]

    def open_episode(self, check: AlertCheck, at: datetime, targets: Sequence[str]) -> Episode:
        episode_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            already = conn.execute(
                select(AlertEpisode.id).where(
                    AlertEpisode.key == check.key, AlertEpisode.resolved_at.is_(None)
                )
            ).first()
            if already is not None:
                raise ValueError(f"an episode of {check.key} is already open")
            conn.execute(
                insert(AlertEpisode).values(
                    id=episode_id,
                    key=check.key,
                    severity=check.severity,
                    opened_at=at,
                    resolved_at=None,
                    opened=check_to_json(check),
                    resolved=None,
                )
            )
            self._queue(conn, episode_id, "firing", targets, at)
        return Episode(episode_id, check.key, check.severity, at, check)

    def resolve_episode(
        self, episode_id: str, at: datetime, check: AlertCheck | None, targets: Sequence[str]
    ) -> Episode:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(AlertEpisode)
                .where(AlertEpisode.id == episode_id, AlertEpisode.resolved_at.is_(None))
                .values(resolved_at=at, resolved=check_to_json(check) if check else None)
            )
            if done.rowcount != 1:
                raise ValueError(f"episode {episode_id} is not open")
            self._queue(conn, episode_id, "resolved", targets, at)
        with Session(self.engine) as session:
            return _episode(session.get_one(AlertEpisode, episode_id))

    @staticmethod
    def _queue(
        conn: Any, episode_id: str, event: EventKind, targets: Sequence[str], at: datetime
    ) -> None:
        if targets:
            conn.execute(
                insert(AlertDelivery),
                [
                    {
                        "episode_id": episode_id,
                        "event": event,
                        "target": t,
                        "state": "pending",
                        "attempts": 0,
                        "created_at": at,
                    }
                    for t in targets
                ],
            )

    def due_deliveries(self) -> list[tuple[Episode, Delivery]]:
        query = (
            select(AlertDelivery, AlertEpisode)
            .join(AlertEpisode, AlertEpisode.id == AlertDelivery.episode_id)
            .where(AlertDelivery.state.in_(("pending", "failed")))
        )
        with Session(self.engine) as session:
            pairs = [(_episode(e), _delivery(d)) for d, e in session.execute(query)]
        pairs.sort(
            key=lambda p: (p[1].created_at, p[1].episode_id, p[1].event != "firing", p[1].target)
        )
        return pairs

    def record_delivery(
        self,
        episode_id: str,
        event: EventKind,
        target: str,
        outcome: DeliveryOutcome | None,
        at: datetime,
    ) -> Delivery:
        key = (
            AlertDelivery.episode_id == episode_id,
            AlertDelivery.event == event,
            AlertDelivery.target == target,
        )
        with self.engine.begin() as conn:
            if outcome is None:
                values: dict[str, Any] = {"state": "expired", "last_attempt_at": at}
            else:
                values = {
                    "state": "sent" if outcome.ok else "failed",
                    "attempts": AlertDelivery.attempts + outcome.attempts,
                    "last_attempt_at": at,
                    "delivered_at": at if outcome.ok else None,
                    "last_error": None if outcome.ok else outcome.error,
                }
            conn.execute(update(AlertDelivery).where(*key).values(**values))
        with Session(self.engine) as session:
            return _delivery(session.scalars(select(AlertDelivery).where(*key)).one())

    def history(self, limit: int = 200) -> list[Episode]:
        """The newest episodes first (the alert history the SLO page shows)."""
        query = select(AlertEpisode).order_by(AlertEpisode.opened_at.desc()).limit(limit)
        with Session(self.engine) as session:
            return [_episode(row) for row in session.scalars(query)]
