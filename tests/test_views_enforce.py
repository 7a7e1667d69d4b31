"""Every read a page makes goes through a view that scopes and masks it (`metrics.views.guard`).

Structure: the pages and the dashboard's shared code (`throughline/ui/`) read the store only
through declared views — any function they import from `metrics` that takes the engine is one,
but for a short list of reads that return no record — and never touch SQL themselves.

Behaviour: every declared view, called on a store seeded with sentinel records of two practices
as every role and as PMOs limited to one practice and to none, returns nothing of a practice
outside the visitor's scope and no sentinel value the role must not see — in the result and in
the CSV and Excel files made from its tables — or refuses (`AccessDenied`) when the role opens
none of the view's pages.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from foundation.settings import Settings
from metrics.facts import write_and_refresh
from metrics.slo.service import board_frame
from metrics.views import admin, common, guard, handoffs, invoices, overview, slos
from metrics.views import sync as sync_views
from metrics.views import trace as trace_views
from metrics.views.access import ANONYMOUS, Access
from metrics.views.common import ViewConfig, period_filters
from metrics.views.export import csv_bytes, excel_bytes
from metrics.views.guard import VIEWS, AccessDenied, is_view
from metrics.views.unbilled import unbilled_view
from store.canonical import Activity, Batch, ErrorClass, SyncAttemptRow, SyncStatus
from store.tables import Object, SyncAttempt
from tests.metrics.builders import at, deal, invoice, merge, project, stage, work

ROOT = Path(__file__).resolve().parents[1]
IN, OUT = "Cloud", "Strategy"
#: Values of the out-of-scope practice: none may reach a PMO limited to `IN`.
OUT_OF_SCOPE = ("D-STRAT-7Q", "P-STRAT-7Q", "I-STRAT-7Q", "Zanzibar Strategy Holdings")
#: Values of the in-scope practice: none may reach a PMO limited to no practice.
IN_SCOPE = ("D-CLOUD-4K", "P-CLOUD-4K", "I-CLOUD-4K", "Cirrus Cloudworks")
EMAIL = "vera.owner@firm.example"
IBAN, VAT, EIN = "GB82 WEST 1234 5698 7654 32", "DE136695976", "12-3456789"
CARD, TOKEN = "5555-5555-5555-4444", "ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ"
PROTECTED_TEXT = f"contact {EMAIL}; IBAN {IBAN}; VAT {VAT}; EIN {EIN}; card {CARD}; key {TOKEN}"
#: Sentinels by the kind of value a role may or may not see ("never": removed before storage).
SENTINELS = {"email": (EMAIL,), "bank": (IBAN,), "tax_id": (VAT, EIN), "never": (CARD, TOKEN)}
VISITORS = {
    "pmo limited to Cloud": Access("pmo", "p1", (IN,), subject="p1"),
    "pmo without practices": Access("pmo", "p2", (), subject="p2"),
    "cfo": Access("cfo", "c1", subject="c1"),
    "support": Access("support", "s1", subject="s1"),
    "admin": Access("admin", "a1", subject="a1"),
}
#: Reads of the store the dashboard makes outside views: none returns a record.
NOT_RECORDS = {
    "store.clock.data_version": "a version string of the run log",
    "metrics.views.common.freshness": "collector run times and names",
    "store.clock.reporting_time": "the reporting clock",
    "store.migrate.current_revision": "the schema revision",
    "store.migrate.head_revision": "the schema revision",
    "store.db.make_engine": "makes the engine",
    "metrics.views.audit.logged": "whether the visitor's own sign-in is logged",
    "metrics.views.audit.last_role": "the visitor's own previous role",
    "metrics.views.audit.record_for": "writes the visitor's own audit entry",
    "metrics.views.audit.record": "writes an audit entry (a refused or ended sign-in)",
}
DASHBOARD = [
    *sorted((ROOT / "pages").glob("*.py")),
    *sorted((ROOT / "throughline" / "ui").glob("*.py")),
]


# --- structure -------------------------------------------------------------------------------


def imported_from_metrics(path: Path) -> Iterator[tuple[str, Any]]:
    """``(qualified name, object)`` of everything `path` imports from ``metrics``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("metrics"):
            module = __import__(node.module or "", fromlist=["_"])
            for alias in node.names:
                found = getattr(module, alias.name)
                if inspect.ismodule(found):  # `from metrics import audit`: its functions used
                    for attr in attributes_used(tree, alias.asname or alias.name):
                        yield f"{found.__name__}.{attr}", getattr(found, attr)
                else:
                    yield f"{node.module}.{alias.name}", found


def attributes_used(tree: ast.AST, name: str) -> set[str]:
    return {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == name
    }


def reads_the_store(fn: Any) -> bool:
    """Whether `fn` is a function that takes the engine (or a connection)."""
    if not callable(fn) or inspect.isclass(fn):
        return False
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return any(
        name in ("engine", "target", "conn") or "Engine" in str(p.annotation)
        for name, p in parameters.items()
    )


@pytest.mark.parametrize("path", DASHBOARD, ids=lambda p: p.name)
def test_the_dashboard_reads_the_store_only_through_views(path: Path) -> None:
    unguarded = [
        name
        for name, fn in imported_from_metrics(path)
        if reads_the_store(fn) and not is_view(fn) and name not in NOT_RECORDS
    ]
    assert not unguarded, f"{path.name} reads the store outside a view: {unguarded}"


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_a_page_holds_no_sql_and_never_uses_the_engine_itself(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {
        (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert not {m for m in modules if m.startswith(("sqlalchemy", "store.tables", "psycopg"))}
    engine_used = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Call)
        and ast.unparse(n.value.func) == "ui.engine"
    ]
    assert not engine_used, f"{path.name} uses the engine directly: {engine_used}"


def test_every_view_takes_the_visitors_access_first_and_refuses_a_call_without_it() -> None:
    assert len(VIEWS) >= 15
    for name, fn in VIEWS.items():
        first = next(iter(inspect.signature(fn).parameters))
        assert first == "access", name
    with pytest.raises(TypeError, match="Access"):
        trace_views.find_cases(None, None, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="access first"):
        guard.view()(lambda engine: engine)


# --- behaviour on sentinel records -----------------------------------------------------------


@dataclasses.dataclass
class Seeded:
    engine: Engine
    config: ViewConfig
    as_of: datetime
    ids: dict[str, int]


def case(key: str, practice: str, customer: str) -> Batch:
    """A won deal, its project (created 3 days later), a billable work item and an invoice."""
    won = at(2026, 9, 1, 9)
    return merge(
        deal(f"D-{key}", practice=practice, customer=customer),
        stage(f"D-{key}", Activity.DEAL_WON, won),
        project(
            f"P-{key}", f"D-{key}", won + timedelta(days=3), practice=practice, customer=customer
        ),
        work(
            f"W-{key}",
            f"P-{key}",
            "800",
            "USD",
            won.date() + timedelta(days=5),
            approved=won + timedelta(days=6),
            logged=won + timedelta(days=5),
        ),
        invoice(
            f"I-{key}",
            f"P-{key}",
            "900",
            created=won + timedelta(days=20),
            posted=won + timedelta(days=22),
            period_end=(won + timedelta(days=10)).date(),
        ),
    )


def failing(key: str, deal_key: str, message: str, payload: dict[str, Any]) -> SyncAttemptRow:
    return SyncAttemptRow(
        "ipaas",
        key,
        "crm-psa",
        "crm-psa/project_provisioning",
        SyncStatus.FAILED,
        at(2026, 9, 2, 10),
        attempt_number=1,
        error_class=ErrorClass.VALIDATION,
        error_message=message,
        error_signature="customer <id> rejected",
        trace_key=f"T-{key}",
        object_system="crm",
        object_type="deal",
        object_key=deal_key,
        payload=payload,
    )


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    stuck = deal("D-STUCK-STRAT-7Q", practice=OUT, customer=OUT_OF_SCOPE[3])
    batch = merge(
        case("CLOUD-4K", IN, IN_SCOPE[3]),
        case("STRAT-7Q", OUT, OUT_OF_SCOPE[3]),
        stuck,
        stage("D-STUCK-STRAT-7Q", Activity.DEAL_WON, at(2026, 9, 20, 9)),
    )
    owner = dataclasses.replace(batch.objects[0], owner=EMAIL)
    batch.objects[0] = owner
    batch.sync_attempts.extend(
        [
            failing("A-C", "D-CLOUD-4K", f"customer rejected: {PROTECTED_TEXT}", {"note": EMAIL}),
            failing(
                "A-S", "D-STRAT-7Q", f"customer {OUT_OF_SCOPE[3]} rejected", {"x": "D-STRAT-7Q"}
            ),
        ]
    )
    write_and_refresh(engine, batch)
    with engine.connect() as conn:
        ids = {key: int(i) for key, i in conn.execute(select(Object.source_key, Object.id)).all()}
        ids.update(
            {key: int(i) for key, i in conn.execute(select(SyncAttempt.source_key, SyncAttempt.id))}
        )
    config = ViewConfig(settings=Settings(), source_urls={"crm": "http://crm.example"})
    return Seeded(engine, config, at(2026, 10, 15), ids)


def calls(s: Seeded) -> dict[str, Callable[[Access], Any]]:
    """One call of every view, by the name `VIEWS` knows it by."""
    f = period_filters(at(2026, 8, 1).date(), at(2026, 10, 14).date())
    e, c, t = s.engine, s.config, s.as_of
    slo_board = board_frame([])

    def name(fn: Any) -> str:
        return next(k for k, v in VIEWS.items() if v is fn)

    out: dict[str, Callable[[Access], Any]] = {
        name(overview.board): lambda a: overview.board(a, e, c, f, t, slo_board, top=50),
        name(invoices.invoice_view): lambda a: invoices.invoice_view(a, e, c, f, t),
        name(handoffs.handoff_view): lambda a: handoffs.handoff_view(a, e, c, f, t),
        name(handoffs.action_history): lambda a: [
            handoffs.action_history(a, e, "deal", s.ids[k]) for k in ("D-STRAT-7Q", "D-CLOUD-4K")
        ],
        name(unbilled_view): lambda a: unbilled_view(a, e, c, f, t, "customer"),
        name(sync_views.sync_view): lambda a: sync_views.sync_view(a, e, c, f, t),
        name(sync_views.failed_attempts): lambda a: sync_views.failed_attempts(
            a, e, f, sync_views.AttemptQuery()
        ),
        name(sync_views.attempt_lineage): lambda a: [
            sync_views.attempt_lineage(a, e, s.ids[k]) for k in ("A-S", "A-C")
        ],
        name(trace_views.find_cases): lambda a: [
            trace_views.find_cases(a, e, text) for text in ("7Q", "4K", "Zanzibar", "Cirrus")
        ],
        name(trace_views.case_trace): lambda a: [
            trace_views.case_trace(a, e, c, type_, key, t)
            for type_, key in (
                ("deal", "D-STRAT-7Q"),
                ("project", "P-STRAT-7Q"),
                ("invoice", "I-STRAT-7Q"),
                ("deal", "D-CLOUD-4K"),
            )
        ],
        name(trace_views.case_of_object): lambda a: [
            trace_views.case_of_object(a, e, s.ids[k]) for k in ("D-STRAT-7Q", "W-CLOUD-4K")
        ],
        name(admin.collectors_view): lambda a: admin.collectors_view(a, e, c),
        name(common.dimensions): lambda a: common.dimensions(a, e),
        name(slos.slo_views): lambda a: slos.slo_views(a, e, c.settings, t, {}),
        name(slos.alert_history): lambda a: slos.alert_history(a, e),
        name(admin.request_run): lambda a: admin.request_run(a, e, "demo_crm"),
        name(handoffs.record_action): lambda a: record_on_both(a, s),
    }
    from metrics.views import audit

    out[name(audit.audit_log)] = lambda a: audit.audit_log(a, e)
    return out


def record_on_both(access: Access, s: Seeded) -> list[str]:
    """Try a note on a deal of each practice; the practices whose deal was refused."""
    refused = []
    for practice, key in ((OUT, "D-STRAT-7Q"), (IN, "D-CLOUD-4K")):
        try:
            handoffs.record_action(
                access,
                s.engine,
                case_type="deal",
                case_id=s.ids[key],
                case_key=key,
                action="note",
                actor="typed name",
                note=f"looked at {key}",
            )
        except handoffs.ActionRefused:
            refused.append(practice)
    return refused


def as_text(value: Any) -> str:
    """Everything a visitor could see of a view's result, including its exported files."""
    if isinstance(value, pd.DataFrame):
        return value.to_csv() + csv_bytes(value).decode("utf-8-sig") + excel_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return " ".join(as_text(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return " ".join(f"{k} {as_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " ".join(as_text(v) for v in value)
    return str(value)


def excel_text(frame: pd.DataFrame) -> str:
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(frame)))
    return " ".join(str(c.value) for row in book.active.iter_rows() for c in row)


def test_every_view_has_a_sentinel_check(seeded: Seeded) -> None:
    assert set(calls(seeded)) == set(VIEWS), "a view without a call here is not checked"


@pytest.mark.parametrize("visitor", list(VISITORS))
def test_no_view_shows_a_record_outside_the_scope_or_a_value_the_role_must_not_see(
    seeded: Seeded, visitor: str
) -> None:
    access = VISITORS[visitor]
    leaks: list[str] = []
    refused: list[str] = []
    for view_name, call in sorted(calls(seeded).items()):
        pages = VIEWS[view_name].pages  # type: ignore[attr-defined]
        if pages and not any(access.can_open(p) for p in pages):
            with pytest.raises(AccessDenied):
                call(access)
            refused.append(view_name)
            continue
        text = as_text(call(access))
        forbidden = [
            *(OUT_OF_SCOPE if access.practices is not None else ()),
            *(IN_SCOPE if access.practices == () else ()),
            *(
                s
                for kind, values in SENTINELS.items()
                if kind == "never" or not access.sees(kind)  # type: ignore[arg-type]
                for s in values
            ),
        ]
        leaks += [f"{view_name}: {value}" for value in forbidden if value in text]
    assert not leaks, f"{visitor} sees what it must not: {leaks}"
    assert access.role != "admin" or not refused


def test_a_pmo_limited_to_a_practice_finds_and_traces_only_its_cases(seeded: Seeded) -> None:
    pmo = VISITORS["pmo limited to Cloud"]
    e, c, t = seeded.engine, seeded.config, seeded.as_of
    assert trace_views.case_trace(pmo, e, c, "deal", "D-STRAT-7Q", t) is None
    mine = trace_views.case_trace(pmo, e, c, "deal", "D-CLOUD-4K", t)
    assert mine is not None and set(mine.objects["practice"].dropna()) == {IN}
    assert list(trace_views.find_cases(pmo, e, "7Q")["source_key"]) == []
    found = trace_views.find_cases(ANONYMOUS, e, "7Q")
    assert set(found["source_key"]) == {
        "D-STRAT-7Q",
        "P-STRAT-7Q",
        "I-STRAT-7Q",
        "D-STUCK-STRAT-7Q",
    }
    assert record_on_both(pmo, seeded) == [OUT]
    assert record_on_both(VISITORS["pmo without practices"], seeded) == [OUT, IN]
    queue = handoffs.handoff_view(pmo, e, c, period_filters(at(2026, 8, 1).date(), t.date()), t)
    assert list(queue.queue["deal_key"]) == []
    everyone = handoffs.handoff_view(
        ANONYMOUS, e, c, period_filters(at(2026, 8, 1).date(), t.date()), t
    )
    assert list(everyone.queue["deal_key"]) == ["D-STUCK-STRAT-7Q"]
    assert common.dimensions(pmo, e).customers == (IN_SCOPE[3],)
    assert common.dimensions(pmo, e).practices == (IN,)


def test_the_support_role_reads_failed_attempts_with_e_mail_addresses_masked(
    seeded: Seeded,
) -> None:
    support = VISITORS["support"]
    f = period_filters(at(2026, 8, 1).date(), at(2026, 10, 14).date())
    attempts = sync_views.failed_attempts(support, seeded.engine, f, sync_views.AttemptQuery())
    message = attempts.set_index("trace_key").loc["T-A-C", "error_message"]
    assert (
        message == "customer rejected: contact ***; IBAN ***; VAT ***; EIN ***; card ***; key ***"
    )
    lineage = sync_views.attempt_lineage(support, seeded.engine, seeded.ids["A-C"])
    assert lineage is not None and EMAIL not in as_text(lineage)
    assert lineage.payload == {"note": "***"}  # support sees payloads, masked as stored
