"""The columnar full rebuild (DuckDB) writes exactly the rows of the per-case Python builders:
on hand-built edge cases of every rule, on the demo year, and when `refresh_pending` serves a
backfill-sized queue with it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

import metrics.facts
from metrics.facts import rebuild_case_facts, refresh_pending
from store import pending
from store.canonical import (
    Activity,
    Batch,
    ErrorClass,
    EventObject,
    EventRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
    SyncAttemptRow,
    SyncStatus,
)
from store.write import write_batch
from tests.metrics.builders import (
    CRM,
    ERP,
    IPAAS,
    PSA,
    at,
    attempt,
    deal,
    invoice,
    merge,
    milestone,
    payment,
    project,
    stage,
    work,
)
from tests.metrics.test_kpi_demo_year import FACT_TABLES, _collect

T = ObjectType
L = LinkQualifier
A = Activity
D = at(2026, 3, 2, 9)


def facts(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every fact table, as sorted tuples."""
    with engine.connect() as conn:
        return {
            t: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
            for t in FACT_TABLES
        }


def both(
    engine: Engine,
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    """The facts of the Python rebuild, then of the columnar one."""
    python = rebuild_case_facts(engine, columnar=False)
    reference = facts(engine)
    columnar = rebuild_case_facts(engine)
    assert columnar.rows == python.rows
    return reference, facts(engine)


def assert_same(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    reference, columnar = both(engine)
    for table in FACT_TABLES:
        assert columnar[table] == reference[table], table
    return reference


def obj(type_: ObjectType, system: str, key: str, **kw: Any) -> ObjectRow:
    return ObjectRow(type_, system, key, **kw)


def link(
    a: tuple[str, ObjectType, str], b: tuple[str, ObjectType, str], q: LinkQualifier
) -> LinkRow:
    return LinkRow(a[0], a[1], a[2], b[0], b[1], b[2], q, a[0])


def event(
    activity: Activity, when: Any, key: str, *refs: tuple[str, ObjectType, str, str]
) -> EventRow:
    return EventRow(activity, when, refs[0][0], key, tuple(EventObject(*r) for r in refs))


def sync(key: str, status: SyncStatus, when: Any, **kw: Any) -> SyncAttemptRow:
    return SyncAttemptRow(IPAAS, key, "crm-psa", "crm-psa/project_provisioning", status, when, **kw)


def handoff_cases() -> Batch:
    return merge(
        # plain; several wins; project picked by (created_at, key) among equal times
        deal("H1"),
        stage("H1", A.DEAL_WON, D),
        stage("H1", A.DEAL_WON, D + timedelta(days=3)),
        project("H1-B", "H1", at(2026, 3, 4, 9)),
        project("H1-A", "H1", at(2026, 3, 4, 9)),
        project("H1-C", "H1", at(2026, 3, 5, 9), touchless=True),
        # reopened then lost; won, lost, won again; lost at the same time as the last win
        deal("H2"),
        stage("H2", A.DEAL_WON, D),
        stage("H2", A.DEAL_REOPENED, D + timedelta(1)),
        stage("H2", A.DEAL_LOST, D + timedelta(days=2)),
        deal("H3"),
        stage("H3", A.DEAL_WON, D),
        stage("H3", A.DEAL_LOST, D + timedelta(1)),
        stage("H3", A.DEAL_WON, D + timedelta(days=2)),
        deal("H4"),
        stage("H4", A.DEAL_WON, D),
        stage("H4", A.DEAL_LOST, D),
        # no project required (a JSON true only), and a lost deal that never won
        deal("H5", no_project=True),
        stage("H5", A.DEAL_WON, D),
        deal("H6"),
        stage("H6", A.DEAL_LOST, D),
        # no deal object at all; a project without `project.created`; a deal without a project
        stage("H7", A.DEAL_WON, D),
        project("H7-P", "H7", at(2026, 3, 9, 9)),
        deal("H8"),
        stage("H8", A.DEAL_WON, D),
        Batch(
            objects=[
                obj(T.DEAL, CRM, "H9", attributes={"no_project_required": "true"}),
                obj(T.PROJECT, PSA, "H9-P", attributes={"touchless": "yes"}),
                obj(T.PROJECT, PSA, "H9-Q", attributes={"touchless": False}),
            ],
            events=[
                event(A.DEAL_WON, D, "H9-w", (CRM, T.DEAL, "H9", "deal")),
                event(A.PROJECT_CREATED, D, "H9-P", (PSA, T.PROJECT, "H9-P", "project")),
                event(A.PROJECT_CREATED, D, "H9-Q", (PSA, T.PROJECT, "H9-Q", "project")),
                event(A.PROJECT_CREATED, D, "H9-R", (PSA, T.PROJECT, "H9-R", "project")),
                event(
                    A.PROJECT_CREATED,
                    D + timedelta(1),
                    "H9-Q2",
                    (PSA, T.PROJECT, "H9-Q", "project"),
                ),
            ],
            links=[
                link((CRM, T.DEAL, "H9"), (PSA, T.PROJECT, "H9-P"), L.PROVISIONS),
                link((CRM, T.DEAL, "H9"), (PSA, T.PROJECT, "H9-Q"), L.PROVISIONS),
                link((CRM, T.DEAL, "H9"), (PSA, T.PROJECT, "H9-R"), L.PROVISIONS),  # no object
                link((CRM, T.DEAL, "H8"), (PSA, T.PROJECT, "NO-EVENTS"), L.PROVISIONS),
            ],
        ),
    )


def billing_cases() -> Batch:
    d = at(2026, 3, 1).date()
    return merge(
        project("P1", None, at(2026, 1, 5), "UK", customer="Umbrella", practice="Data"),
        project("P2", None, at(2026, 1, 5), "", customer="", practice="Apps"),
        # re-issue chain IV1 → IV2 → IV3; W1 billed on IV3 now (stale link to IV1)
        invoice(
            "IV1",
            "P1",
            "100",
            created=at(2026, 3, 9),
            posted=at(2026, 3, 10),
            voided=at(2026, 3, 12),
            period_end=d,
        ),
        invoice(
            "IV2",
            "P1",
            "100",
            created=at(2026, 3, 12),
            posted=at(2026, 3, 13),
            voided=at(2026, 3, 14),
            replaces="IV1",
            period_end=d,
        ),
        invoice(
            "IV3",
            "P1",
            "100",
            created=at(2026, 3, 14),
            posted=at(2026, 3, 15),
            sent=at(2026, 3, 16),
            replaces="IV2",
            period_end=d,
        ),
        work(
            "W1",
            "P1",
            "100.5",
            "GBP",
            d,
            approved=at(2026, 3, 2, 10),
            invoice="IV3",
            logged=at(2026, 3, 1, 10),
        ),
        work("W1", "P1", "100.5", "GBP", d, invoice="IV1"),  # the stale link
        work("W2", "P1", "40.1234", "GBP", d, approved=at(2026, 3, 20), invoice="IV3"),  # late
        # credit note; payments (two on IV3); a milestone invoice accepted twice, one never
        invoice(
            "CN1", "P1", "-100", created=at(2026, 3, 20), posted=at(2026, 3, 21), credits="IV3"
        ),
        payment("PAY1", "IV3", "60", at(2026, 4, 1)),
        payment("PAY2", "IV3", "40", at(2026, 4, 9)),
        milestone("M1", "P1", at(2026, 2, 1)),
        milestone("M1", "P1", at(2026, 1, 20)),
        invoice("IM1", "P1", "5000", created=at(2026, 2, 2), posted=at(2026, 2, 3), milestone="M1"),
        invoice("IM2", "P2", "5000", created=at(2026, 2, 2), milestone="M9"),
        # write-off, on hold, not billable, no project at all, empty project dimensions
        work("W3", "P1", "70", "GBP", d, approved=at(2026, 3, 2), written_off=at(2026, 3, 20)),
        work("W4", "P2", "25", "USD", d, logged=at(2026, 3, 15), status="on_hold"),
        work("W5", "P2", "999", "USD", None, approved=at(2026, 3, 3), billable=False),
        Batch(
            objects=[
                obj(
                    T.WORK_ITEM,
                    PSA,
                    "W6",
                    currency="USD",
                    amount=None,
                    legal_entity="DE",
                    attributes={
                        "kind": 7,
                        "status": True,
                        "billable": "true",
                        "work_date": "2026-03-05T10:00:00",
                        "invoice_id": None,
                    },
                ),
                obj(
                    T.WORK_ITEM,
                    PSA,
                    "W7",
                    customer="Own",
                    attributes={"project_id": "GONE", "work_date": "not a date"},
                ),
                obj(T.WORK_ITEM, PSA, "W8", attributes={"project_id": "", "work_date": ""}),
                obj(T.PROJECT, PSA, "5", legal_entity="US"),
                obj(T.WORK_ITEM, PSA, "W9", attributes={"project_id": 5, "invoice_id": "IV9"}),
                obj(
                    T.INVOICE,
                    ERP,
                    "IV9",
                    legal_entity="US",
                    attributes={
                        "kind": 0,
                        "billing_type": True,
                        "project_code": "P2",
                        "period_end": "2026-03-31T23:00:00+02:00",
                        "milestone_id": 0,
                    },
                ),
                obj(T.INVOICE, ERP, "IV10", attributes={"period_end": "garbage"}),
            ],
            events=[
                event(
                    A.WORK_APPROVED, at(2026, 3, 6), "W6-a", (PSA, T.WORK_ITEM, "W6", "work_item")
                ),
                event(
                    A.WORK_APPROVED, at(2026, 3, 4), "W6-b", (PSA, T.WORK_ITEM, "W6", "work_item")
                ),
                event(A.INVOICE_POSTED, at(2026, 3, 31), "IV9", (ERP, T.INVOICE, "IV9", "invoice")),
            ],
            links=[
                # W6: no project; billed on an invoice not in the store (matches: both None)
                link((PSA, T.WORK_ITEM, "W6"), (ERP, T.INVOICE, "MISSING"), L.BILLED_ON),
                link((PSA, T.WORK_ITEM, "W6"), (ERP, T.INVOICE, "IV1"), L.BILLED_ON),
                # W7: its project attribute names no stored project: no fallback to part_of
                link((PSA, T.WORK_ITEM, "W7"), (PSA, T.PROJECT, "P1"), L.PART_OF),
                # W8: empty attribute: the part_of link gives the project
                link((PSA, T.WORK_ITEM, "W8"), (PSA, T.PROJECT, "P2"), L.PART_OF),
                link((PSA, T.WORK_ITEM, "W9"), (ERP, T.INVOICE, "IV9"), L.BILLED_ON),
                # IV9 bills two projects: the one whose key is its project code wins
                link((ERP, T.INVOICE, "IV9"), (PSA, T.PROJECT, "P1"), L.BILLS),
                link((ERP, T.INVOICE, "IV9"), (PSA, T.PROJECT, "P2"), L.BILLS),
                # IV10 bills an object that is not a project, and one not stored
                link((ERP, T.INVOICE, "IV10"), (PSA, T.WORK_ITEM, "W1"), L.BILLS),
                link((ERP, T.INVOICE, "IV10"), (PSA, T.PROJECT, "NOWHERE"), L.BILLS),
            ],
        ),
    )


def sync_cases() -> Batch:
    flow = "erp-psa/invoice_sync"
    rows = [
        # fails twice, then succeeds; its dimensions from the deal
        attempt("S1", "T1", 1, at(2026, 3, 2, 9), failed=True, deal_key="H1"),
        attempt(
            "S2",
            "T1",
            2,
            at(2026, 3, 2, 10),
            failed=True,
            error_class=ErrorClass.TIMEOUT,
            signature="timeout",
            deal_key="H1",
        ),
        attempt("S3", "T1", 3, at(2026, 3, 3, 9), deal_key="H1"),
        # succeeds before failing (no resolution), latest failed
        attempt("S4", "T2", 1, at(2026, 3, 2, 9)),
        attempt("S5", "T2", 2, at(2026, 3, 2, 23, 59), failed=True, flow=flow),
        attempt("S6", "T2", 2, at(2026, 3, 2, 23, 59), failed=True),
    ]
    rows += [
        sync("S7", SyncStatus.FAILED, at(2026, 3, 4, 8), attempt_number=1),  # no trace key
        sync("S8", SyncStatus.FAILED, at(2026, 3, 4, 8), trace_key="", attempt_number=0),
        sync("S9", SyncStatus.RUNNING, at(2026, 3, 4, 9), trace_key="T3", attempt_number=1),
        sync(
            "S10",
            SyncStatus.FAILED,
            at(2026, 3, 4, 9),
            trace_key="T3",
            attempt_number=2,
            error_class=None,
            error_signature=None,
        ),
        # objects: a payment (dims through its invoice's project), an invoice, a missing one
        sync(
            "S11",
            SyncStatus.FAILED,
            at(2026, 3, 5, 9),
            trace_key="T4",
            object_system=ERP,
            object_type=T.PAYMENT,
            object_key="PAY1",
            error_class=ErrorClass.AUTH,
            error_signature="",
        ),
        sync(
            "S12",
            SyncStatus.SUCCESS,
            at(2026, 3, 5, 9),
            trace_key="T5",
            object_system=ERP,
            object_type=T.INVOICE,
            object_key="IV9",
        ),
        sync(
            "S13",
            SyncStatus.SUCCESS,
            at(2026, 3, 5, 9),
            trace_key="T5",
            object_system=ERP,
            object_type=T.INVOICE,
            object_key="NOT-STORED",
        ),
        sync(
            "S14",
            SyncStatus.FAILED,
            at(2026, 3, 5, 9),
            trace_key="T6",
            object_system=PSA,
            object_type=T.WORK_ITEM,
            object_key="W8",
        ),
        sync(
            "S15",
            SyncStatus.SUCCESS,
            at(2026, 3, 5, 10),
            trace_key="T6",
            object_system=PSA,
            object_type=T.PROJECT,
            object_key="P2",
        ),
    ]
    return Batch(sync_attempts=rows)


@pytest.fixture
def edge_store(engine: Engine) -> Engine:
    for batch in (handoff_cases(), billing_cases(), sync_cases()):
        write_batch(engine, batch)
    return engine


def test_columnar_rebuild_equals_the_builders_on_edge_cases(edge_store: Engine) -> None:
    rows = assert_same(edge_store)
    assert all(rows[t] for t in FACT_TABLES)
    with edge_store.connect() as conn:
        assert pending.queued(conn) == 0


def test_columnar_rebuild_replaces_the_previous_rows(edge_store: Engine) -> None:
    reference = assert_same(edge_store)
    rebuild_case_facts(edge_store)  # again, over its own rows
    assert facts(edge_store) == reference


def test_columnar_rebuild_of_an_empty_store(engine: Engine) -> None:
    report = rebuild_case_facts(engine)
    assert report.rows == 0
    assert facts(engine) == {t: [] for t in FACT_TABLES}


def test_refresh_pending_serves_a_backfill_with_one_columnar_rebuild(
    edge_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = metrics.facts._columnar

    def spy(conn: Any) -> int:
        rows = real(conn)
        calls.append(rows)
        return rows

    with edge_store.connect() as conn:
        queued = pending.queued(conn)
    monkeypatch.setattr(metrics.facts, "_columnar", spy)
    monkeypatch.setattr(metrics.facts, "BACKFILL_CASES", queued - 1)
    report = refresh_pending(edge_store, chunk=3)
    assert calls and report.cases == queued and report.rows == calls[0]
    columnar = facts(edge_store)
    rebuild_case_facts(edge_store, columnar=False)
    assert columnar == facts(edge_store)
    assert columnar["case_handoffs"] and columnar["sync_traces"]
    # below the threshold the queue goes case by case
    write_batch(edge_store, merge(deal("N1"), stage("N1", A.DEAL_WON, D)))
    assert refresh_pending(edge_store).cases == 1 and len(calls) == 1


@pytest.mark.slow
def test_columnar_rebuild_equals_the_builders_on_the_demo_year(engine: Engine) -> None:
    from collectors.demo_estate.server import DemoEstateServer
    from collectors.demo_estate.simulate import simulate
    from tests.collectors.conftest import TOKEN

    with DemoEstateServer(simulate(seed=7), TOKEN, rate_limit=None) as server:
        _collect(engine, server, uuid.uuid4().hex[:8])
    rows = assert_same(engine)
    assert all(rows[t] for t in FACT_TABLES)


def test_columnar_rebuild_scans_the_store_in_place(
    edge_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a database file or server DuckDB reads the store itself: no row through Python."""
    from metrics.facts import arrow_io

    def refuse(*_: Any) -> None:
        raise AssertionError("the store was read through Python")

    monkeypatch.setattr(arrow_io, "load", refuse)
    assert_same(edge_store)


def test_columnar_rebuild_of_an_in_memory_sqlite_store() -> None:
    """DuckDB cannot open an in-memory SQLite database: it is read through the connection."""
    from store.db import make_engine
    from store.migrate import upgrade

    engine = make_engine("sqlite://")
    upgrade(engine)
    for batch in (handoff_cases(), billing_cases(), sync_cases()):
        write_batch(engine, batch)
    rows = assert_same(engine)
    assert all(rows[t] for t in FACT_TABLES)
    engine.dispose()


def test_columnar_rebuild_repairs_rows_that_differ(edge_store: Engine) -> None:
    """Over facts that are partly stale, missing or extra, only the difference is written and
    the result is the builders' rows again."""
    reference = assert_same(edge_store)
    with edge_store.begin() as conn:
        conn.execute(text("UPDATE case_handoffs SET owner = 'someone else', projects = 9"))
        conn.execute(
            text(
                "DELETE FROM case_invoices WHERE invoice_id IN "
                "(SELECT min(invoice_id) FROM case_invoices)"
            )
        )
        conn.execute(text("UPDATE case_work_items SET billed_at = NULL, amount = amount + 1"))
        conn.execute(
            text("INSERT INTO case_dimensions (dimension, value) VALUES ('customer', 'Ghost')")
        )
        conn.execute(text("DELETE FROM sync_traces"))
    rebuild_case_facts(edge_store)
    assert facts(edge_store) == reference


def test_a_transaction_that_wrote_is_rebuilt_as_it_sees_the_store(edge_store: Engine) -> None:
    """DuckDB sees the committed store: a transaction that has itself written to the tables
    the rebuild reads or replaces is read and written through its own connection."""
    reference = assert_same(edge_store)
    with edge_store.begin() as conn:
        conn.execute(text("DELETE FROM case_handoffs"))
        conn.execute(text("UPDATE case_invoices SET amount = 0"))
        rebuild_case_facts(conn)
    assert facts(edge_store) == reference


def test_columnar_rebuild_of_the_sync_traces_in_parts(
    edge_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync traces are aggregated in parts of the keys (memory per part): same rows."""
    from metrics.facts import columnar_sql

    monkeypatch.setattr(columnar_sql, "TRACE_PART_ROWS", 2)
    rows = assert_same(edge_store)
    assert len(rows["sync_traces"]) > 2
