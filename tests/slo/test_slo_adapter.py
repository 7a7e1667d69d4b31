"""The adapter's open items: handoffs still waiting, and those closed after their deadline."""

from __future__ import annotations

import pandas as pd
from slo_helpers import utc

from metrics.slo.adapter import Context, _latency_inputs
from metrics.slo.evaluate import evaluate_slo
from metrics.slo.spec import load_default_slos

CTX = Context(countries={"US": "US"}, reporting_currency="USD")


def _frame(rows: list[tuple[str, object, object, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["deal_key", "won_at", "project_created_at", "bd"])
    for column in ("won_at", "project_created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.assign(
        legal_entity="US", business_days=frame["bd"], calendar_hours=frame["bd"] * 24
    )


def test_handoffs_closed_after_their_deadline_keep_burning_the_aging_budget_they_used() -> None:
    slo = next(s for s in load_default_slos() if s.name == "project-setup-latency")
    # Mon 2026-03-02 09:00 won; the deadline is 2 business days later, Wed 09:00
    cases = _frame(
        [
            ("IN-TIME", utc(2026, 3, 2, 9), utc(2026, 3, 3, 9), 1.0),
            ("LATE", utc(2026, 3, 2, 9), utc(2026, 3, 9, 9), 5.0),  # closed Mon: 3 days late
        ]
    )
    waiting = _frame([("OPEN", utc(2026, 3, 2, 9), None, float("nan"))])
    inputs = _latency_inputs(slo, cases, waiting, "project_created_at", "won_at", "deal_key", CTX)
    items = {i.key: i for i in inputs.open_items}
    assert set(items) == {"OPEN", "LATE"}
    assert items["OPEN"].closed_at is None
    assert items["LATE"].closed_at == utc(2026, 3, 9, 9)
    assert items["LATE"].deadline == items["OPEN"].deadline == utc(2026, 3, 4, 9)
    assert [o.good for o in inputs.occurrences] == [True, False]
    report = evaluate_slo(slo, inputs.occurrences, inputs.open_items, as_of=utc(2026, 3, 16, 9))
    days = report.overall.days
    assert days is not None and days.items_late == 2
    assert days.burned == 3.0 + 8.0  # LATE: Wed→Mon; OPEN: Wed 3/4 → Mon 3/16
