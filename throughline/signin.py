"""Sign-in set-up of the dashboard process: whether it may start, and the `[auth]` section
Streamlit's `st.login` reads, written to a private file that lives only while it runs (in the
`serve` process's run directory, see `foundation.rundir`)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from foundation.rundir import write_private
from foundation.settings import Settings

CLIENT_SECRET = "oidc_client_secret"
COOKIE_SECRET = "oidc_cookie_secret"


def refusal(settings: Settings) -> str | None:
    """Why the dashboard must not start with these settings (None: it may)."""
    if settings.auth.configured:
        if CLIENT_SECRET not in settings.secrets:
            return (
                "sign-in is configured but the client secret is missing: set "
                f"THROUGHLINE_SECRETS__{CLIENT_SECRET.upper()}"
            )
        return None
    if settings.demo_mode or settings.auth.allow_anonymous:
        return None
    return (
        "refusing to serve finance data without sign-in: configure OpenID Connect "
        "(THROUGHLINE_AUTH__SERVER_METADATA_URL, THROUGHLINE_AUTH__CLIENT_ID, "
        f"THROUGHLINE_SECRETS__{CLIENT_SECRET.upper()}) or set "
        "THROUGHLINE_AUTH__ALLOW_ANONYMOUS=true to let everyone in as admin"
    )


def redirect_uri(settings: Settings) -> str:
    """Where the provider sends the browser back to (Streamlit's callback route)."""
    return settings.auth.redirect_uri or (
        f"http://localhost:{settings.dashboard_port}/oauth2callback"
    )


def write_streamlit_secrets(settings: Settings, directory: Path) -> Path:
    """Streamlit's `[auth]` secrets for `st.login`, readable by this user only. The cookie
    secret is generated per start unless configured (sessions then end with a restart)."""
    auth = settings.auth
    cookie = settings.secrets.get(COOKIE_SECRET)
    values = {
        "redirect_uri": redirect_uri(settings),
        "cookie_secret": cookie.get_secret_value() if cookie else secrets.token_urlsafe(32),
        "client_id": auth.client_id or "",
        "client_secret": settings.secrets[CLIENT_SECRET].get_secret_value(),
        "server_metadata_url": auth.server_metadata_url or "",
        "client_kwargs": {"scope": "openid email profile"},
    }
    lines = ["[auth]"]
    for key, value in values.items():
        if isinstance(value, dict):
            inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inline} }}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return write_private(directory / "secrets.toml", "\n".join(lines) + "\n")
