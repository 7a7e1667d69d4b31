"""Who is visiting: the sign-in, no-access and session-ended pages, the visitor's access on
this run, the notice shown when nobody signs in, and one audit entry per sign-in (per ID token).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import streamlit as st

from foundation.settings import get_settings
from metrics.views import audit
from metrics.views.access import ANONYMOUS, Access, access_from_claims, session_end
from throughline.ui.data import engine
from throughline.ui.text import safe

DEMO_NOTICE = "🔓 Demo mode: no sign-in; every visitor sees all data."
OPEN_NOTICE = "🔓 Sign-in is off (auth.allow_anonymous): every visitor sees all data."


def notice() -> str:
    """The line every page shows when nobody signs in."""
    return DEMO_NOTICE if get_settings().demo_mode else OPEN_NOTICE


def _claims() -> dict[str, Any] | None:
    """The signed-in user's ID-token claims (None when nobody is signed in)."""
    if not st.user.is_logged_in:
        return None
    return dict(st.user.to_dict())


def gate() -> Access:
    """Who is visiting. With sign-in configured, a visitor not signed in gets the sign-in page
    and one whose claims map to no role the no-access page (the run stops there); without it,
    the demo (or `auth.allow_anonymous`) lets everyone in and any other set-up refuses."""
    settings = get_settings()
    if not settings.auth.configured:
        if not (settings.demo_mode or settings.auth.allow_anonymous):
            st.error(
                "Sign-in is not configured. Set THROUGHLINE_AUTH__SERVER_METADATA_URL and "
                "THROUGHLINE_AUTH__CLIENT_ID (and the OIDC secrets), or allow anonymous access "
                "explicitly with THROUGHLINE_AUTH__ALLOW_ANONYMOUS=true.",
                icon="🔒",
            )
            st.stop()
        return _remember(ANONYMOUS)
    claims = _claims()
    if claims is None:
        st.title("Throughline")
        st.write("Sign in with your company account to see where quote-to-cash handoffs stall.")
        st.button("Sign in", on_click=st.login, type="primary", icon="🔑")
        st.stop()
    ended = session_end(claims, time.time(), settings.auth.max_session_hours)
    if ended is not None:
        _session_ended(claims, ended)
    who = access_from_claims(claims, settings.auth)
    if who is None:
        _audit_once(claims, "sign_in_refused", "no Throughline role in the token's claims")
        st.title("No access yet")
        st.warning(
            f"You are signed in as {safe(claims.get('email') or claims.get('sub'))}, but your "
            "account has no Throughline role. Ask an administrator to give you one "
            "(cfo, pmo, support or admin).",
            icon="⛔",
        )
        st.button("Sign out", on_click=st.logout, icon="🚪")
        st.stop()
    _audit_sign_in(who, claims)
    return _remember(who)


def _session_ended(claims: Mapping[str, Any], why: str) -> None:
    """Stop the run on the "session ended" page: nothing is served until a new sign-in, whose
    token brings the roles and practices the provider gives now."""
    _audit_once(claims, "session_ended", why)
    st.session_state.pop("_access", None)
    st.title("Your session has ended")
    hours = get_settings().auth.max_session_hours
    st.info(
        f"A sign-in lasts until its token expires or {hours:g} hours, whichever comes first "
        f"({why}). Sign in again to go on.",
        icon="⏰",
    )
    st.button("Sign in again", on_click=st.login, type="primary", icon="🔑")
    st.stop()


def _audit_once(claims: Mapping[str, Any], action: audit.AuditAction, detail: str) -> None:
    """One audit entry per ID token for a refused or ended sign-in (not one per rerun)."""
    subject = str(claims.get("sub") or "")
    detail = f"{detail} (token issued at {claims.get('iat')})"
    marker = f"_audited_{action}"
    if st.session_state.get(marker) == detail:
        return
    if not audit.logged(engine(), subject, action, detail):
        user = str(claims.get("email") or claims.get("name") or subject)
        audit.record(engine(), user, "", action, detail, subject=subject)
    st.session_state[marker] = detail


def _remember(who: Access) -> Access:
    st.session_state["_access"] = who
    return who


def access() -> Access:
    """The visitor's access on this run (`gate` decides it once per run)."""
    found = st.session_state.get("_access")
    return found if isinstance(found, Access) else gate()


def _audit_sign_in(who: Access, claims: Mapping[str, Any]) -> None:
    """One audit entry per sign-in (per ID token), not per page view or browser tab."""
    token = f"{claims.get('sub', '')}@{claims.get('iat', '')}"
    if st.session_state.get("_signed_in") == token:
        return
    detail = f"signed in (token issued at {claims.get('iat')})"
    if not audit.logged(engine(), who.subject, "sign_in", detail):
        before = audit.last_role(engine(), who.subject)
        if before is not None and before != who.role:
            audit.record_for(engine(), who, "role_change", f"role {before} → {who.role}")
        audit.record_for(engine(), who, "sign_in", detail)
    st.session_state["_signed_in"] = token


def session_over() -> bool:
    """Whether the signed-in visitor's session ended since the page was drawn."""
    claims = _claims() if get_settings().auth.configured else None
    hours = get_settings().auth.max_session_hours
    return claims is not None and session_end(claims, time.time(), hours) is not None


def actor() -> str:
    """Who is acting: the signed-in user, else the demo visitor."""
    return access().user
