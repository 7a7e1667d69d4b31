"""The audit log: who signed in, exported a table or changed the work queue, and when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select

from metrics.kpis.common import read_frame
from metrics.models import AuditEntry

AuditAction = Literal["sign_in", "export", "work_queue"]
COLUMNS = ["at", "actor", "role", "action", "detail"]


def record(
    target: Engine | Connection, actor: str, role: str, action: AuditAction, detail: str,
    *, at: datetime | None = None,
) -> None:  # fmt: skip
    """Append one entry (in the caller's transaction when given a connection)."""
    values = {
        "at": (at or datetime.now(UTC)).astimezone(UTC), "actor": actor[:200], "role": role,
        "action": action, "detail": detail,
    }  # fmt: skip
    if isinstance(target, Engine):
        with target.begin() as conn:
            conn.execute(insert(AuditEntry).values(**values))
    else:
        target.execute(insert(AuditEntry).values(**values))


def audit_log(engine: Engine, limit: int = 500) -> pd.DataFrame:
    """The newest entries first."""
    a = AuditEntry
    query = select(a.at, a.actor, a.role, a.action, a.detail).order_by(a.at.desc(), a.id.desc())
    return read_frame(engine, query.limit(limit), ("at",))


def logged(engine: Engine, actor: str, action: AuditAction, detail: str) -> bool:
    """Whether this exact entry is already in the log (a sign-in seen by another tab)."""
    a = AuditEntry
    query = select(a.id).where(a.actor == actor[:200], a.action == action, a.detail == detail)
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None
