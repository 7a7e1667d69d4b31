"""Summarise the store in the demo estate's ground-truth terms, computed with plain SQL."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text


def store_summary(engine: Engine) -> dict[str, Any]:
    """Counts per object type / activity / link qualifier, key checksums and amount totals."""
    with engine.connect() as conn:
        objects = dict(conn.execute(text("SELECT type, count(*) FROM objects GROUP BY type")).all())
        events = dict(
            conn.execute(text("SELECT activity, count(*) FROM events GROUP BY activity")).all()
        )
        links = dict(
            conn.execute(
                text("SELECT qualifier, count(*) FROM object_links GROUP BY qualifier")
            ).all()
        )
        keys: dict[str, list[str]] = {}
        for type_, system, key in conn.execute(
            text("SELECT type, source_system, source_key FROM objects")
        ):
            keys.setdefault(type_, []).append(f"{system}|{key}")
        amounts: dict[str, Decimal] = {}
        for type_, amount in conn.execute(text("SELECT type, amount FROM objects")):
            if amount is not None:
                amounts[type_] = amounts.get(type_, Decimal(0)) + Decimal(str(amount))
        attempts, failed = conn.execute(
            text(
                "SELECT count(*), sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) "
                "FROM sync_attempts"
            )
        ).one()
    return {
        "objects": objects,
        "events": events,
        "links": links,
        "sync_attempts": attempts,
        "sync_attempts_failed": failed or 0,
        "checksums": {
            t: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest() for t, v in keys.items()
        },
        "amounts": {t: v.quantize(Decimal("0.01")) for t, v in amounts.items()},
    }


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    """Drop zero counts (the truth lists every known key, the store only what it has)."""
    return {k: v for k, v in counts.items() if v}
