"""The SLO views the pages read: the board with each SLO's weekly history, and the alert
history — limited to what a visitor's practices cover.

An SLO row for the whole firm, a legal entity, a region, an integration or a flow is an
aggregate and is shown to every role that opens the page; a row for a practice or a customer
is shown to a visitor limited to some practices only when it is one of theirs (a customer: one
with a case in their practices); a row grouped by owner is not shown to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import pandas as pd
from sqlalchemy import Engine

from foundation.settings import Settings
from metrics.slo.service import Collectors, SloViews, current_views
from metrics.slo.service import alert_history as all_alerts
from metrics.slo.spec import GROUP_DIMENSIONS
from metrics.views.access import Access
from metrics.views.common import customers_in_scope
from metrics.views.guard import view

#: Group dimensions whose rows are aggregates over many practices' records.
AGGREGATES = frozenset({"legal_entity", "region", "integration", "flow"})


def board_group(label: str) -> dict[str, str]:
    """The group of a board row's scope label (``legal_entity=DE, practice=Cloud``; ``all``)."""
    if label == "all":
        return {}
    group: dict[str, str] = {}
    name = None
    for part in str(label).split(", "):
        key, sep, value = part.partition("=")
        if sep and key in GROUP_DIMENSIONS:
            name = key
            group[name] = value
        elif name is not None:  # a value holding ", " itself
            group[name] += f", {part}"
    return group


def alert_group(key: str) -> dict[str, str]:
    """The group of an alert key (``slo:<name>:<budget>:<row>:k=v&k=v``; ``*`` overall)."""
    parts = str(key).split(":")
    if parts[0] != "slo" or len(parts) < 5 or parts[-1] == "*":
        return {}
    return dict(parse_qsl(parts[-1], keep_blank_values=True))


def _visible(group: Mapping[str, str], access: Access, customers: set[str]) -> bool:
    for dimension, value in group.items():
        if dimension in AGGREGATES:
            continue
        if dimension == "practice" and access.allows(value):
            continue
        if dimension == "customer" and value in customers:
            continue
        return False
    return True


def _in_scope(
    frame: pd.DataFrame, groups: list[dict[str, str]], access: Access, engine: Engine
) -> pd.DataFrame:
    if not access.limited or frame.empty:
        return frame
    with engine.connect() as conn:
        customers = customers_in_scope(conn, access)
    keep = [_visible(g, access, customers) for g in groups]
    return frame[keep].reset_index(drop=True)


@view("overview", "slos")
def slo_views(
    access: Access,
    engine: Engine,
    settings: Settings,
    as_of: datetime,
    collectors: Collectors,
    max_age: timedelta | None = None,
) -> SloViews:
    """The SLO board and weekly histories at `as_of` (`metrics.slo.service.current_views`),
    the board's rows limited to the visitor's scope."""
    views = current_views(engine, settings, as_of, collectors, max_age)
    board = views.board
    groups = [board_group(label) for label in board["scope"]] if len(board) else []
    return SloViews(_in_scope(board, groups, access, engine), views.histories)


@view("slos")
def alert_history(access: Access, engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Alert episodes, newest first, limited to the visitor's scope."""
    alerts = all_alerts(engine, limit)
    groups = [alert_group(key) for key in alerts["key"]]
    return _in_scope(alerts, groups, access, engine)
