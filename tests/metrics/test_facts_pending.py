"""The case-fact queue: cases are marked in the ingest transaction and refreshed after it.

A batch stored without its refresh leaves its cases queued, and a later refresh (after a crash,
from another process) brings the facts to exactly what a full rebuild gives; a refresh that
fails puts its cases back; a refresh waits for an ingest transaction that has marked cases to
commit, and then includes them (PostgreSQL: the shared/exclusive lock of `metrics.facts`).
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import metrics.facts
from metrics.facts import rebuild_case_facts, refresh_pending, write_and_refresh
from metrics.views.access import ANONYMOUS as ADMIN
from store import pending
from store.canonical import Activity, Batch
from store.migrate import upgrade
from store.tables import CaseHandoff
from store.write import write_batch, write_batch_in
from tests.metrics.builders import at, deal, merge, project, stage


def won(key: str, when: datetime, created: datetime | None = None) -> Batch:
    parts = [deal(key), stage(key, Activity.DEAL_WON, when)]
    if created is not None:
        parts.append(project(f"P-{key}", key, created))
    return merge(*parts)


def handoffs(engine: Engine) -> dict[str, datetime | None]:
    with Session(engine) as s:
        rows = s.execute(select(CaseHandoff.deal_key, CaseHandoff.project_created_at)).all()
    return {str(key): created for key, created in rows}


def queued(engine: Engine) -> int:
    with engine.connect() as conn:
        return pending.queued(conn)


def test_cases_stay_queued_until_a_refresh_and_then_equal_a_rebuild(engine: Engine) -> None:
    write_batch(engine, won("D1", at(2026, 3, 2, 9)))
    write_batch(engine, won("D2", at(2026, 3, 3, 9), at(2026, 3, 4, 9)))
    write_batch(engine, project("P-D1", "D1", at(2026, 3, 5, 9)))
    assert handoffs(engine) == {}  # nothing refreshed yet: as after a crash right after commit
    assert queued(engine) >= 2

    report = refresh_pending(engine, chunk=1)  # one case per transaction, several transactions
    assert report.cases >= 2 and queued(engine) == 0
    incremental = handoffs(engine)
    assert incremental == {"D1": at(2026, 3, 5, 9), "D2": at(2026, 3, 4, 9)}
    rebuild_case_facts(engine)
    assert handoffs(engine) == incremental
    assert refresh_pending(engine).cases == 0  # nothing left to do


def test_a_failed_refresh_puts_its_cases_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_batch(engine, won("D1", at(2026, 3, 2, 9), at(2026, 3, 3, 9)))
    before = queued(engine)

    def broken(*_args: object) -> int:
        raise RuntimeError("the refresh failed half-way")

    monkeypatch.setattr(metrics.facts, "_refresh", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        refresh_pending(engine)
    assert queued(engine) == before and handoffs(engine) == {}
    monkeypatch.undo()
    refresh_pending(engine)
    assert handoffs(engine) == {"D1": at(2026, 3, 3, 9)} and queued(engine) == 0


@pytest.mark.postgres
def test_a_refresh_waits_for_an_open_ingest_and_then_includes_it(pg_engine: Engine) -> None:
    write_and_refresh(pg_engine, won("D1", at(2026, 3, 2, 9)))
    with pg_engine.connect() as ingest:
        transaction = ingest.begin()
        write_batch_in(ingest, project("P-D1", "D1", at(2026, 3, 4, 9)))
        done = threading.Event()
        refresher = threading.Thread(target=lambda: (refresh_pending(pg_engine), done.set()))
        refresher.start()
        assert not done.wait(1.0), "the refresh ran beside an open ingest transaction"
        transaction.commit()
    refresher.join(30)
    assert done.is_set()
    assert handoffs(pg_engine) == {"D1": at(2026, 3, 4, 9)} and queued(pg_engine) == 0


@pytest.fixture
def pg_engine(pg_schema_engine: Engine) -> Engine:
    upgrade(pg_schema_engine)
    return pg_schema_engine


def test_a_redelivered_batch_queues_no_case(engine: Engine) -> None:
    batch = won("D1", at(2026, 3, 2, 9), at(2026, 3, 3, 9))
    write_and_refresh(engine, batch)
    assert queued(engine) == 0
    again = write_batch(engine, batch)
    assert again.total == 0 and queued(engine) == 0  # nothing changed, nothing to recompute
    write_batch(engine, merge(batch, stage("D1", Activity.DEAL_LOST, at(2026, 3, 9))))
    assert queued(engine) >= 1  # a new event on the deal queues it


def test_the_filters_offer_each_value_cases_carry_from_their_refresh_on(engine: Engine) -> None:
    """The sidebar's values come from `case_dimensions`: the refresh adds a new case's values;
    a value no case carries any more is offered until the next full rebuild drops it."""
    from metrics.views.common import Dimensions, dimensions

    write_and_refresh(
        engine,
        merge(
            deal("D1", "DE", practice="Data", customer="Acme"),
            stage("D1", Activity.DEAL_WON, at(2026, 3, 2, 9)),
        ),
    )
    assert dimensions(ADMIN, engine) == Dimensions(("DE",), ("Data",), ("Acme",))
    write_and_refresh(
        engine,
        merge(
            deal("D2", "US", practice="", customer="Globex"),
            stage("D2", Activity.DEAL_WON, at(2026, 3, 3, 9)),
        ),
    )
    assert dimensions(ADMIN, engine) == Dimensions(("DE", "US"), ("Data",), ("Acme", "Globex"))

    write_and_refresh(engine, deal("D1", "DE", practice="Data", customer="Acme Corp"))  # renamed
    assert dimensions(ADMIN, engine).customers == ("Acme", "Acme Corp", "Globex")
    rebuild_case_facts(engine)
    assert dimensions(ADMIN, engine) == Dimensions(("DE", "US"), ("Data",), ("Acme Corp", "Globex"))
    rebuild_case_facts(engine, columnar=False)
    assert dimensions(ADMIN, engine) == Dimensions(("DE", "US"), ("Data",), ("Acme Corp", "Globex"))


@pytest.mark.postgres
def test_taking_a_chunk_reads_the_first_keys_once_whatever_the_statistics(
    pg_schema_engine: Engine,
) -> None:
    """Statistics taken while the queue was empty must not turn the take into a rescan of the
    first keys for every queued row (the plan computes them once, as an init plan)."""
    from store.affected import Affected
    from store.pending import TAKE_ANY_ARRAY

    engine = pg_schema_engine
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE facts_pending")  # empty: the planner expects one row
        pending.mark(conn, Affected(deals=set(range(1, 3_001))))
    with engine.begin() as conn:
        plan = "\n".join(
            conn.exec_driver_sql(
                "EXPLAIN " + TAKE_ANY_ARRAY.replace(":kind", "'deal'").replace(":n", "100")
            ).scalars()
        )
        assert "InitPlan" in plan and "SubPlan" not in plan and "Nested Loop" not in plan, plan
        taken = pending.take(conn, 100)
    assert taken.deals == {int(k) for k in sorted(str(i) for i in range(1, 3_001))[:100]}
    assert queued(engine) == 2_900
