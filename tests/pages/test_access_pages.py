"""Sign-in on the pages: the sign-in and no-access pages, what each role may open, practice
scoping and masking as drawn (the claims stand in for a signed-in Streamlit user; the real
OpenID Connect round trip is in tests/browser/test_signin_browser.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from foundation import settings as settings_module
from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.handoffs import handoff_view
from tests.pages.conftest import (
    APP,
    TIMEOUT,
    Store,
    no_errors,
    open_app,
    open_page,
    table,
    table_starting,
)
from throughline import ui
from throughline.ui import visitor

TRACE = "pages/case_trace.py"
OWNER = "vera.schulz@firm.example"


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function that signs a visitor in with claims (None: nobody signed in)."""
    monkeypatch.delenv("THROUGHLINE_AUTH__ALLOW_ANONYMOUS", raising=False)
    monkeypatch.setenv("THROUGHLINE_AUTH__SERVER_METADATA_URL", "http://127.0.0.1:9/.well-known")
    monkeypatch.setenv("THROUGHLINE_AUTH__CLIENT_ID", "throughline")
    monkeypatch.setenv("THROUGHLINE_SECRETS__OIDC_CLIENT_SECRET", "not-used-by-apptest")
    settings_module.get_settings.cache_clear()

    def sign_in(claims: dict[str, Any] | None) -> None:
        """Claims of a fresh ID token (issued now, valid an hour) unless they say otherwise."""
        now = int(time.time())
        fresh = None if claims is None else {"iat": now, "exp": now + 3600, **claims}
        monkeypatch.setattr(visitor, "_claims", lambda: fresh)

    yield sign_in
    settings_module.get_settings.cache_clear()


def test_a_visitor_not_signed_in_gets_the_sign_in_page_only(demo: Store, signed_in: Any) -> None:
    signed_in(None)
    at = open_app()
    no_errors(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert at.title[0].value == "Throughline" and not at.dataframe and not at.metric


def test_a_user_without_a_mapped_role_gets_the_no_access_page(demo: Store, signed_in: Any) -> None:
    signed_in({"sub": "u-9", "email": "guest@firm.example", "roles": ["viewer"]})
    at = open_app()
    assert at.title[0].value == "No access yet"
    assert "guest@firm\\.example" in at.warning[0].value and not at.metric


def test_without_sign_in_a_non_demo_dashboard_refuses(
    demo: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THROUGHLINE_AUTH__ALLOW_ANONYMOUS")
    settings_module.get_settings.cache_clear()
    at = open_app()
    assert "Sign-in is not configured" in at.error[0].value and not at.metric
    monkeypatch.setenv("THROUGHLINE_AUTH__ALLOW_ANONYMOUS", "true")
    settings_module.get_settings.cache_clear()
    at = open_app()
    no_errors(at)
    assert any("Sign-in is off" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("pmo", "pages/handoffs.py", "pages/sync_errors.py"),
        ("support", "pages/sync_errors.py", "pages/unbilled.py"),
        ("cfo", "pages/unbilled.py", "pages/audit.py"),
    ],
)
def test_each_role_opens_its_pages_and_a_forbidden_one_refuses(
    demo: Store, signed_in: Any, role: str, allowed: str, refused: str
) -> None:
    signed_in({"sub": f"{role}-1", "email": f"{role}@firm.example", "roles": [role]})
    at = open_page(allowed)
    no_errors(at)
    assert any(f"role: {role}" in c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        open_page(refused)  # not in this role's navigation; and the page itself refuses:
    key = next(k for k, path in ui.PAGES.items() if path == refused)
    assert f'ui.ensure_entrypoint("{key}")' in (APP.parent / refused).read_text()
    at = AppTest.from_string(
        "import streamlit as st\nfrom throughline import ui\n"
        f"with ui.entrypoint():\n    ui.ensure_entrypoint({key!r})\n    st.metric('secret', 1)\n",
        default_timeout=TIMEOUT,
    ).run()
    assert f"Your role ({role}) cannot open this page" in at.error[0].value
    assert not at.metric


def test_a_pmo_limited_to_a_practice_sees_only_its_handoffs(demo: Store, signed_in: Any) -> None:
    everyone = handoff_view(ADMIN, demo.engine, demo.config, demo.filters(), demo.as_of).queue
    practice = everyone["practice"].value_counts().index[0]
    signed_in({"sub": "p-1", "roles": "pmo", "practices": [practice]})
    at = open_page("pages/handoffs.py")
    no_errors(at)
    assert at.multiselect(key="f_practice").options == [practice]
    queue = table(at, "queue")
    assert len(queue) == (everyone["practice"] == practice).sum() < len(everyone)
    assert set(queue["practice"]) == {practice}


@pytest.fixture
def owner_with_email(writable_demo: Store) -> str:
    """A deal of the store whose owner is an e-mail address; its key."""
    with writable_demo.engine.begin() as conn:
        key = conn.execute(
            text(
                "SELECT source_key FROM objects WHERE type = 'deal' AND owner IS NOT NULL "
                "ORDER BY source_key LIMIT 1"
            )
        ).scalar_one()
        conn.execute(
            text("UPDATE objects SET owner = :o WHERE source_key = :k"), {"o": OWNER, "k": key}
        )
    return str(key)


@pytest.mark.parametrize(("role", "shown"), [("pmo", OWNER), ("support", "***")])
def test_e_mail_addresses_are_masked_for_roles_that_need_not_see_them(
    writable_demo: Store, owner_with_email: str, signed_in: Any, role: str, shown: str
) -> None:
    practices = [str(p) for p in writable_demo.filters_values("practice")]
    signed_in({"sub": f"{role}-2", "roles": role, "practices": practices})
    at = open_page(TRACE, {"case": f"deal:{owner_with_email}"})
    no_errors(at)
    objects = table_starting(at, "type", "source_system", "source_key")
    assert objects["owner"].iloc[0] == shown


def test_the_admin_reads_sign_ins_and_work_queue_actions_in_the_audit_log(
    writable_demo: Store, signed_in: Any
) -> None:
    issued = int(time.time()) - 30
    signed_in({"sub": "a-1", "email": "it@firm.example", "roles": "admin", "iat": issued})
    at = open_page("pages/audit.py")
    no_errors(at)
    assert at.title[0].value == "Audit log"
    log = table_starting(at, "at", "subject", "actor", "role", "action")
    signed = log[(log["action"] == "sign_in") & (log["subject"] == "a-1")]
    assert len(signed) == 1  # once, however many pages were drawn
    assert signed["actor"].iloc[0] == "it@firm.example"
    assert str(issued) in signed["detail"].iloc[0] and signed["role"].iloc[0] == "admin"


def audit_entries(store: Store, action: str) -> list[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT subject, role, detail FROM audit_log WHERE action = :a ORDER BY id"),
            {"a": action},
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 5}, "the sign-in expired"),
        ({"iat": int(time.time()) - 9 * 3600}, "older than 8 hours"),
        ({"iat": None}, "no issue or expiry time"),
    ],
)
def test_a_sign_in_ends_when_its_token_expires_or_after_eight_hours(
    writable_demo: Store, signed_in: Any, claims: dict[str, Any], why: str
) -> None:
    subject = f"c-{abs(hash(why))}"  # the module's store is shared: one subject per case
    signed_in({"sub": subject, "email": "cfo9@firm.example", "roles": "cfo", **claims})
    at = open_app()
    assert at.title[0].value == "Your session has ended"
    assert why in at.info[0].value and not at.metric and not at.dataframe
    assert [b.label for b in at.button] == ["Sign in again"]
    at.run()  # a rerun of the same ended session is audited once
    ended = [e for e in audit_entries(writable_demo, "session_ended") if e[0] == subject]
    assert len(ended) == 1 and why in ended[0][2]


def test_a_role_changed_at_the_provider_counts_at_the_next_sign_in_and_is_audited(
    writable_demo: Store, signed_in: Any
) -> None:
    now = int(time.time())
    signed_in({"sub": "u-42", "email": "u42@firm.example", "roles": "cfo", "iat": now - 60})
    no_errors(open_app())  # signed in as a CFO; the provider then makes them a PMO:
    signed_in({"sub": "u-42", "email": "u42@firm.example", "roles": "pmo", "practices": "Cloud"})
    at = open_app()
    no_errors(at)
    assert any("role: pmo" in c.value for c in at.sidebar.caption)
    assert audit_entries(writable_demo, "role_change") == [("u-42", "pmo", "role cfo → pmo")]


def test_a_sign_in_without_a_role_is_refused_and_audited(
    writable_demo: Store, signed_in: Any
) -> None:
    signed_in({"sub": "g-1", "email": "guest@firm.example", "roles": ["viewer"]})
    at = open_app()
    assert at.title[0].value == "No access yet"
    at.run()
    refused = audit_entries(writable_demo, "sign_in_refused")
    assert len(refused) == 1 and refused[0][:2] == ("g-1", "")
