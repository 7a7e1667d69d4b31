"""Deal handoff facts: one row per won deal, first `deal.won` → first linked `project.created`.

Excluded (kept, with the reason): deals flagged `no_project_required`, and deals whose latest
stage outcome is a loss after the win (reopened, then lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from metrics.facts.common import Obj, event_times, first, objects, replace_rows
from metrics.facts.filter_values import offer
from store.canonical import Activity, LinkQualifier, ObjectType
from store.reads import Ids, links_from
from store.tables import CaseHandoff

STAGES = (Activity.DEAL_WON, Activity.DEAL_LOST, Activity.DEAL_REOPENED)
NO_PROJECT, REOPENED_LOST = "no_project_required", "reopened_lost"


@dataclass(frozen=True, slots=True)
class ProjectStart:
    """A project linked to a deal and when it was created."""

    id: int
    key: str | None
    created_at: datetime
    touchless: bool | None


def handoff_row(
    deal_id: int,
    deal: Obj | None,
    stages: dict[str, list[datetime]],
    projects: Sequence[ProjectStart],
) -> dict[str, Any] | None:
    """The fact row of one deal from its stage events and linked projects (None if never won)."""
    wins = stages.get(Activity.DEAL_WON, [])
    if not wins:
        return None
    outcomes = sorted(
        [(t, 1, "won") for t in wins] + [(t, 0, "lost") for t in stages.get(Activity.DEAL_LOST, [])]
    )
    excluded = None
    if deal is not None and deal.attr("no_project_required") is True:
        excluded = NO_PROJECT
    elif outcomes[-1][2] == "lost":
        excluded = REOPENED_LOST
    project = min(projects, key=lambda p: (p.created_at, p.key or ""), default=None)
    return {
        "deal_id": deal_id,
        "deal_key": deal.source_key if deal else None,
        "legal_entity": deal.legal_entity if deal else None,
        "practice": deal.practice if deal else None,
        "customer": deal.customer if deal else None,
        "owner": deal.owner if deal else None,
        "currency": deal.currency if deal else None,
        "amount": deal.amount if deal else None,
        "won_at": wins[0],
        "wins": len(wins),
        "excluded": excluded,
        "project_id": project.id if project else None,
        "project_key": project.key if project else None,
        "project_created_at": project.created_at if project else None,
        "projects": len(projects),
        "touchless": project.touchless if project else None,
    }


def refresh_handoffs(conn: Connection, deal_ids: Ids) -> int:
    """Recompute the handoff rows of `deal_ids` (every deal when None); rows written."""
    if deal_ids is not None and not deal_ids:
        return 0
    stages = event_times(conn, deal_ids, "deal", STAGES)
    won = [d for d, by in stages.items() if by.get(Activity.DEAL_WON)]
    deals = objects(conn, won, ObjectType.DEAL)
    links = links_from(conn, won, LinkQualifier.PROVISIONS)
    project_ids = {p for _, p in links}
    created = event_times(conn, project_ids, "project", (Activity.PROJECT_CREATED,))
    project_objs = objects(conn, project_ids, ObjectType.PROJECT)
    starts: dict[int, list[ProjectStart]] = {d: [] for d in won}
    for deal_id, project_id in links:
        at = first(created.get(project_id, {}).get(Activity.PROJECT_CREATED))
        if at is None:
            continue
        obj = project_objs.get(project_id)
        touchless = obj.attr("touchless") if obj else None
        starts[deal_id].append(
            ProjectStart(
                project_id,
                obj.source_key if obj else None,
                at,
                touchless if isinstance(touchless, bool) else None,
            )
        )
    rows = [
        row
        for d in sorted(won)
        if (row := handoff_row(d, deals.get(d), stages[d], starts[d])) is not None
    ]
    replace_rows(conn, CaseHandoff.__table__, "deal_id", deal_ids, rows)  # type: ignore[arg-type]
    offer(conn, rows)
    return len(rows)
