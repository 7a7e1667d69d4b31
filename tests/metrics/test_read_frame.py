"""`read_frame` reads timestamp columns as the driver returns them and converts them a column
at a time: the result must equal the column type's own per-value conversion."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, func, insert, select

from metrics.kpis.common import read_frame
from store.tables import CaseHandoff

WON = [
    datetime(2025, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2025, 3, 30, 1, 30, tzinfo=timezone(timedelta(hours=2))),  # stored as 23:30 UTC
    datetime(2024, 2, 29, 12, 0, 0, 5, tzinfo=UTC),
]
CREATED = [WON[0] + timedelta(days=3, microseconds=1), None, WON[2] + timedelta(hours=7)]


@pytest.fixture(scope="module")
def handoffs(module_engine: Engine) -> Iterator[Engine]:
    rows = [
        {
            "deal_id": i + 1,
            "deal_key": f"D{i + 1}",
            "customer": "Acme",
            "won_at": won,
            "wins": 1,
            "projects": int(created is not None),
            "project_created_at": created,
        }
        for i, (won, created) in enumerate(zip(WON, CREATED, strict=True))
    ]
    with module_engine.begin() as conn:
        conn.execute(insert(CaseHandoff), rows)
    yield module_engine
    with module_engine.begin() as conn:
        conn.execute(delete(CaseHandoff))


def test_timestamps_read_raw_equal_the_typed_per_value_conversion(handoffs: Engine) -> None:
    t = CaseHandoff
    query = select(t.deal_key, t.won_at, t.project_created_at, t.customer).order_by(t.deal_id)
    frame = read_frame(handoffs, query, ("won_at", "project_created_at"))
    with handoffs.connect() as conn:
        typed = conn.execute(query).all()  # aware datetimes through `UTCDateTime`
    assert list(frame.columns) == ["deal_key", "won_at", "project_created_at", "customer"]
    assert str(frame["won_at"].dtype) == "datetime64[us, UTC]"
    assert list(frame["won_at"]) == [pd.Timestamp(r.won_at) for r in typed]
    assert [pd.Timestamp(w) for w in WON] == list(frame["won_at"])
    assert frame["project_created_at"].isna().tolist() == [False, True, False]
    assert frame["project_created_at"][0] == pd.Timestamp(CREATED[0])
    assert list(frame["customer"]) == ["Acme"] * 3


def test_aggregated_and_unlisted_timestamps_keep_their_type(handoffs: Engine) -> None:
    t = CaseHandoff
    query = select(func.max(t.won_at).label("last"), func.min(t.won_at).label("first"))
    frame = read_frame(handoffs, query, ("last",))
    assert frame["last"][0] == pd.Timestamp(WON[1])
    # Not listed in `times`: converted by its column type, as before.
    assert frame["first"][0] == WON[2]
    assert frame["first"][0].tzinfo is not None
