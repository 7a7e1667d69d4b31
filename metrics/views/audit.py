"""The audit log: who signed in (or was refused), whose role changed, who exported a table,
changed the work queue or asked for a collector run, and when.

A signed-in user is identified by the OpenID provider's subject (``sub``, which the user cannot
edit); their e-mail or name is kept beside it as `actor`. Without sign-in (the demo) the actor
is the name the visitor typed and the subject is empty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select

from metrics.kpis.common import read_frame
from metrics.views.access import Access
from metrics.views.guard import view
from store.tables import AuditEntry

AuditAction = Literal[
    "sign_in",
    "sign_in_refused",
    "session_ended",
    "role_change",
    "export",
    "work_queue",
    "run_now",
]
ACTIONS: tuple[AuditAction, ...] = AuditAction.__args__  # type: ignore[attr-defined]
COLUMNS = ["at", "subject", "actor", "role", "action", "detail"]


def record(
    target: Engine | Connection,
    actor: str,
    role: str,
    action: AuditAction,
    detail: str,
    *,
    subject: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry (in the caller's transaction when given a connection)."""
    values = {
        "at": (at or datetime.now(UTC)).astimezone(UTC),
        "subject": (subject or None) and subject[:255],
        "actor": actor[:200],
        "role": role,
        "action": action,
        "detail": detail,
    }
    if isinstance(target, Engine):
        with target.begin() as conn:
            conn.execute(insert(AuditEntry).values(**values))
    else:
        target.execute(insert(AuditEntry).values(**values))


def record_for(target: Engine | Connection, who: Access, action: AuditAction, detail: str) -> None:
    """Append one entry for the visitor `who`."""
    record(target, who.user, who.role, action, detail, subject=who.subject)


@view("audit")
def audit_log(access: Access, engine: Engine, limit: int = 500) -> pd.DataFrame:
    """The newest entries first."""
    a = AuditEntry
    query = select(a.at, a.subject, a.actor, a.role, a.action, a.detail)
    return read_frame(engine, query.order_by(a.at.desc(), a.id.desc()).limit(limit), ("at",))


def logged(engine: Engine, subject: str, action: AuditAction, detail: str) -> bool:
    """Whether this exact entry is already in the log (a sign-in seen by another tab)."""
    a = AuditEntry
    query = select(a.id).where(a.subject == subject[:255], a.action == action, a.detail == detail)
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None


def last_role(engine: Engine, subject: str) -> str | None:
    """The role `subject` had at their latest sign-in, if they signed in before."""
    a = AuditEntry
    query = (
        select(a.role)
        .where(a.subject == subject[:255], a.action == "sign_in")
        .order_by(a.at.desc(), a.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none()
